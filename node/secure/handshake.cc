#include "node/secure/handshake.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace shoal::node::secure {

namespace {

constexpr size_t kSignedBytes = kMagicBytes + 32;  // magic + public key: what a MAC covers
constexpr std::string_view kClientLabel = "shoal rpc v1 client hello";
constexpr std::string_view kServerLabel = "shoal rpc v1 server hello";
constexpr std::string_view kKeysLabel = "shoal rpc v1 keys";

void absorb(crypto_generichash_state& st, std::string_view s) {
  crypto_generichash_update(&st, reinterpret_cast<const unsigned char*>(s.data()), s.size());
}
void absorb(crypto_generichash_state& st, ByteView b) {
  crypto_generichash_update(&st, b.data(), b.size());
}

std::array<unsigned char, 32> client_mac(const SecretKey& key, ByteView hello) {
  std::array<unsigned char, 32> mac;
  crypto_generichash_state st;
  crypto_generichash_init(&st, key.data(), key.size(), mac.size());
  absorb(st, kClientLabel);
  absorb(st, hello.first(kSignedBytes));
  crypto_generichash_final(&st, mac.data(), mac.size());
  return mac;
}

std::array<unsigned char, 32> server_mac(const SecretKey& key, ByteView client_hello,
                                         ByteView server_hello) {
  std::array<unsigned char, 32> mac;
  crypto_generichash_state st;
  crypto_generichash_init(&st, key.data(), key.size(), mac.size());
  absorb(st, kServerLabel);
  absorb(st, client_hello);
  absorb(st, server_hello.first(kSignedBytes));
  crypto_generichash_final(&st, mac.data(), mac.size());
  return mac;
}

// c2s then s2c. False if the peer's public key gives an all-zero shared value.
bool derive(const SecretKey& key, const unsigned char* sk, const unsigned char* peer_pk,
            ByteView client_hello, ByteView server_hello, DirectionKey& c2s, DirectionKey& s2c) {
  unsigned char dh[crypto_scalarmult_BYTES];
  if (crypto_scalarmult(dh, sk, peer_pk) != 0) return false;
  unsigned char out[64];
  crypto_generichash_state st;
  crypto_generichash_init(&st, key.data(), key.size(), sizeof out);
  absorb(st, kKeysLabel);
  crypto_generichash_update(&st, dh, sizeof dh);
  absorb(st, client_hello);
  absorb(st, server_hello);
  crypto_generichash_final(&st, out, sizeof out);
  std::memcpy(c2s.data(), out, 32);
  std::memcpy(s2c.data(), out + 32, 32);
  sodium_memzero(dh, sizeof dh);
  sodium_memzero(out, sizeof out);
  return true;
}

bool mac_equal(const unsigned char* a, const unsigned char* b) {
  return sodium_memcmp(a, b, 32) == 0;
}

}  // namespace

bool is_hello_magic(ByteView first) {
  return first.size() >= kMagicBytes && std::equal(kHelloMagic.begin(), kHelloMagic.end(), first.begin());
}

bool is_refusal(ByteView first) {
  return first.size() >= kRefusalBytes && std::equal(kRefusal.begin(), kRefusal.end(), first.begin());
}

ClientHandshake::ClientHandshake(const SecretKey& key) : key_(key) {
  std::array<unsigned char, 32> pk;
  crypto_box_keypair(pk.data(), sk_.data());  // an X25519 key pair
  hello_.assign(kHelloMagic.begin(), kHelloMagic.end());
  hello_.insert(hello_.end(), pk.begin(), pk.end());
  const auto mac = client_mac(key_, hello_);
  hello_.insert(hello_.end(), mac.begin(), mac.end());
}

ClientHandshake::~ClientHandshake() {
  sodium_memzero(sk_.data(), sk_.size());
  sodium_memzero(key_.data(), key_.size());
}

Result<std::unique_ptr<Session>> ClientHandshake::finish(ByteView server_hello) {
  if (is_refusal(server_hello)) {
    return Status::permission_denied("refused: it holds none of our cluster secrets");
  }
  if (server_hello.size() != kHelloBytes || !is_hello_magic(server_hello)) {
    return Status::corruption("its answer is not a Shoal channel handshake");
  }
  const auto mac = server_mac(key_, hello_, server_hello);
  if (!mac_equal(mac.data(), server_hello.data() + kSignedBytes)) {
    return Status::unauthenticated("it does not hold our cluster secret");
  }
  DirectionKey c2s, s2c;
  if (!derive(key_, sk_.data(), server_hello.data() + kMagicBytes, hello_, server_hello, c2s, s2c)) {
    return Status::corruption("its public key is degenerate");
  }
  auto session = std::make_unique<Session>(c2s, s2c);
  sodium_memzero(c2s.data(), c2s.size());
  sodium_memzero(s2c.data(), s2c.size());
  return session;
}

Result<Accepted> accept_hello(const Keyring& ring, ByteView client_hello) {
  if (client_hello.size() != kHelloBytes || !is_hello_magic(client_hello)) {
    return Status::corruption("not a Shoal channel hello (a caller without the cluster secret?)");
  }
  for (size_t i = 0; i < ring.keys().size(); ++i) {
    const SecretKey& key = ring.keys()[i];
    const auto mac = client_mac(key, client_hello);
    if (!mac_equal(mac.data(), client_hello.data() + kSignedBytes)) continue;

    std::array<unsigned char, 32> pk, sk;
    crypto_box_keypair(pk.data(), sk.data());
    Accepted a;
    a.key_index = i;
    a.reply.assign(kHelloMagic.begin(), kHelloMagic.end());
    a.reply.insert(a.reply.end(), pk.begin(), pk.end());
    a.reply.resize(kHelloBytes);
    const auto smac = server_mac(key, client_hello, a.reply);
    std::memcpy(a.reply.data() + kSignedBytes, smac.data(), smac.size());
    DirectionKey c2s, s2c;
    const bool ok = derive(key, sk.data(), client_hello.data() + kMagicBytes, client_hello,
                           a.reply, c2s, s2c);
    sodium_memzero(sk.data(), sk.size());
    if (!ok) return Status::corruption("the caller's public key is degenerate");
    a.session = std::make_unique<Session>(s2c, c2s);
    sodium_memzero(c2s.data(), c2s.size());
    sodium_memzero(s2c.data(), s2c.size());
    return a;
  }
  return Status::permission_denied("its hello is keyed with none of our cluster secrets");
}

}  // namespace shoal::node::secure
