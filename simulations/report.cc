#include "simulations/report.h"

#include <fmt/format.h>

#include <algorithm>
#include <tuple>

namespace shoal::sim {

namespace {

std::string secs(Duration d) { return fmt::format("{:.3f}s", to_seconds(d)); }

std::string secs(const std::optional<Duration>& d) { return d ? secs(*d) : std::string("-"); }

// Every event must reach every node that must get it (event_tracker.h) within `within`.
// One still on its way at the end is judged only if the run outlived its deadline.
CheckOutcome check_events_within(Duration within, TimePoint end,
                                 const std::vector<UserEventRecord>& events) {
  CheckOutcome o{"events_within " + format_duration(within), true, ""};
  size_t judged = 0, late = 0;
  const UserEventRecord* worst = nullptr;
  // Never reaching everyone is worse than reaching everyone late; then more nodes lacking
  // it, then slower, is worse.
  auto badness = [](const UserEventRecord& e) {
    return std::tuple{!e.all, e.pending, e.all ? *e.all - e.sent : Duration{}};
  };
  Duration slowest{};
  for (const auto& e : events) {
    if (!e.all && e.sent + within > end) continue;
    ++judged;
    if (e.all && *e.all - e.sent <= within) {
      slowest = std::max(slowest, *e.all - e.sent);
      continue;
    }
    ++late;
    if (worst == nullptr || badness(e) > badness(*worst)) worst = &e;
  }
  if (worst == nullptr) {
    o.detail = fmt::format("{} event(s) reached every node in time, slowest after {}", judged, secs(slowest));
    return o;
  }
  o.passed = false;
  const auto& w = *worst;
  o.detail = fmt::format(
      "{} of {} event(s) late; worst {} from n{} at {:.3f}s {}; lacking it after {}: {}", late, judged,
      w.name, w.sender, to_seconds(w.sent - kTimeZero),
      w.all ? "reached all after " + secs(*w.all - w.sent)
            : fmt::format("never reached {} of {} node(s)", w.pending, w.required),
      format_duration(within), w.lacking(w.sent + within));
  return o;
}

}  // namespace

void evaluate_checks(const Scenario& sc, RunReport& r) {
  const auto& c = sc.checks;
  if (c.converge_within) {
    CheckOutcome o{"converge_within " + format_duration(*c.converge_within), true, ""};
    size_t counted = 0;
    for (const auto& e : r.episodes) {
      if (e.interrupted) continue;
      ++counted;
      const double start = to_seconds(e.start - kTimeZero);
      if (!e.end) {
        // Still open at the end: only a failure if the run gave it enough time.
        if (e.start + *c.converge_within <= kTimeZero + sc.duration) {
          o.passed = false;
          o.detail += fmt::format("{} at {:.3f}s never converged; ", e.label, start);
        } else {
          --counted;
        }
      } else if (*e.end - e.start > *c.converge_within) {
        o.passed = false;
        o.detail += fmt::format("{} at {:.3f}s took {}; ", e.label, start, secs(*e.end - e.start));
      }
    }
    if (o.passed) o.detail = fmt::format("{} episode(s) converged in time", counted);
    r.checks.push_back(std::move(o));
  }
  if (c.detect_within) {
    CheckOutcome o{"detect_within " + format_duration(*c.detect_within), true, ""};
    size_t counted = 0;
    Duration worst{};
    for (const auto& k : r.kills) {
      if (k.interrupted) continue;
      if (!k.all) {
        if (k.at + *c.detect_within <= kTimeZero + sc.duration) {
          o.passed = false;
          o.detail += fmt::format("kill of n{} at {:.3f}s: only {} live nodes knew by the end; ",
                                  k.node, to_seconds(k.at - kTimeZero), k.aware);
          ++counted;
        }
        continue;
      }
      ++counted;
      worst = std::max(worst, *k.all - k.at);
      if (*k.all - k.at > *c.detect_within) {
        o.passed = false;
        o.detail += fmt::format("kill of n{} at {:.3f}s known to all after {}; ", k.node,
                                to_seconds(k.at - kTimeZero), secs(*k.all - k.at));
      }
    }
    if (o.passed) o.detail = fmt::format("{} kill(s), slowest known to all after {}", counted, secs(worst));
    r.checks.push_back(std::move(o));
  }
  if (c.max_false_failed) {
    CheckOutcome o{"max_false_failed " + format_duration(*c.max_false_failed), true, ""};
    o.passed = r.max_false_failed <= *c.max_false_failed;
    o.detail = r.max_false_failed_pair.empty() ? "no live reachable node was marked failed"
                                               : "longest: " + r.max_false_failed_pair;
    r.checks.push_back(std::move(o));
  }
  if (c.max_false_positives) {
    CheckOutcome o{fmt::format("max_false_positives {}", *c.max_false_positives), true, ""};
    o.passed = int64_t(r.false_positives) <= *c.max_false_positives;
    o.detail = fmt::format("{} healthy reachable node(s) declared failed", r.false_positives);
    r.checks.push_back(std::move(o));
  }
  if (c.events_within) {
    r.checks.push_back(check_events_within(*c.events_within, kTimeZero + sc.duration, r.user_events));
  }
  r.passed = std::all_of(r.checks.begin(), r.checks.end(), [](const auto& o) { return o.passed; });
}

std::string format_summary(const Scenario& sc, const RunReport& r) {
  std::string s;
  auto line = [&]<typename... A>(fmt::format_string<A...> f, A&&... a) {
    s += fmt::format(f, std::forward<A>(a)...);
    s += '\n';
  };
  line("scenario {} (seed {}): {} nodes, engine {}, profile {}, {} simulated",
       r.scenario, r.seed, r.nodes, sc.engine, sc.gossip.profile_name, format_duration(sc.duration));
  line("network: latency {}, loss {:.1f}%, dup {:.1f}%, reorder {:.1f}%", sc.network.latency.to_string(),
       sc.network.loss * 100, sc.network.duplicate * 100, sc.network.reorder * 100);
  line("events {}; packets sent {} delivered {} lost {}; streams {} failed {}; {:.1f} MB sent",
       r.events, r.packets_sent, r.packets_delivered, r.packets_lost, r.streams, r.streams_failed,
       double(r.bytes_sent) / 1e6);
  if (!r.samples.empty()) {
    double msgs = 0;
    for (const auto& x : r.samples) msgs += x.msgs_per_node_s;
    line("messages per node per second: {:.2f} (mean over samples)", msgs / double(r.samples.size()));
  }
  for (const auto& f : r.faults) line("  t={:8.3f}s  {}", f.first, f.second);
  for (const auto& e : r.episodes) {
    line("convergence after {} at {:.3f}s: {}", e.label, to_seconds(e.start - kTimeZero),
         e.interrupted ? "interrupted by a later fault"
         : e.end       ? fmt::format("{:.3f}s", to_seconds(*e.end - e.start))
                       : std::string("not converged by the end"));
  }
  size_t shown = 0;
  for (const auto& k : r.kills) {
    if (++shown > 20) {
      line("  ... and {} more kills", r.kills.size() - 20);
      break;
    }
    line("kill n{} at {:.3f}s: first noticed after {}, known to all after {}{}", k.node,
         to_seconds(k.at - kTimeZero), k.first ? secs(*k.first - k.at) : "-",
         k.all ? secs(*k.all - k.at) : "-", k.interrupted ? " (restarted first)" : "");
  }
  if (!r.user_events.empty() || sc.checks.events_within) {
    const UserEventSummary u = summarize(r.user_events);
    std::string within;
    if (sc.checks.events_within) {
      size_t in_time = 0;
      for (const auto& e : r.user_events) in_time += e.all && *e.all - e.sent <= *sc.checks.events_within;
      within = fmt::format(", {} within {}", in_time, format_duration(*sc.checks.events_within));
    }
    line("user events: {} sent, {} reached every node that must get it (median {}, max {}){}; "
         "deliveries missing at the end: {}",
         u.sent, u.reached_all, secs(u.median), secs(u.max), within, u.missing);
  }
  shown = 0;
  for (const auto& e : r.user_events) {
    if (++shown > 20) {
      line("  ... and {} more user events", r.user_events.size() - 20);
      break;
    }
    std::string more = e.all ? ", all after " + secs(*e.all - e.sent) : std::string(" by the end");
    if (e.excused > 0) more += fmt::format(", {} went down first", e.excused);
    if (e.pending > 0) more += ", missing at " + e.lacking(kTimeNever);
    line("user event {} from n{} at {:.3f}s: {} of {} node(s) up at the send got it{}", e.name,
         e.sender, to_seconds(e.sent - kTimeZero), e.required - e.pending - e.excused, e.required,
         more);
  }
  line("false positives: {} (longest false failure: {})", r.false_positives,
       r.max_false_failed_pair.empty() ? "none" : r.max_false_failed_pair);
  for (const auto& fp : r.false_positive_log) line("  false positive: {}", fp);
  if (r.past_wakeups > 0) line("core asked to be woken in the past {} times", r.past_wakeups);
  for (const auto& c : r.checks) line("check {:<28} {}  {}", c.name, c.passed ? "PASS" : "FAIL", c.detail);
  line("result: {}  digest {:016x}", r.passed ? "PASS" : "FAIL", r.digest);
  return s;
}

}  // namespace shoal::sim
