// Helpers shared by the verbs that are HTTP clients of an agent.
#include <cstdio>

#include "cli/commands.h"

namespace shoal::cli {

std::optional<node::ApiClient> make_client(Cli& cli) {
  auto client = node::ApiClient::create(cli.addr);
  if (!client.ok()) {
    std::fprintf(stderr, "error: --addr: %s\n", client.status().message().c_str());
    cli.exit_code = kExitUsage;
    return std::nullopt;
  }
  return std::move(*client);
}

void fail(Cli& cli, const Status& status) {
  std::fprintf(stderr, "error: %s\n", status.message().c_str());
  cli.exit_code = kExitFailed;
}

}  // namespace shoal::cli
