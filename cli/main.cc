// The `shoal` command: `shoal agent` runs a node; every other verb is an HTTP client of one.
#include <CLI/CLI.hpp>
#include <cstdio>

#include "base/version.h"

int main(int argc, char** argv) {
  CLI::App app{"Shoal: a peer-to-peer PaaS"};
  app.require_subcommand(1);
  auto* version = app.add_subcommand("version", "Print the version and protocol range");
  version->callback([] {
    std::printf("shoal %s\n", shoal::kVersion);
    std::printf("memberlist protocol %d..%d, serf protocol %d..%d\n",
                shoal::kMemberlistProtocolMin, shoal::kMemberlistProtocolMax,
                shoal::kSerfProtocolMin, shoal::kSerfProtocolMax);
  });
  CLI11_PARSE(app, argc, argv);
  return 0;
}
