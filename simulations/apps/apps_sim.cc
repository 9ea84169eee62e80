#include "simulations/apps/apps_sim.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <memory>

#include "simulations/apps/apps_cluster.h"

namespace shoal::sim {

Result<RunReport> run_apps_scenario(const Scenario& scenario, const RunOptions& options) {
  const auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);  // the cores' logs would drown the run
  const auto wall_start = std::chrono::steady_clock::now();
  auto cluster = std::make_unique<AppsCluster>(scenario, options);
  RunReport& r = cluster->report();
  r.scenario = scenario.name;
  r.seed = options.seed;
  r.nodes = size_t(scenario.nodes);
  cluster->run();
  spdlog::set_level(level);
  RunReport out = std::move(r);
  cluster.reset();
  out.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  out.peak_rss_kb = peak_rss_kb();
  return out;
}

}  // namespace shoal::sim
