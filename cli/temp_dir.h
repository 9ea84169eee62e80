// cli/temp_dir.h
//
// TempDir: a fresh private directory under the system's temporary directory (TMPDIR, else
// /tmp), removed with everything in it when this goes away. For what a verb writes on its
// way to an upload (the packed app of `shoal deploy`, the archived commit of a git push).
#pragma once

#include <stdlib.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>

#include "base/status.h"

namespace shoal::cli {

struct TempDir {
  std::filesystem::path path;

  TempDir() = default;
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ec;
    if (!path.empty()) std::filesystem::remove_all(path, ec);
  }

  // Makes PREFIX-XXXXXX (mode 0700) and holds it; io_error naming why not.
  Status make(std::string_view prefix) {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / (std::string(prefix) + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return Status::io_error("cannot make a temporary directory: " +
                              std::string(std::strerror(errno)));
    }
    path = tmpl;
    return Status();
  }
};

}  // namespace shoal::cli
