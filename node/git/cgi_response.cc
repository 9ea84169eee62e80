#include "node/git/cgi_response.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace shoal::node::git {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) s.remove_suffix(1);
  return s;
}

bool same_name(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) ==
                  std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

Result<std::string_view> CgiResponse::feed(std::string_view piece) {
  if (done_) return piece;
  const size_t before = buf_.size();
  buf_.append(piece);
  // The block ends at the first empty line, "\n\n" or "\r\n\r\n".
  size_t end = std::string::npos, body_at = 0;
  for (size_t i = before > 3 ? before - 3 : 0; i < buf_.size(); ++i) {
    if (buf_[i] != '\n') continue;
    if (i + 1 < buf_.size() && buf_[i + 1] == '\n') {
      end = i;
      body_at = i + 2;
      break;
    }
    if (i + 2 < buf_.size() && buf_[i + 1] == '\r' && buf_[i + 2] == '\n') {
      end = i;
      body_at = i + 3;
      break;
    }
  }
  if (end == std::string::npos) {
    if (buf_.size() > kMaxHeaderBytes) {
      return Status::corruption("the CGI header block runs past " +
                                std::to_string(kMaxHeaderBytes) + " bytes");
    }
    return std::string_view();
  }
  if (Status s = parse(std::string_view(buf_).substr(0, end)); !s.ok()) return s;
  done_ = true;
  // What followed the blank line in this piece is body: it is the tail of `piece`.
  const size_t body_bytes = buf_.size() - body_at;
  return piece.substr(piece.size() - body_bytes);
}

Status CgiResponse::parse(std::string_view block) {
  while (!block.empty()) {
    const size_t nl = block.find('\n');
    std::string_view line = trim(block.substr(0, nl));
    block = nl == std::string_view::npos ? std::string_view() : block.substr(nl + 1);
    if (line.empty()) continue;
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      return Status::corruption("a CGI header line without a name: '" + std::string(line) + "'");
    }
    const std::string_view name = trim(line.substr(0, colon));
    const std::string_view value = trim(line.substr(colon + 1));
    if (same_name(name, "Status")) {
      int code = 0;
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), code);
      if (ec != std::errc() || code < 100 || code > 599) {
        return Status::corruption("a CGI Status header that is no HTTP status: '" +
                                  std::string(value) + "'");
      }
      status_ = code;
    } else if (same_name(name, "Content-Type")) {
      content_type_ = std::string(value);
    } else {
      headers_.emplace_back(std::string(name), std::string(value));
    }
  }
  return Status();
}

}  // namespace shoal::node::git
