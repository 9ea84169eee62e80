// shoal-sim: the simulator's verbs without the rest of the shoal CLI.
#include <CLI/CLI.hpp>

#include "simulations/sim_cli.h"

int main(int argc, char** argv) {
  CLI::App app{"Shoal's deterministic cluster simulator", "shoal-sim"};
  app.require_subcommand(1);
  shoal::sim::add_sim_commands(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : 2;
  }
  return 0;
}
