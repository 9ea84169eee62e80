// node/router/message_writer.h
//
// MessageWriter: writes one HTTP/1 message the router passes on: its head, as the edited
// Beast header says, then its body piece by piece as the relay hands it over, in chunked
// framing when the header says `Transfer-Encoding: chunked`, else as it is.
//
// Why not Beast's serializer: it hands a head to the socket as a buffer per field name,
// value and line end, through layers of buffer-sequence adaptors, and walking them was a
// fifth of the router's own CPU per request. Here the head is formatted once into a
// string the session keeps between requests, and every write is at most four buffers.
//
// write_now() writes without waiting first (the socket is non-blocking): usually a socket
// takes the whole message at once, and that saves an asynchronous operation (its posted
// completion and a coroutine resume). Only what it would not take is written
// asynchronously. A head goes out with the first piece of body whenever the body is there.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/buffer.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_suffix.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>

#include <array>
#include <cstddef>
#include <span>
#include <string>

namespace shoal::node::router {

inline constexpr size_t kLinearWriteMax = 4 * 1024;  // write_now() copies up to this into one

// Appends the head of `h` (start line, fields, blank line) to `out`.
void format_head(const boost::beast::http::request_header<>& h, std::string& out);
void format_head(const boost::beast::http::response_header<>& h, std::string& out);

// Writes `pieces`, first without waiting, then what the stream did not take asynchronously.
// A message of up to kLinearWriteMax bytes is first copied into one buffer: a single iovec
// is the cheapest write for the kernel. REQUIRES: the stream is non-blocking (the router
// sets its sockets so; ClientStream over TLS takes nothing synchronously).
template <class Stream>
boost::asio::awaitable<void> write_now(Stream& stream,
                                       std::span<const boost::asio::const_buffer> pieces,
                                       boost::beast::error_code& ec) {
  ec = {};
  const size_t total = boost::asio::buffer_size(pieces);
  if (total == 0) co_return;
  size_t written;
  if (total <= kLinearWriteMax) {
    thread_local char linear[kLinearWriteMax];  // never held across a suspension
    boost::asio::buffer_copy(boost::asio::buffer(linear, total), pieces);
    written = stream.write_some(boost::asio::buffer(linear, total), ec);
  } else {
    written = stream.write_some(pieces, ec);
  }
  if (!ec && written == total) co_return;
  if (ec && ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) {
    co_return;
  }
  ec = {};
  boost::beast::buffers_suffix<std::span<const boost::asio::const_buffer>> rest(pieces);
  rest.consume(written);
  co_await boost::asio::async_write(
      stream, rest, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
}

template <bool isRequest>
class MessageWriter {
 public:
  // Formats the head of `m` into `head_text` (cleared first; kept by the caller between
  // messages, so its capacity is reused), which must outlive the writer; `m` may change
  // afterwards without effect.
  template <class Body>
  MessageWriter(const boost::beast::http::message<isRequest, Body>& m, std::string& head_text)
      : head_(head_text), chunked_(m.chunked()) {
    head_.clear();
    format_head(m.base(), head_);
  }
  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;

  bool head_sent() const { return head_sent_; }
  // The head and the end of the body are written.
  bool done() const { return done_; }

  // The head alone (a message without body, or one whose body has not begun to arrive).
  template <class Stream>
  boost::asio::awaitable<void> write_head(Stream& stream, boost::beast::error_code& ec) {
    ec = {};
    if (head_sent_) co_return;
    const boost::asio::const_buffer piece(head_.data(), head_.size());
    co_await write_now(stream, std::span(&piece, 1), ec);
    if (!ec) head_sent_ = true;
  }

  // `n` bytes of body at `data` (n may be 0), preceded by the head if it is not sent yet;
  // `last`: the body ends with them (the chunked framing's last chunk follows).
  template <class Stream>
  boost::asio::awaitable<void> write_body(Stream& stream, const char* data, size_t n, bool last,
                                          boost::beast::error_code& ec) {
    ec = {};
    std::array<boost::asio::const_buffer, 4> pieces;
    size_t count = 0;
    if (!head_sent_) pieces[count++] = boost::asio::const_buffer(head_.data(), head_.size());
    char size_line[2 * sizeof(size_t) + 2];
    if (chunked_ && n > 0) pieces[count++] = chunk_size_line(n, size_line);
    if (n > 0) pieces[count++] = boost::asio::const_buffer(data, n);
    if (chunked_) {
      static constexpr std::string_view kChunkEnd = "\r\n";
      static constexpr std::string_view kChunkEndAndLast = "\r\n0\r\n\r\n";
      static constexpr std::string_view kLast = "0\r\n\r\n";
      const std::string_view tail = n == 0 ? (last ? kLast : std::string_view())
                                           : (last ? kChunkEndAndLast : kChunkEnd);
      if (!tail.empty()) pieces[count++] = boost::asio::const_buffer(tail.data(), tail.size());
    }
    co_await write_now(stream, std::span(pieces.data(), count), ec);
    if (ec) co_return;
    head_sent_ = true;
    done_ = last;
  }

 private:
  // "1a2f\r\n" for 0x1a2f, into `line`.
  static boost::asio::const_buffer chunk_size_line(size_t n, char* line) {
    static constexpr char kHex[] = "0123456789abcdef";
    char* end = line + 2 * sizeof(size_t);
    char* p = end;
    do {
      *--p = kHex[n & 0xf];
      n >>= 4;
    } while (n != 0);
    end[0] = '\r';
    end[1] = '\n';
    return boost::asio::const_buffer(p, static_cast<size_t>(end + 2 - p));
  }

  std::string& head_;
  const bool chunked_;
  bool head_sent_ = false;
  bool done_ = false;
};

}  // namespace shoal::node::router
