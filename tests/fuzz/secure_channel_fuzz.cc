// libFuzzer target: the node-to-node channel's decoders (node/secure/). The input's first
// byte picks what it is fed to: a client hello (server side), a server answer (client
// side), or the record stream of an established session. Nothing may crash, and nothing
// but what a real peer sealed may ever open.
#include <sodium.h>

#include <cstdint>
#include <cstdlib>

#include "node/secure/handshake.h"
#include "node/secure/session.h"

using namespace shoal;
using namespace shoal::node::secure;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool init = sodium_init() >= 0;
  if (!init || size == 0) return 0;
  static const SecretKey key = generate_secret();
  static const Keyring ring({key});
  const ByteView in(data + 1, size - 1);
  switch (data[0] % 3) {
    case 0: {
      if (accept_hello(ring, in).ok()) std::abort();  // the fuzzer cannot know the key
      break;
    }
    case 1: {
      ClientHandshake hs(key);
      if (hs.finish(in).ok()) std::abort();
      break;
    }
    default: {
      ClientHandshake hs(key);
      auto accepted = accept_hello(ring, hs.hello());
      if (!accepted.ok()) std::abort();
      Bytes plain;
      (void)accepted->session->opener.feed(in, plain);  // rejected or not, never plaintext
      if (!plain.empty()) std::abort();
      (void)accepted->session->opener.end_of_input();
      break;
    }
  }
  return 0;
}
