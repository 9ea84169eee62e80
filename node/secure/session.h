// node/secure/session.h
//
// The record layer of the node-to-node channel: after the handshake (handshake.h), each
// direction is one libsodium secretstream (XChaCha20-Poly1305). A direction's bytes are the
// stream's 24-byte header, then records: a u32 big-endian ciphertext length and the
// ciphertext of at most kMaxRecordPlain bytes of plaintext.
//
// Every record is authenticated and numbered by the stream itself, so a forged, replayed,
// reordered or cut record fails to open, and so does anything after it: the channel is
// then dead and must be closed. A direction ends with a record tagged final (close());
// bytes that end otherwise (end_of_input() with a record half-read, or no final record)
// are a truncation, not a clean end.
//
// Sans-IO: bytes in, bytes out; not thread-safe.
#pragma once

#include <sodium.h>

#include <array>
#include <optional>

#include "base/bytes.h"
#include "base/status.h"

namespace shoal::node::secure {

inline constexpr size_t kMaxRecordPlain = 256 * 1024;
inline constexpr size_t kRecordOverhead = 4 + crypto_secretstream_xchacha20poly1305_ABYTES;
inline constexpr size_t kStreamHeaderBytes = crypto_secretstream_xchacha20poly1305_HEADERBYTES;

using DirectionKey = std::array<unsigned char, crypto_secretstream_xchacha20poly1305_KEYBYTES>;

// Seals one direction.
class Sealer {
 public:
  explicit Sealer(const DirectionKey& key);
  ~Sealer();
  Sealer(const Sealer&) = delete;
  Sealer& operator=(const Sealer&) = delete;

  // Appends `plain` to `out` as records (the stream header first, on the first call).
  void seal(ByteView plain, Bytes& out);
  // Appends the final record; nothing may be sealed after it.
  void close(Bytes& out);
  bool closed() const { return closed_; }

 private:
  void header_once(Bytes& out);
  crypto_secretstream_xchacha20poly1305_state st_;
  std::array<unsigned char, kStreamHeaderBytes> header_;
  bool header_sent_ = false;
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
  Status open_records(Bytes& plain);
  crypto_secretstream_xchacha20poly1305_state st_;
  DirectionKey key_;
  Bytes pending_;
  size_t consumed_ = 0;  // bytes of pending_ already used
  bool have_header_ = false;
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
