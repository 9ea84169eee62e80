#include "node/auth/admin_token.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "node/auth/token.h"

namespace shoal::node::auth {

Result<std::string> read_admin_token(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) {
    const int err = errno;
    if (err == ENOENT) return Status::not_found("no " + file.string());
    return Status::permission_denied("cannot read " + file.string() + ": " + std::strerror(err));
  }
  std::stringstream ss;
  ss << in.rdbuf();
  std::string text = ss.str();
  const auto first = text.find_first_not_of(" \t\r\n");
  const auto last = text.find_last_not_of(" \t\r\n");
  text = first == std::string::npos ? "" : text.substr(first, last - first + 1);
  if (auto parts = parse_token(text); !parts.ok()) {
    return Status::invalid_argument(file.string() + " does not hold a token: " +
                                    parts.status().message());
  }
  return text;
}

Status write_admin_token(const std::filesystem::path& file, const std::string& token) {
  const std::string tmp = file.string() + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::io_error("cannot create " + tmp + ": " + std::strerror(errno));
  const std::string line = token + "\n";
  bool ok = ::fchmod(fd, 0600) == 0;  // whatever the umask or an older file's mode
  ok = ok && ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  ok = ok && ::fsync(fd) == 0;
  const int err = errno;
  ::close(fd);
  if (!ok) {
    ::unlink(tmp.c_str());
    return Status::io_error("cannot write " + tmp + ": " + std::strerror(err));
  }
  if (::rename(tmp.c_str(), file.c_str()) != 0) {
    return Status::io_error("cannot rename " + tmp + ": " + std::strerror(errno));
  }
  return Status();
}

Result<std::string> ensure_token_file(const std::filesystem::path& file) {
  auto text = read_admin_token(file);
  if (text.ok() || !text.status().is(Status::Code::not_found)) return text;
  const std::string fresh = token_text(generate_token());
  SHOAL_RETURN_IF_ERROR(write_admin_token(file, fresh));
  return fresh;
}

}  // namespace shoal::node::auth
