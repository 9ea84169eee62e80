// node/private_file.h
//
// write_private_file(): replaces a file atomically (a temporary file beside it, then
// rename) with mode 0600 from the moment it exists, never writing through a symlink at the
// temporary's path. With `sync`, the data is on disk before the rename (tokens and
// credentials, which must survive a crash); without, it is only atomic (status files
// rewritten every few seconds).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

#include "base/status.h"

namespace shoal::node {

Status write_private_file(const std::filesystem::path& path, std::string_view data,
                          bool sync = false);

// The whole of a (small) file: not_found when it does not exist, permission_denied naming
// the file and why when it cannot be read (a token or key of another user's).
Result<std::string> read_private_file(const std::filesystem::path& path);

}  // namespace shoal::node
