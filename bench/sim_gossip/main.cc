// bench/sim_gossip: the SWIM/Lifeguard properties, measured on the shipping memberlist core
// in the simulator, over cluster sizes:
//   - time until every live node knows of a failure (SWIM: grows ~ log N),
//   - messages sent per node per second in steady state (SWIM: ~ constant in N),
//   - false positives (healthy nodes declared dead) with slow nodes, Lifeguard on vs off.
// Usage: sim-gossip [--sizes 100,1000,10000] [--seeds K] [--fp-max N] [--out DIR]
// Clusters start converged (Scenario::warm_start): a 10,000-node join storm is N^2 = 10^8
// alive messages, hours of CPU, and says nothing about steady-state SWIM. The slow-node
// false-positive runs go up to --fp-max nodes (default 1,000). A size whose member tables
// (N^2 entries) would not fit in half of MemAvailable at the measured cost per entry is
// reported as skipped rather than run into the OOM killer.
#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "simulations/simulator.h"
#include "simulations/svg_plot.h"

using namespace shoal;
using namespace shoal::sim;
using namespace std::chrono_literals;

namespace {

// Measured peak RSS per member entry, warm start at 1,000 nodes (see docs/simulator.md).
constexpr double kBytesPerEntry = 80;

int64_t mem_available_kb() {
  std::ifstream in("/proc/meminfo");
  std::string key;
  int64_t v = 0;
  std::string unit;
  while (in >> key >> v >> unit) {
    if (key == "MemAvailable:") return v;
  }
  return 0;
}

Scenario failure_scenario(int64_t n) {
  Scenario s;
  s.name = "bench-failure";
  s.file = "(bench)";
  s.nodes = n;
  s.engine = "memberlist";
  s.gossip = gossip::Config::lan();
  s.warm_start = true;
  s.join_window = 0s;
  const Duration settle = 30s;
  s.duration = settle + 40s;
  s.network.latency = LatencyDist::normal(1ms, 250us);
  FaultEvent kill;
  kill.kind = FaultEvent::Kind::kill;
  kill.at = settle;
  kill.nodes.kind = NodeSelector::Kind::random;
  kill.nodes.count = 1;
  kill.where = "bench";
  s.timeline.push_back(kill);
  return s;
}

Scenario slow_scenario(int64_t n, bool lifeguard) {
  Scenario s;
  s.name = lifeguard ? "bench-slow-lifeguard" : "bench-slow-swim";
  s.file = "(bench)";
  s.nodes = n;
  s.engine = "memberlist";
  s.gossip = gossip::Config::lan();
  s.gossip.lifeguard = lifeguard;  // off: plain SWIM (gossip/config.h)
  s.warm_start = true;
  s.join_window = 0s;
  s.duration = s.join_window + 130s;  // 120s of slowness
  s.network.latency = LatencyDist::normal(1ms, 250us);
  FaultEvent slow;
  slow.kind = FaultEvent::Kind::slow;
  slow.at = s.join_window + 10s;
  slow.nodes.kind = NodeSelector::Kind::fraction;
  slow.nodes.fraction = 0.1;  // a tenth of the cluster is overloaded
  // Lag beyond the (fixed, Lifeguard-off) suspicion timeout mult * log10(N) * probe interval,
  // so a slow node's accusations can expire before the accused's refutation reaches it.
  const double scale = std::max(1.0, std::log10(double(n)));
  slow.delay = std::chrono::duration_cast<Duration>(s.gossip.probe_interval * 4 * scale * 1.5);
  slow.where = "bench";
  s.timeline.push_back(slow);
  return s;
}

struct Row {
  int64_t n = 0;
  bool skipped = false;
  double detect_all = 0, detect_first = 0, msgs = 0, fp_on = 0, fp_off = 0;
  double fp_on_rate = 0, fp_off_rate = 0;  // per 1,000 node-minutes of slowness phase
  double wall = 0, rss_mb = 0, sim_per_wall = 0;
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<int64_t> sizes{100, 1000, 10000};
  int seeds = 2;
  int64_t fp_max = 1000;
  std::string out = "docs";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--sizes") {
      sizes.clear();
      std::stringstream ss(argv[i + 1]);
      std::string tok;
      while (std::getline(ss, tok, ',')) sizes.push_back(std::stoll(tok));
    } else if (a == "--seeds") {
      seeds = std::stoi(argv[i + 1]);
    } else if (a == "--fp-max") {
      fp_max = std::stoll(argv[i + 1]);
    } else if (a == "--out") {
      out = argv[i + 1];
    }
  }
  std::vector<Row> rows;
  for (int64_t n : sizes) {
    Row row;
    row.n = n;
    const double need_kb = double(n) * double(n) * kBytesPerEntry / 1024.0;
    if (need_kb > double(mem_available_kb()) / 2) {
      row.skipped = true;
      std::fprintf(stderr, "N=%lld: skipped, full membership needs ~%.1f GB (%.0f B/entry) and only %.1f GB is available\n",
                   static_cast<long long>(n), need_kb / 1024 / 1024, kBytesPerEntry,
                   double(mem_available_kb()) / 1024 / 1024);
      rows.push_back(row);
      continue;
    }
    int counted = 0;
    for (int seed = 1; seed <= seeds; ++seed) {
      RunOptions o;
      o.seed = uint64_t(seed);
      const Scenario sc = failure_scenario(n);
      auto r = run_scenario(sc, o);
      if (!r.ok()) {
        std::fprintf(stderr, "%s\n", r.status().to_string().c_str());
        return 2;
      }
      for (const auto& k : r->kills) {
        if (!k.all || !k.first) continue;
        row.detect_all += to_seconds(*k.all - k.at);
        row.detect_first += to_seconds(*k.first - k.at);
        ++counted;
      }
      // Steady state: from 5 s after the (warm) start until the kill.
      double msgs = 0;
      int m = 0;
      for (const auto& s : r->samples) {
        if (s.t > 5 && s.t <= to_seconds(sc.timeline[0].at)) {
          msgs += s.msgs_per_node_s;
          ++m;
        }
      }
      row.msgs += m ? msgs / m / seeds : 0;
      row.wall += r->wall_seconds;
      row.sim_per_wall = r->sim_seconds / r->wall_seconds;
      row.rss_mb = double(r->peak_rss_kb) / 1024;
      std::fprintf(stderr, "N=%lld seed %d failure: %.1fs wall\n", static_cast<long long>(n), seed, r->wall_seconds);
    }
    if (counted) {
      row.detect_all /= counted;
      row.detect_first /= counted;
    }
    if (n <= fp_max) {  // the slow-node runs cost several failure runs
      for (bool lg : {true, false}) {
        double fps = 0;
        for (int seed = 1; seed <= seeds; ++seed) {
          RunOptions o;
          o.seed = uint64_t(seed);
          auto r = run_scenario(slow_scenario(n, lg), o);
          if (!r.ok()) return 2;
          fps += double(r->false_positives);
          std::fprintf(stderr, "N=%lld seed %d slow (lifeguard %s): %llu false positives, %.1fs wall\n",
                       static_cast<long long>(n), seed, lg ? "on" : "off",
                       static_cast<unsigned long long>(r->false_positives), r->wall_seconds);
        }
        const double node_minutes = double(n) * 120.0 / 60.0 * seeds;
        (lg ? row.fp_on : row.fp_off) = fps / seeds;
        (lg ? row.fp_on_rate : row.fp_off_rate) = fps / node_minutes * 1000;
      }
    }
    rows.push_back(row);
  }

  std::string table =
      "| N | detection, first node (s) | detection, all nodes (s) | msgs/node/s | FP Lifeguard on | FP Lifeguard off | FP per 1k node-min on / off | run cost |\n"
      "|---:|---:|---:|---:|---:|---:|---:|---|\n";
  for (const auto& r : rows) {
    if (r.skipped) {
      table += fmt::format("| {} | skipped: {:.0f} GB of member tables | | | | | | |\n", r.n,
                           double(r.n) * double(r.n) * kBytesPerEntry / 1e9);
      continue;
    }
    const bool fp = r.n <= fp_max;
    table += fmt::format("| {} | {:.2f} | {:.2f} | {:.2f} | {} | {} | {} | {:.0f}s wall/seed, {:.1f} sim-s per wall-s, {:.0f} MB peak |\n",
                         r.n, r.detect_first, r.detect_all, r.msgs,
                         fp ? fmt::format("{:.1f}", r.fp_on) : "-", fp ? fmt::format("{:.1f}", r.fp_off) : "-",
                         fp ? fmt::format("{:.2f} / {:.2f}", r.fp_on_rate, r.fp_off_rate) : "-",
                         r.wall / seeds, r.sim_per_wall, r.rss_mb);
  }
  std::fputs(table.c_str(), stdout);

  Panel det{"Time until every node knows of a failure", "cluster size N (log scale)", "seconds", {}, {}};
  det.x_log = true;
  Series all{"all nodes", {}, true}, first{"first node", {}, true};
  Panel msg{"Messages per node per second (steady state)", "cluster size N (log scale)", "msgs/node/s", {}, {}};
  msg.x_log = true;
  Series ms{"messages", {}, true};
  for (const auto& r : rows) {
    if (r.skipped) continue;
    all.points.emplace_back(double(r.n), r.detect_all);
    first.points.emplace_back(double(r.n), r.detect_first);
    ms.points.emplace_back(double(r.n), r.msgs);
  }
  det.series = {all, first};
  msg.series = {ms};
  std::ofstream(out + "/sim-gossip-scaling.svg") << render_svg("SWIM on the shipping memberlist core (simulated)", {det, msg});
  std::ofstream(out + "/sim-gossip-table.md") << table;
  return 0;
}
