// node/router/body_relay.h
//
// relay_body(): streams one HTTP message body from the stream a parser reads to the
// stream a serializer writes, piece by piece as it arrives (at most kRelayChunk at a
// time), so chunked and long-lived bodies (Server-Sent Events) pass through unbuffered and
// the body limit the parser enforces applies while streaming.
//
// Contract: the parser has read the header. The serializer may have written its header, or
// not: then the first write carries the header and the first piece of body together (one
// system call, one TCP segment for a small response). `chunk` (kRelayChunk bytes) holds
// each piece on its way. Before every read and write the matching callback runs (to arm
// that side's timeout). The outcome says which side failed, if any, and how many body
// bytes were passed on; a piece already in `in_buffer` is taken without a read.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio/awaitable.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/write.hpp>

#include <cstddef>
#include <cstdint>

namespace shoal::node::router {

inline constexpr size_t kRelayChunk = 16 * 1024;
inline constexpr size_t kLinearWriteMax = 4 * 1024;  // write_now() copies up to this into one

struct RelayOutcome {
  enum class Failure { none, read, write };
  Failure failure = Failure::none;
  boost::beast::error_code ec;
  uint64_t bytes = 0;
};

// Writes what `sr` has ready (all of it, or the head only with `head_only`), first without
// waiting and then, for what the stream would not take at once, asynchronously. The first
// try usually takes everything (a socket with room in its send buffer) and saves an
// asynchronous operation: its allocation, its posted completion and a coroutine resume,
// a fair share of the router's own CPU per request. `stream` must be non-blocking: its
// sockets are set so when connected or accepted. need_buffer (a buffer_body piece written,
// more to come) is success.
template <class Stream, bool isRequest>
boost::asio::awaitable<void> write_now(
    Stream& stream, boost::beast::http::serializer<isRequest, boost::beast::http::buffer_body>& sr,
    bool head_only, boost::beast::error_code& ec) {
  namespace http = boost::beast::http;
  using boost::asio::redirect_error;
  using boost::asio::use_awaitable;
  ec = {};
  sr.split(head_only);
  while (!ec && !(head_only ? sr.is_header_done() : sr.is_done())) {
    size_t written = 0;
    sr.next(ec, [&](boost::beast::error_code& e, const auto& buffers) {
      // Beast gives a head as a buffer per field name, value and line end: a sendmsg of
      // dozens of iovecs, each one more step for the kernel. A small message goes out
      // copied into one buffer instead.
      const size_t size = boost::asio::buffer_size(buffers);
      if (size <= kLinearWriteMax) {
        thread_local char linear[kLinearWriteMax];
        boost::asio::buffer_copy(boost::asio::buffer(linear, size), buffers);
        written = stream.write_some(boost::asio::buffer(linear, size), e);
      } else {
        written = stream.write_some(buffers, e);
      }
    });
    if (!ec) sr.consume(written);
  }
  if (ec == http::error::need_buffer) ec = {};
  if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) co_return;
  ec = {};
  if (head_only) {
    co_await http::async_write_header(stream, sr, redirect_error(use_awaitable, ec));
  } else {
    co_await http::async_write(stream, sr, redirect_error(use_awaitable, ec));
  }
  if (ec == http::error::need_buffer) ec = {};
}

template <bool isRequest, class InStream, class OutStream, class BeforeRead, class BeforeWrite>
boost::asio::awaitable<RelayOutcome> relay_body(
    InStream& in, boost::beast::flat_buffer& in_buffer,
    boost::beast::http::parser<isRequest, boost::beast::http::buffer_body>& in_parser,
    OutStream& out, boost::beast::http::message<isRequest, boost::beast::http::buffer_body>& out_msg,
    boost::beast::http::serializer<isRequest, boost::beast::http::buffer_body>& sr,
    char* chunk, BeforeRead before_read, BeforeWrite before_write) {
  namespace http = boost::beast::http;
  using boost::asio::redirect_error;
  using boost::asio::use_awaitable;
  RelayOutcome r;
  boost::beast::error_code ec;
  while (!in_parser.is_done()) {
    in_parser.get().body().data = chunk;
    in_parser.get().body().size = kRelayChunk;
    before_read();
    co_await http::async_read_some(in, in_buffer, in_parser, redirect_error(use_awaitable, ec));
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      r.failure = RelayOutcome::Failure::read;
      r.ec = ec;
      co_return r;
    }
    const size_t n = kRelayChunk - in_parser.get().body().size;
    if (n == 0) continue;  // a chunk header, or nothing new yet
    r.bytes += n;
    out_msg.body().data = chunk;
    out_msg.body().size = n;
    out_msg.body().more = !in_parser.is_done();
    before_write();
    co_await write_now(out, sr, false, ec);
    if (ec) {
      r.failure = RelayOutcome::Failure::write;
      r.ec = ec;
      co_return r;
    }
  }
  if (!sr.is_done()) {  // the last chunk of a chunked body, or an empty body
    out_msg.body().data = nullptr;
    out_msg.body().size = 0;
    out_msg.body().more = false;
    before_write();
    co_await write_now(out, sr, false, ec);
    if (ec) {
      r.failure = RelayOutcome::Failure::write;
      r.ec = ec;
    }
  }
  co_return r;
}

}  // namespace shoal::node::router
