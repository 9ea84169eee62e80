#include "node/artifacts/builder.h"

#include <stdlib.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <spdlog/spdlog.h>

#include "node/script_process.h"

namespace shoal::node {

namespace fs = std::filesystem;

namespace {

constexpr size_t kLineMax = 4096;
constexpr size_t kTailLines = 20;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out += "'\\''";
    else out += c;
  }
  return out + "'";
}

// Cuts a byte stream into lines for on_line, and keeps the last few for an error message.
class LineSplitter {
 public:
  explicit LineSplitter(std::function<void(std::string_view)>& on_line) : on_line_(on_line) {}
  void feed(std::string_view data) {
    for (char c : data) {
      if (c == '\n') {
        emit();
        continue;
      }
      partial_ += c;
      if (partial_.size() >= kLineMax) emit();
    }
  }
  void finish() {
    if (!partial_.empty()) emit();
  }
  uint64_t lines() const { return lines_; }
  std::string tail() const {
    std::string out;
    for (const auto& l : tail_) out += (out.empty() ? "" : "\n") + l;
    return out;
  }

 private:
  void emit() {
    if (!partial_.empty() && partial_.back() == '\r') partial_.pop_back();
    ++lines_;
    if (on_line_) on_line_(partial_);
    tail_.push_back(partial_);
    if (tail_.size() > kTailLines) tail_.pop_front();
    partial_.clear();
  }
  std::function<void(std::string_view)>& on_line_;
  std::string partial_;
  std::deque<std::string> tail_;
  uint64_t lines_ = 0;
};

// Gives the build's directory tree to `uid` (as uid and gid), and lets it through
// `work_dir` to reach it. Links are changed, never followed: an archive's symlink must not
// hand over what it points at.
Status hand_over(const fs::path& work_dir, const fs::path& tmp, int uid) {
  std::error_code ec;
  fs::permissions(work_dir, fs::perms::others_exec | fs::perms::group_exec,
                  fs::perm_options::add, ec);
  if (ec) {
    return Status::io_error("cannot open '" + work_dir.string() + "' to the build: " +
                            ec.message());
  }
  auto give = [uid](const fs::path& p) -> Status {
    if (::lchown(p.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(uid)) != 0) {
      return Status::io_error("cannot give '" + p.string() + "' to uid " + std::to_string(uid) +
                              ": " + std::strerror(errno));
    }
    return Status();
  };
  SHOAL_RETURN_IF_ERROR(give(tmp));
  for (fs::recursive_directory_iterator it(tmp, fs::directory_options::none, ec), end;
       !ec && it != end; it.increment(ec)) {
    SHOAL_RETURN_IF_ERROR(give(it->path()));
  }
  if (ec) return Status::io_error("cannot walk '" + tmp.string() + "': " + ec.message());
  return Status();
}

}  // namespace

