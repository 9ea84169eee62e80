// tests/node/artifacts/artifact_test_util.h
//
// Shared by the [artifacts] tests: a temporary directory removed at the end, small file
// helpers, and a builder of hand-made (hostile) tar archives through libarchive.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace shoal::test {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "shoal-art-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp");
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  fs::path path_;
};

inline void write_file(const fs::path& p, const std::string& data, mode_t mode = 0644) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary | std::ios::trunc) << data;
  ::chmod(p.c_str(), mode);
}

inline std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Writes a tar.gz entry by entry, whatever the entries say (for hostile archives).
class TarWriter {
 public:
  explicit TarWriter(const fs::path& out, bool gzip = true) : a_(archive_write_new()) {
    if (gzip) archive_write_add_filter_gzip(a_);
    archive_write_set_format_pax_restricted(a_);
    if (archive_write_open_filename(a_, out.c_str()) != ARCHIVE_OK) {
      throw std::runtime_error("open tar for writing");
    }
  }
  ~TarWriter() { archive_write_free(a_); }
  TarWriter(const TarWriter&) = delete;
  TarWriter& operator=(const TarWriter&) = delete;

  TarWriter& file(const std::string& name, const std::string& data, mode_t mode = 0644) {
    archive_entry* e = entry(name, AE_IFREG, mode);
    archive_entry_set_size(e, static_cast<la_int64_t>(data.size()));
    archive_write_header(a_, e);
    archive_write_data(a_, data.data(), data.size());
    archive_entry_free(e);
    return *this;
  }
  TarWriter& dir(const std::string& name, mode_t mode = 0755) {
    archive_entry* e = entry(name, AE_IFDIR, mode);
    archive_write_header(a_, e);
    archive_entry_free(e);
    return *this;
  }
  TarWriter& symlink(const std::string& name, const std::string& target) {
    archive_entry* e = entry(name, AE_IFLNK, 0777);
    archive_entry_set_symlink(e, target.c_str());
    archive_write_header(a_, e);
    archive_entry_free(e);
    return *this;
  }
  TarWriter& hardlink(const std::string& name, const std::string& target) {
    archive_entry* e = entry(name, AE_IFREG, 0644);
    archive_entry_set_hardlink(e, target.c_str());
    archive_write_header(a_, e);
    archive_entry_free(e);
    return *this;
  }
  TarWriter& special(const std::string& name, unsigned type) {
    archive_entry* e = entry(name, type, 0644);
    archive_write_header(a_, e);
    archive_entry_free(e);
    return *this;
  }
  void close() { archive_write_close(a_); }

 private:
  archive_entry* entry(const std::string& name, unsigned type, mode_t mode) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, name.c_str());
    archive_entry_set_filetype(e, type);
    archive_entry_set_perm(e, mode);
    archive_entry_set_mtime(e, 1'700'000'000, 0);
    return e;
  }
  archive* a_;
};

}  // namespace shoal::test
