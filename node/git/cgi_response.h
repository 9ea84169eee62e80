// node/git/cgi_response.h
//
// CgiResponse: splits a CGI program's output (RFC 3875 section 6) into its header block and
// its body, as the output arrives in pieces: "Status: 403 Forbidden", "Content-Type: ..."
// and other header lines, a blank line, then the body.
//
// Contract: feed() returns the body bytes of the piece once the header block has ended
// (everything before stays buffered, at most kMaxHeaderBytes); headers_done() says when.
// A header block past the limit, a line without ':' or a bad Status is an error (the
// program is broken, not the client). Sans-IO; not thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace shoal::node::git {

class CgiResponse {
 public:
  static constexpr size_t kMaxHeaderBytes = 64 * 1024;

  // The body bytes in `piece` (empty while the headers are still coming), or an error.
  Result<std::string_view> feed(std::string_view piece);
  bool headers_done() const { return done_; }

  int status() const { return status_; }  // 200 unless a Status header said otherwise
  const std::string& content_type() const { return content_type_; }
  // The other headers, as sent.
  const std::vector<std::pair<std::string, std::string>>& headers() const { return headers_; }

 private:
  Status parse(std::string_view block);
  std::string buf_;
  bool done_ = false;
  int status_ = 200;
  std::string content_type_ = "application/octet-stream";
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace shoal::node::git
