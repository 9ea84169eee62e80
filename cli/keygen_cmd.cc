// `shoal keygen`: prints a fresh gossip encryption key (32 random bytes, base64), the
// form --encrypt, `serf agent -encrypt` and `shoal keys --install` take; with --cluster, a
// fresh cluster secret for the node-to-node channel (a line of --cluster-secret-file).
#include <sodium.h>

#include <cstdio>
#include <memory>

#include "cli/commands.h"
#include "gossip/keyring.h"
#include "node/secure/cluster_secret.h"

namespace shoal::cli {

void add_keygen_command(CLI::App& app, Cli& cli) {
  auto* cmd = app.add_subcommand(
      "keygen", "Print a new gossip encryption key (base64), or with --cluster a cluster secret");
  auto cluster = std::make_shared<bool>(false);
  cmd->add_flag("--cluster", *cluster,
                "A cluster secret for --cluster-secret-file (docs/security.md), not a gossip key");
  cmd->callback([&cli, cluster] {
    if (sodium_init() < 0) {
      fail(cli, Status::internal("libsodium failed to initialize"));
      return;
    }
    if (*cluster) {
      std::printf("%s\n", node::secure::secret_text(node::secure::generate_secret()).c_str());
      return;
    }
    Bytes key(gossip::kKeySize);
    randombytes_buf(key.data(), key.size());
    std::printf("%s\n", gossip::key_to_base64(key).c_str());
  });
}

}  // namespace shoal::cli
