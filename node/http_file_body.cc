#include "node/http_file_body.h"

#include <unistd.h>

#include <boost/asio/write.hpp>

#include <cerrno>
#include <memory>
#include <vector>

namespace shoal::node {

namespace net = boost::asio;
namespace beast = boost::beast;

namespace {

struct FileSend : std::enable_shared_from_this<FileSend> {
  beast::tcp_stream& stream;
  UniqueFd fd;
  uint64_t at;
  uint64_t left;
  std::chrono::steady_clock::duration timeout;
  std::function<void(beast::error_code)> done;
  std::vector<char> piece;

  FileSend(beast::tcp_stream& s, UniqueFd f, uint64_t first, uint64_t length,
           std::chrono::steady_clock::duration t, std::function<void(beast::error_code)> d)
      : stream(s), fd(std::move(f)), at(first), left(length), timeout(t), done(std::move(d)) {}

  void next() {
    if (left == 0) return done({});
    piece.resize(static_cast<size_t>(std::min<uint64_t>(left, kFileBodyPiece)));
    size_t got = 0;
    while (got < piece.size()) {
      const ssize_t n = ::pread(fd.get(), piece.data() + got, piece.size() - got,
                                static_cast<off_t>(at + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return done(beast::error_code(errno, boost::system::system_category()));
      if (n == 0) return done(net::error::eof);  // the file is shorter than promised
      got += static_cast<size_t>(n);
    }
    stream.expires_after(timeout);
    net::async_write(stream, net::buffer(piece),
                     [self = shared_from_this()](beast::error_code ec, size_t n) {
                       if (ec) return self->done(ec);
                       self->at += n;
                       self->left -= n;
                       self->next();
                     });
  }
};

}  // namespace

void write_file_body(beast::tcp_stream& stream, UniqueFd fd, uint64_t first, uint64_t length,
                     std::chrono::steady_clock::duration piece_timeout,
                     std::function<void(beast::error_code)> done) {
  std::make_shared<FileSend>(stream, std::move(fd), first, length, piece_timeout, std::move(done))
      ->next();
}

}  // namespace shoal::node