Result<BuildResult> build_slug(ArtifactStore& store, const std::string& source_digest,
                               const std::string& build_command,
                               const std::vector<std::pair<std::string, std::string>>& env,
                               const fs::path& work_dir,
                               std::function<void(std::string_view line)> on_line,
                               Duration timeout, const ExtractLimits& limits, int uid,
                               const fs::path& cache_dir) {
  SHOAL_RETURN_IF_ERROR(check_digest(source_digest));
  if (!store.has(source_digest)) {
    return Status::not_found("source artifact " + source_digest + " is not in the store");
  }
  const auto start = steady_now();
  BuildResult result;
  if (build_command.empty()) {
    result.slug_digest = source_digest;
    return result;
  }
  auto kind = detect_kind(store.path(source_digest));
  if (!kind.ok()) return kind.status();
  if (*kind != ArtifactKind::tar_gz) {
    return Status::invalid_argument("a single executable has nothing to build: drop the build command");
  }

  std::error_code ec;
  fs::create_directories(work_dir, ec);
  if (ec) return Status::io_error("cannot create '" + work_dir.string() + "': " + ec.message());
  std::string tmpl = (work_dir / "build-XXXXXX").string();
  if (::mkdtemp(tmpl.data()) == nullptr) {
    return Status::io_error("cannot create a build directory in '" + work_dir.string() +
                            "': " + std::strerror(errno));
  }
  const fs::path tmp = tmpl;
  struct Cleanup {
    fs::path p;
    ~Cleanup() {
      std::error_code rm;
      fs::remove_all(p, rm);
    }
  } cleanup{tmp};

  const fs::path src = tmp / "src";
  const fs::path home = tmp / "home";
  SHOAL_RETURN_IF_ERROR(extract_archive(store.path(source_digest), src, limits));
  fs::create_directory(home, ec);
  if (ec) return Status::io_error("cannot create '" + home.string() + "': " + ec.message());
  if (uid >= 0) SHOAL_RETURN_IF_ERROR(hand_over(work_dir, tmp, uid));

  LineSplitter lines(on_line);
  ScriptLimits sl;
  sl.timeout = timeout;
  sl.stdout_max = 0;  // streamed through on_output instead
  sl.stderr_max = 4096;
  sl.slow_after = timeout;
  sl.on_output = [&](std::string_view data, bool) { lines.feed(data); };
  sl.uid = uid;
  sl.gid = uid;
  sl.inherit_environment = false;
  std::vector<std::pair<std::string, std::string>> build_env = {
      {"PATH", "/usr/local/bin:/usr/bin:/bin"},  // as an instance's
      {"LANG", "C.UTF-8"},
      {"HOME", home.string()}};
  if (!cache_dir.empty()) {
    // Kept between this app's builds: what pip, npm and go download or compile once.
    fs::create_directories(cache_dir, ec);
    if (ec) return Status::io_error("cannot create '" + cache_dir.string() + "': " + ec.message());
    fs::permissions(cache_dir.parent_path(), fs::perms::others_exec, fs::perm_options::add, ec);
    if (uid >= 0 && ::lchown(cache_dir.c_str(), static_cast<uid_t>(uid), static_cast<gid_t>(uid)) != 0) {
      return Status::io_error("cannot give '" + cache_dir.string() + "' to uid " + std::to_string(uid));
    }
    fs::permissions(cache_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
    const std::string c = cache_dir.string();
    for (auto kv : std::initializer_list<std::pair<const char*, std::string>>{
             {"SHOAL_CACHE_DIR", c}, {"PIP_CACHE_DIR", c + "/pip"}, {"npm_config_cache", c + "/npm"},
             {"GOCACHE", c + "/go-build"}, {"GOMODCACHE", c + "/go-mod"}}) {
      build_env.emplace_back(kv.first, kv.second);
    }
  }
  for (const auto& kv : env) build_env.push_back(kv);  // the manifest's win
  // stderr joins stdout inside the shell, so the two keep their order.
  const std::string script =
      "cd " + shell_quote(src.string()) + " || exit 125\nexec 2>&1\n" + build_command;
  spdlog::info("build-start source={} command=\"{}\"", source_digest.substr(0, 12), build_command);
  const ScriptRun run = run_script(script, build_env, "", sl);
  lines.finish();
  result.output_lines = lines.lines();
  if (!run.ok()) {
    std::string why = run.end == ScriptRun::End::exited
                          ? "failed with exit code " + std::to_string(run.exit_code)
                          : run.describe(sl);
    std::string tail = lines.tail();
    spdlog::warn("build-failed source={} why=\"{}\"", source_digest.substr(0, 12), why);
    return Status::failed_precondition("build command " + why +
                                       (tail.empty() ? "" : "; last output:\n" + tail));
  }

  const fs::path slug = tmp / "slug.tar.gz";
  PackOptions everything;
  everything.honour_ignore_file = false;
  SHOAL_RETURN_IF_ERROR(pack_directory(src, slug, nullptr, everything));
  auto digest = store.put_file(slug, /*move=*/true);
  if (!digest.ok()) return digest.status();
  result.slug_digest = *digest;
  result.built = true;
  result.took = steady_now() - start;
  spdlog::info("build-done source={} slug={} ms={} lines={}", source_digest.substr(0, 12),
               result.slug_digest.substr(0, 12), to_millis(result.took), result.output_lines);
  return result;
}

}  // namespace shoal::node
