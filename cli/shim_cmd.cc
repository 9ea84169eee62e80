// `shoal shim --spec FILE [--notify-fd N]`: hidden; the per-instance process the supervisor
// starts (node/supervisor/shim.h). Not meant to be run by hand.
#include "cli/commands.h"
#include "node/supervisor/shim.h"

namespace shoal::cli {

void add_shim_command(CLI::App& app, Cli& cli) {
  auto* shim = app.add_subcommand("shim", "Run one app instance (started by the supervisor)");
  shim->group("");  // hidden from --help
  auto spec = std::make_shared<std::string>();
  auto notify_fd = std::make_shared<int>(-1);
  shim->add_option("--spec", *spec, "The instance's spec.json")->required();
  shim->add_option("--notify-fd", *notify_fd, "Where to write the app's pid once forked");
  shim->callback([&cli, spec, notify_fd] {
    cli.exit_code = node::supervisor::run_shim(*spec, *notify_fd);
  });
}

}  // namespace shoal::cli
