#include "node/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "node/unique_fd.h"

namespace shoal::node {

namespace {

Status errno_status(std::string_view what, const std::filesystem::path& p, int err) {
  return Status::io_error(std::string(what) + " " + p.string() + ": " + std::strerror(err));
}

}  // namespace

Result<std::string> read_private_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) return Status::not_found("no " + path.string());
    return Status::permission_denied("cannot read " + path.string() + ": " + std::strerror(err));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

Status write_private_file(const std::filesystem::path& path, std::string_view data, bool sync) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (fd.get() < 0) return errno_status("cannot create", tmp, errno);
  // A temp file left by an older agent may carry a wider mode: O_CREAT does not change it.
  if (::fchmod(fd.get(), 0600) != 0) return errno_status("cannot chmod", tmp, errno);
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd.get(), data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status("cannot write", tmp, errno);
    done += static_cast<size_t>(n);
  }
  if (sync && ::fsync(fd.get()) != 0) return errno_status("cannot sync", tmp, errno);
  if (::rename(tmp.c_str(), path.c_str()) != 0) return errno_status("cannot rename to", path, errno);
  return {};
}

}  // namespace shoal::node
