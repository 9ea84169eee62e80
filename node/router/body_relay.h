// node/router/body_relay.h
//
// relay_body(): streams one HTTP message body from the stream a parser reads to the
// stream a MessageWriter writes, piece by piece as it arrives (at most kRelayChunk at a
// time), so chunked and long-lived bodies (Server-Sent Events) pass through unbuffered and
// the body limit the parser enforces applies while streaming.
//
// Contract: the parser has read the header. The writer may have written its head, or not:
// then the first write carries the head and the first piece of body together (one system
// call, one TCP segment for a small response). `chunk` (kRelayChunk bytes) holds each
// piece on its way. Before every read and write that waits, the matching callback runs (to
// arm that side's timeout; a write the socket takes at once needs none). The outcome says
// which side failed, if any, and how many body bytes were passed on; a piece already in
// `in_buffer` is taken without a read.
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

#include <cstddef>
#include <cstdint>

#include "node/router/head_arena.h"
#include "node/router/message_writer.h"

namespace shoal::node::router {

inline constexpr size_t kRelayChunk = 16 * 1024;

struct RelayOutcome {
  enum class Failure { none, read, write };
  Failure failure = Failure::none;
  boost::beast::error_code ec;
  uint64_t bytes = 0;
};

// Parses what `buffer` already holds; false when that made no progress (or it is empty),
// so a read is needed. Beast's read would parse it as well, but only after posting its
// completion: a trip through the scheduler and a coroutine resume, per message. A parse
// error is `ec` (and true: no read can mend it).
template <bool isRequest, class Body, class Allocator>
bool parse_buffered(boost::beast::flat_buffer& buffer,
                    boost::beast::http::parser<isRequest, Body, Allocator>& parser,
                    boost::beast::error_code& ec) {
  namespace http = boost::beast::http;
  ec = {};
  if (buffer.size() == 0) return false;
  const size_t used = parser.put(buffer.data(), ec);
  buffer.consume(used);
  if (ec == http::error::need_more || ec == http::error::need_buffer) {
    ec = {};
    return used > 0;
  }
  return true;
}

template <bool isRequest, class InStream, class OutStream, class BeforeRead, class BeforeWrite>
boost::asio::awaitable<RelayOutcome> relay_body(
    InStream& in, boost::beast::flat_buffer& in_buffer,
    boost::beast::http::parser<isRequest, boost::beast::http::buffer_body, HeadAllocator>&
        in_parser,
    OutStream& out, MessageWriter<isRequest>& writer, char* chunk, BeforeRead before_read,
    BeforeWrite before_write) {
  namespace http = boost::beast::http;
  using boost::asio::redirect_error;
  using boost::asio::use_awaitable;
  RelayOutcome r;
  boost::beast::error_code ec;
  while (!in_parser.is_done()) {
    in_parser.get().body().data = chunk;
    in_parser.get().body().size = kRelayChunk;
    if (!parse_buffered(in_buffer, in_parser, ec)) {
      before_read();
      co_await http::async_read_some(in, in_buffer, in_parser, redirect_error(use_awaitable, ec));
      if (ec == http::error::need_buffer) ec = {};
    }
    if (ec) {
      r.failure = RelayOutcome::Failure::read;
      r.ec = ec;
      co_return r;
    }
    const size_t n = kRelayChunk - in_parser.get().body().size;
    if (n == 0) continue;  // a chunk header, or nothing new yet
    r.bytes += n;
    if (!writer.start_body(out, chunk, n, in_parser.is_done(), ec)) {
      before_write();
      co_await writer.finish(out, ec);
    }
    if (ec) {
      r.failure = RelayOutcome::Failure::write;
      r.ec = ec;
      co_return r;
    }
  }
  if (!writer.done()) {  // the last chunk of a chunked body, or an empty body
    if (!writer.start_body(out, nullptr, 0, true, ec)) {
      before_write();
      co_await writer.finish(out, ec);
    }
    if (ec) {
      r.failure = RelayOutcome::Failure::write;
      r.ec = ec;
    }
  }
  co_return r;
}

}  // namespace shoal::node::router
