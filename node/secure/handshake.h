// node/secure/handshake.h
//
// The node-to-node channel's handshake: one round trip that proves each side holds a
// cluster secret (cluster_secret.h) and agrees fresh keys, before either says anything.
//
//   client -> server  hello:  magic "\xA5SH2" | client X25519 public key | MAC_c
//   server -> client  hello:  magic "\xA5SH2" | server X25519 public key | MAC_s
//                  or refusal: "\xA5SH!" then close
//
// MAC_c is BLAKE2b-256 keyed with the secret over a label and the client's first 36
// bytes; MAC_s covers the client's whole hello and the server's first 36 bytes. Each
// direction's key is BLAKE2b-512, keyed with the secret, over a label, the X25519 shared
// value and both hellos. So: a caller without a secret gets a refusal and nothing else;
// a replayed client hello gets an answer it cannot use (the keys need the client's
// ephemeral private key); a server without the secret cannot answer; and the ephemeral
// keys give each connection keys of its own (forward secrecy). Any node that holds a
// secret is trusted as a node; the node names inside the channel are not authenticated
// separately.
//
// The magic's last byte is the channel's version: 2 since records moved from libsodium's
// secretstream to counter-nonce ChaCha20-Poly1305 (session.h). A version-1 hello is no
// hello to this node, so a node of the old build is closed on, not half-understood.
//
// Sans-IO and fixed-size: the caller reads exactly kHelloBytes (kRefusalBytes may come
// first and alone). Errors never name key material.
#pragma once

#include <array>
#include <memory>

#include "base/bytes.h"
#include "base/status.h"
#include "node/secure/cluster_secret.h"
#include "node/secure/session.h"

namespace shoal::node::secure {

inline constexpr size_t kMagicBytes = 4;
inline constexpr size_t kHelloBytes = kMagicBytes + 32 + 32;
inline constexpr std::array<uint8_t, kMagicBytes> kHelloMagic = {0xA5, 'S', 'H', '2'};
inline constexpr std::array<uint8_t, kMagicBytes> kRefusal = {0xA5, 'S', 'H', '!'};
inline constexpr size_t kRefusalBytes = kRefusal.size();

// Whether `first` (at least kMagicBytes) opens a channel hello; a plaintext Raft frame or
// HTTP request does not.
bool is_hello_magic(ByteView first);
bool is_refusal(ByteView first);

class ClientHandshake {
 public:
  explicit ClientHandshake(const SecretKey& key);
  ~ClientHandshake();
  ClientHandshake(const ClientHandshake&) = delete;
  ClientHandshake& operator=(const ClientHandshake&) = delete;

  // The client's hello, to send first.
  ByteView hello() const { return hello_; }
  // The server's answer (kHelloBytes, or a refusal): the session, or permission_denied
  // (refused: the server holds no secret we do), unauthenticated (the server does not hold
  // ours), corruption (not a handshake answer).
  Result<std::unique_ptr<Session>> finish(ByteView server_hello);

 private:
  SecretKey key_;
  std::array<unsigned char, 32> sk_;
  Bytes hello_;
};

struct Accepted {
  Bytes reply;                       // the server's hello, to send
  std::unique_ptr<Session> session;  // ready once `reply` is sent
  size_t key_index = 0;              // which secret of the ring the client used
};

// The server's side. permission_denied when no secret of `ring` makes the client's MAC
// (send kRefusal and close); corruption when it is no hello at all.
Result<Accepted> accept_hello(const Keyring& ring, ByteView client_hello);

}  // namespace shoal::node::secure
