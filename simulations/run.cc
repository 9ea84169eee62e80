// run_scenario(): one engine, one seed, one report.
#include <spdlog/spdlog.h>

#include <chrono>
#include <fstream>
#include <string>

#include "simulations/apps/apps_sim.h"
#include "simulations/raft/raft_sim.h"
#include "simulations/report.h"
#include "simulations/sim_engine.h"
#include "simulations/svg_plot.h"

namespace shoal::sim {

int64_t peak_rss_kb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stoll(line.substr(6));
  }
  return 0;
}

Result<RunReport> run_scenario(const Scenario& scenario, const RunOptions& options) {
  Scenario sc = scenario;
  if (options.nodes) sc.nodes = *options.nodes;
  if (sc.nodes < 1 || sc.nodes > (1 << 24)) {
    return Status::invalid_argument(fmt::format("--nodes {} is out of range [1, 16777216]", sc.nodes));
  }
  SHOAL_RETURN_IF_ERROR(sc.validate());
  if (sc.engine == "raft") {
    const auto level = spdlog::get_level();
    spdlog::set_level(spdlog::level::off);
    auto r = run_raft_scenario(sc, options);
    spdlog::set_level(level);
    return r;
  }
  if (sc.engine == "apps") return run_apps_scenario(sc, options);
  auto factory = node_factory(sc.engine);
  if (!factory.ok()) return factory.status().with_context(sc.file);

  const auto level = spdlog::get_level();
  spdlog::set_level(spdlog::level::off);  // the cores' logs would drown the run
  const auto wall_start = std::chrono::steady_clock::now();
  auto engine = std::make_unique<SimEngine>(sc, options, std::move(*factory));
  RunReport& r = engine->report();
  r.scenario = sc.name;
  r.seed = options.seed;
  r.nodes = size_t(sc.nodes);
  if (options.csv) r.csv = kCsvHeader;
  engine->run();
  spdlog::set_level(level);

  const auto& obs = engine->observer();
  r.kills = obs.kills();
  r.episodes = obs.episodes();
  r.false_positives = obs.false_positives();
  r.max_false_failed = obs.max_false_failed();
  r.max_false_failed_pair = obs.max_false_failed_pair();
  r.false_positive_log = obs.false_positive_log();
  r.user_events = obs.user_events();
  evaluate_checks(sc, r);
  r.summary = format_summary(sc, r);
  if (options.svg) r.svg = render_run_svg(r);
  RunReport out = std::move(r);
  engine.reset();
  out.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  out.peak_rss_kb = peak_rss_kb();
  return out;
}

}  // namespace shoal::sim
