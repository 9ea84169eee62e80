#include "node/auth/admin_token.h"

#include "node/auth/token.h"
#include "node/private_file.h"

namespace shoal::node::auth {

Result<std::string> read_admin_token(const std::filesystem::path& file) {
  auto read = read_private_file(file);
  if (!read.ok()) return read.status();
  std::string text = std::move(*read);
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
  return write_private_file(file, token + "\n", /*sync=*/true);
}

Result<std::string> ensure_token_file(const std::filesystem::path& file) {
  auto text = read_admin_token(file);
  if (text.ok() || !text.status().is(Status::Code::not_found)) return text;
  const std::string fresh = token_text(generate_token());
  SHOAL_RETURN_IF_ERROR(write_admin_token(file, fresh));
  return fresh;
}

}  // namespace shoal::node::auth
