// node/router/head_arena.h
//
// HeadArena: the memory of the heads one exchange parses and edits (the request's and the
// response's fields, target and reason), taken from a bump arena that the client session
// keeps and empties before each request. Beast allocates a node per field; through the
// heap that was a dozen allocations per proxied request, most of the router's calls to
// malloc. The arena starts with kInitialBytes inside itself, enough for usual heads, and
// takes more from the heap only for large ones (up to the header limits), all given back
// on reset().
//
// Fields, RequestParser and ResponseParser are the Beast types over it; a parser is made
// with (std::piecewise_construct, std::make_tuple(), std::make_tuple(arena.allocator())).
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/fields.hpp>
#include <boost/beast/http/parser.hpp>

#include <array>
#include <cstddef>
#include <memory_resource>

namespace shoal::node::router {

using HeadAllocator = std::pmr::polymorphic_allocator<char>;
using Fields = boost::beast::http::basic_fields<HeadAllocator>;
using RequestParser =
    boost::beast::http::parser<true, boost::beast::http::buffer_body, HeadAllocator>;
using ResponseParser =
    boost::beast::http::parser<false, boost::beast::http::buffer_body, HeadAllocator>;

class HeadArena {
 public:
  static constexpr size_t kInitialBytes = 4096;

  HeadArena() : resource_(initial_.data(), initial_.size()) {}
  HeadArena(const HeadArena&) = delete;
  HeadArena& operator=(const HeadArena&) = delete;

  HeadAllocator allocator() { return HeadAllocator(&resource_); }

  // REQUIRES: nothing allocated from the arena is still alive.
  void reset() { resource_.release(); }

 private:
  alignas(std::max_align_t) std::array<std::byte, kInitialBytes> initial_;
  std::pmr::monotonic_buffer_resource resource_;
};

}  // namespace shoal::node::router
