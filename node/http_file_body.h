// node/http_file_body.h
//
// Sends a byte range of an open file as an HTTP body, a piece at a time, so that serving a
// 100 MB artifact holds one piece in memory rather than the blob, and a reader slower than
// the disk holds the sender back (one piece is in flight at a time) instead of queueing.
//
// Contract: runs on the stream's executor; `done` is called once, with the first read or
// write error, or success after `length` bytes. A file that ends before the range does is
// an error (the Content-Length already promised the bytes). Pieces are read with pread()
// on the calling thread: blobs served this way are page-cached in the common case, and a
// piece is small enough that a cold read stalls the IO thread for a disk seek, not a file.
#pragma once

#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/beast/core/error.hpp>
#include <boost/beast/core/tcp_stream.hpp>

#include <chrono>
#include <cstdint>
#include <functional>

#include "node/unique_fd.h"

namespace shoal::node {

inline constexpr size_t kFileBodyPiece = 256 * 1024;

// Each piece's write must finish within `piece_timeout`.
void write_file_body(boost::beast::tcp_stream& stream, UniqueFd fd, uint64_t first,
                     uint64_t length, std::chrono::steady_clock::duration piece_timeout,
                     std::function<void(boost::beast::error_code)> done);

}  // namespace shoal::node
