// tests/raft/fault_env.h
//
// FaultEnv: a leveldb::Env (over another one, usually a memenv) that can "lose power":
// drop_unsynced(dir) cuts every file in a directory back to what was last synced, as a disk
// cache would lose it. Used to check that the LevelDB log store keeps exactly what the core
// asked to sync. Call it only with the database in that directory closed. Not thread-safe beyond
// what LevelDB's own background thread needs (a mutex guards the bookkeeping).
#pragma once

#include <leveldb/env.h>

#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace shoal::raft::test {

class FaultEnv : public leveldb::EnvWrapper {
 public:
  explicit FaultEnv(leveldb::Env* base) : EnvWrapper(base) {}

  leveldb::Status NewWritableFile(const std::string& f, leveldb::WritableFile** r) override {
    return wrap(f, target()->NewWritableFile(f, r), r, /*append=*/false);
  }
  leveldb::Status NewAppendableFile(const std::string& f, leveldb::WritableFile** r) override {
    return wrap(f, target()->NewAppendableFile(f, r), r, /*append=*/true);
  }
  leveldb::Status RemoveFile(const std::string& f) override {
    std::lock_guard lock(mu_);
    files_.erase(f);
    return target()->RemoveFile(f);
  }
  leveldb::Status RenameFile(const std::string& from, const std::string& to) override {
    std::lock_guard lock(mu_);
    auto it = files_.find(from);
    if (it != files_.end()) {
      files_[to] = it->second;
      files_.erase(from);
    } else {
      files_.erase(to);
    }
    return target()->RenameFile(from, to);
  }

  // Cuts every file under `prefix` written through this Env back to its last synced length.
  void drop_unsynced(const std::string& prefix) {
    std::lock_guard lock(mu_);
    for (auto& [name, state] : files_) {
      if (name.rfind(prefix, 0) != 0 || state.synced == state.written) continue;
      std::string keep;
      leveldb::SequentialFile* in = nullptr;
      if (!target()->NewSequentialFile(name, &in).ok()) continue;
      std::unique_ptr<leveldb::SequentialFile> owned(in);
      std::string scratch(state.synced, '\0');
      leveldb::Slice got;
      if (state.synced > 0 && owned->Read(state.synced, &got, scratch.data()).ok()) {
        keep.assign(got.data(), got.size());
      }
      leveldb::WritableFile* out = nullptr;
      if (!target()->NewWritableFile(name, &out).ok()) continue;
      std::unique_ptr<leveldb::WritableFile> owned_out(out);
      (void)owned_out->Append(keep);
      (void)owned_out->Close();
      state.written = state.synced = keep.size();
    }
  }

 private:
  struct State {
    uint64_t written = 0;
    uint64_t synced = 0;
  };

  class File : public leveldb::WritableFile {
   public:
    File(FaultEnv* env, std::string name, leveldb::WritableFile* base)
        : env_(env), name_(std::move(name)), base_(base) {}
    leveldb::Status Append(const leveldb::Slice& data) override {
      leveldb::Status s = base_->Append(data);
      if (s.ok()) {
        std::lock_guard lock(env_->mu_);
        env_->files_[name_].written += data.size();
      }
      return s;
    }
    leveldb::Status Close() override { return base_->Close(); }
    leveldb::Status Flush() override { return base_->Flush(); }
    leveldb::Status Sync() override {
      leveldb::Status s = base_->Sync();
      if (s.ok()) {
        std::lock_guard lock(env_->mu_);
        auto& st = env_->files_[name_];
        st.synced = st.written;
      }
      return s;
    }

   private:
    FaultEnv* env_;
    std::string name_;
    std::unique_ptr<leveldb::WritableFile> base_;
  };

  leveldb::Status wrap(const std::string& f, leveldb::Status s, leveldb::WritableFile** r,
                       bool append) {
    if (!s.ok()) return s;
    {
      std::lock_guard lock(mu_);
      uint64_t size = 0;
      if (append) (void)target()->GetFileSize(f, &size);
      files_[f] = State{size, size};  // what existed before counts as synced
    }
    *r = new File(this, f, *r);
    return s;
  }

  std::mutex mu_;
  std::map<std::string, State> files_;
};

}  // namespace shoal::raft::test
