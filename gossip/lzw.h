// gossip/lzw.h
//
// LZW as Go's compress/lzw speaks it with Order LSB and literal width 8, which is what
// memberlist uses for its compress messages (and Serf streams push-pull state through):
// codes are 9 to 12 bits wide, packed least-significant bit first; 256 is the clear code
// and 257 the end code. The writer starts with a clear code, widens when the next free
// code reaches 512/1024/2048, and when it reaches 4095 emits a clear code and starts over
// (so code 4095 is never defined); the end code follows the last data code. The reader
// mirrors Go's: it stops growing the table at 4095 until a clear code arrives, and ignores
// anything after the end code.
//
// Contract:
//  - Pure functions over caller-owned bytes; the results own their storage.
//  - lzw_decompress() reports corruption for a truncated stream (no end code), a code that
//    is not yet defined, or output beyond `max_output` bytes (a decompression bomb is
//    stopped there, before more memory is taken). No exceptions.
#pragma once

#include <cstddef>

#include "base/bytes.h"
#include "base/status.h"

namespace shoal::gossip {

Bytes lzw_compress(ByteView input);
Result<Bytes> lzw_decompress(ByteView input, size_t max_output);

// [9][msgpack compress{Algo: 0, Buf: lzw(msg)}]: a whole memberlist compress message.
Bytes encode_compress(ByteView msg);
// `body` is a compress message without its type byte. Returns the decompressed message,
// which starts with its own type byte (never empty). Errors: malformed struct, an Algo
// other than LZW, an empty result, and the lzw_decompress() errors.
Result<Bytes> decode_compress(ByteView body, size_t max_output);

}  // namespace shoal::gossip
