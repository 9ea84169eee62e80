// `shoal keygen`: prints a fresh gossip encryption key (32 random bytes, base64), the
// form --encrypt, `serf agent -encrypt` and `shoal keys --install` take.
#include <sodium.h>

#include <cstdio>

#include "cli/commands.h"
#include "gossip/keyring.h"

namespace shoal::cli {

void add_keygen_command(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand("keygen", "Print a new gossip encryption key (base64)");
  cmd->callback([&cli] {
    if (sodium_init() < 0) {
      fail(cli, Status::internal("libsodium failed to initialize"));
      return;
    }
    Bytes key(gossip::kKeySize);
    randombytes_buf(key.data(), key.size());
    std::printf("%s\n", gossip::key_to_base64(key).c_str());
  });
}

}  // namespace shoal::cli
