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
// Each write is tried first without waiting (the socket is non-blocking): usually a socket
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

#include "node/router/head_arena.h"

namespace shoal::node::router {

inline constexpr size_t kLinearWriteMax = 4 * 1024;  // copied into one buffer up to this

// Appends the head of `h` (start line, fields, blank line) to `out`.
void format_head(const boost::beast::http::header<true, Fields>& h, std::string& out);
void format_head(const boost::beast::http::header<false, Fields>& h, std::string& out);

template <bool isRequest>
class MessageWriter {
 public:
  // Formats the head of `m` into `head_text` (cleared first; kept by the caller between
  // messages, so its capacity is reused), which must outlive the writer; `m` may change
  // afterwards without effect.
  template <class Body>
  MessageWriter(const boost::beast::http::message<isRequest, Body, Fields>& m,
                std::string& head_text)
      : head_(head_text), chunked_(m.chunked()) {
    head_.clear();
    format_head(m.base(), head_);
  }
  MessageWriter(const MessageWriter&) = delete;
  MessageWriter& operator=(const MessageWriter&) = delete;

  bool head_sent() const { return head_sent_; }
  // The head and the end of the body are written.
  bool done() const { return done_; }

  // Each write starts with a try that does not wait: true when it is over, successfully or
  // not (`ec`); false when the stream would not take all of it now, and finish() must
  // write the rest before the next write starts. (Not a coroutine itself: a frame per
  // write was a fair share of the router's allocations.)
  //
  // start_head(): the head alone (a message without body, or one whose body has not begun
  // to arrive). start_body(): `n` bytes of body at `data` (n may be 0), preceded by the
  // head if it is not sent yet; `last`: the body ends with them (the chunked framing's
  // last chunk follows). `data` must stay valid until the write is over.
  template <class Stream>
  bool start_head(Stream& stream, boost::beast::error_code& ec) {
    count_ = 0;
    last_ = done_;
    if (!head_sent_) pieces_[count_++] = boost::asio::const_buffer(head_.data(), head_.size());
    return start(stream, ec);
  }

  template <class Stream>
  bool start_body(Stream& stream, const char* data, size_t n, bool last,
                  boost::beast::error_code& ec) {
    count_ = 0;
    last_ = last;
    if (!head_sent_) pieces_[count_++] = boost::asio::const_buffer(head_.data(), head_.size());
    if (chunked_ && n > 0) pieces_[count_++] = chunk_size_line(n);
    if (n > 0) pieces_[count_++] = boost::asio::const_buffer(data, n);
    if (chunked_) {
      static constexpr std::string_view kChunkEnd = "\r\n";
      static constexpr std::string_view kChunkEndAndLast = "\r\n0\r\n\r\n";
      static constexpr std::string_view kLast = "0\r\n\r\n";
      const std::string_view tail = n == 0 ? (last ? kLast : std::string_view())
                                           : (last ? kChunkEndAndLast : kChunkEnd);
      if (!tail.empty()) pieces_[count_++] = boost::asio::const_buffer(tail.data(), tail.size());
    }
    return start(stream, ec);
  }

  template <class Stream>
  boost::asio::awaitable<void> finish(Stream& stream, boost::beast::error_code& ec) {
    ec = {};
    boost::beast::buffers_suffix<std::span<const boost::asio::const_buffer>> rest(
        std::span<const boost::asio::const_buffer>(pieces_.data(), count_));
    rest.consume(written_);
    co_await boost::asio::async_write(
        stream, rest, boost::asio::redirect_error(boost::asio::use_awaitable, ec));
    if (!ec) sent();
  }

 private:
  // Writes pieces_ as far as the stream takes them now. A message of up to kLinearWriteMax
  // bytes is first copied into one buffer: one iovec is the cheapest write for the kernel.
  // REQUIRES: the stream is non-blocking (the router sets its sockets so; ClientStream over
  // TLS takes nothing synchronously).
  template <class Stream>
  bool start(Stream& stream, boost::beast::error_code& ec) {
    ec = {};
    written_ = 0;
    const std::span<const boost::asio::const_buffer> pieces(pieces_.data(), count_);
    const size_t total = boost::asio::buffer_size(pieces);
    if (total > 0) {
      if (total <= kLinearWriteMax) {
        thread_local char linear[kLinearWriteMax];  // never held across a suspension
        boost::asio::buffer_copy(boost::asio::buffer(linear, total), pieces);
        written_ = stream.write_some(boost::asio::buffer(linear, total), ec);
      } else {
        written_ = stream.write_some(pieces, ec);
      }
    }
    if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
      ec = {};
      return false;
    }
    if (ec) return true;
    if (written_ < total) return false;
    sent();
    return true;
  }

  void sent() {
    head_sent_ = true;
    done_ = last_;
  }

  // "1a2f\r\n" for 0x1a2f, into size_line_.
  boost::asio::const_buffer chunk_size_line(size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    char* end = size_line_ + 2 * sizeof(size_t);
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
  // The write under way.
  std::array<boost::asio::const_buffer, 4> pieces_;
  size_t count_ = 0;
  size_t written_ = 0;
  bool last_ = false;
  char size_line_[2 * sizeof(size_t) + 2];
};

}  // namespace shoal::node::router
