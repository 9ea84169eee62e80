// node/secure/session.h
//
// The record layer of the node-to-node channel: after the handshake (handshake.h), each
// direction is a sequence of records, each a 4-byte big-endian header and a ChaCha20-Poly1305
// (IETF) ciphertext of at most kMaxRecordPlain bytes with its 16-byte tag. The header's top
// bit marks the direction's final record; the rest is the ciphertext's length.
//
// The header is the AEAD's additional data, and the nonce is the record's number in its
// direction (32 zero bits, then a 64-bit big-endian counter from 0), never sent. Each
// direction's key is fresh per connection (handshake.h), so no (key, nonce) pair repeats;
// and a forged, replayed, reordered, dropped or re-marked record opens under the wrong number
// or header and fails, and so does anything after it: the channel is then dead and must be
// closed. A direction ends with its final record (close()); bytes that end otherwise
// (end_of_input() with no final record) are a truncation, not a clean end.
//
// The cipher is OpenSSL's: it has vector code (AVX2/AVX-512) that runs ChaCha20-Poly1305 at
// 3-4 times the speed of libsodium's portable secretstream on the same CPU, and every byte
// of an artifact fetch passes through here twice (docs/security.md, bench/deploy).
//
// Sans-IO: bytes in, bytes out; not thread-safe.
#pragma once

#include <array>
#include <cstdint>

#include "base/bytes.h"
#include "base/status.h"

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace shoal::node::secure {

inline constexpr size_t kMaxRecordPlain = 256 * 1024;
inline constexpr size_t kRecordHeaderBytes = 4;
inline constexpr size_t kRecordTagBytes = 16;
inline constexpr size_t kRecordOverhead = kRecordHeaderBytes + kRecordTagBytes;

using DirectionKey = std::array<unsigned char, 32>;

// Seals one direction.
class Sealer {
 public:
  explicit Sealer(const DirectionKey& key);
  ~Sealer();
  Sealer(const Sealer&) = delete;
  Sealer& operator=(const Sealer&) = delete;

  // Appends `plain` to `out` as records.
  void seal(ByteView plain, Bytes& out);
  // Appends the final record; nothing may be sealed after it.
  void close(Bytes& out);
  bool closed() const { return closed_; }

 private:
  void seal_one(ByteView plain, bool final, Bytes& out);
  EVP_CIPHER_CTX* ctx_;
  uint64_t next_ = 0;  // the number of the next record
  bool closed_ = false;
};

// Opens the other direction.
class Opener {
 public:
  explicit Opener(const DirectionKey& key);
  ~Opener();
  Opener(const Opener&) = delete;
  Opener& operator=(const Opener&) = delete;

  // Feeds received bytes; plaintext of every whole record is appended to `plain`. An error
  // (corruption, naming what failed) is final: every later call returns it again.
  Status feed(ByteView in, Bytes& plain);
  // The peer's stream ended: ok after the final record, corruption ("truncated") otherwise.
  Status end_of_input() const;
  bool finished() const { return finished_; }

 private:
  // Opens the whole records at the front of `in`; `used` says how many bytes they took.
  Status open_records(ByteView in, size_t& used, Bytes& plain);
  EVP_CIPHER_CTX* ctx_;
  uint64_t next_ = 0;
  Bytes pending_;  // the start of a record whose rest has not come yet
  bool finished_ = false;
  Status error_;
};

// Both directions of one side of a channel.
struct Session {
  Session(const DirectionKey& tx, const DirectionKey& rx) : sealer(tx), opener(rx) {}
  Sealer sealer;
  Opener opener;
};

}  // namespace shoal::node::secure
