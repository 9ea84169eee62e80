// simulations/observer.h
//
// ClusterObserver: the simulator's omniscient bookkeeper. It knows the truth (which nodes
// are up) and every node's view of every other (fed by ViewSink as the cores report
// changes), and from the two derives, incrementally and without scanning member tables:
//  - convergence: how many live nodes hold a fully correct view (all live members alive,
//    every down member not alive), and episodes that must converge in time (start,
//    restarts, heals);
//  - detection: for each kill, when the first and the last live node stopped seeing the
//    victim alive (and the curve in between);
//  - false positives: a live, reachable, healthy member marked failed by a live node, and
//    how long such marks last;
//  - samples over time for the CSV timeline and the plots;
//  - user events: who must get each one, and when each did (event_tracker.h).
//
// Memory: one byte per (observer, member) pair, n^2 bytes (100 MB at 10,000 nodes).
// Contract: the simulator calls set_now() before anything that can change views, and the
// truth hooks (node_up/node_down/...) when it changes the world. Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/time.h"
#include "simulations/event_tracker.h"
#include "simulations/sim_node.h"

namespace shoal::sim {

struct KillRecord {
  size_t node = 0;
  TimePoint at{};
  std::optional<TimePoint> first;  // first live node to notice
  std::optional<TimePoint> all;    // every live node knows
  bool interrupted = false;        // restarted before everyone knew
  size_t aware = 0;
  int last_pct = -1;
  std::vector<std::pair<double, double>> curve;  // (seconds after kill, fraction aware)
};

struct Episode {
  std::string label;
  TimePoint start{};
  std::optional<TimePoint> end;
  bool interrupted = false;
};

struct Sample {
  double t = 0;
  size_t live = 0;
  size_t converged = 0;      // live nodes with a fully correct view
  double mean_correct = 0;   // mean over live nodes of the fraction of members seen right
  double msgs_per_node_s = 0;
  double bytes_per_node_s = 0;
  uint64_t suspicions = 0;   // raised in this interval, cluster-wide
  size_t false_failed = 0;   // (observer, live member) pairs currently marked failed
};

class ClusterObserver final : public ViewSink {
 public:
  // `reachable(o, m)`: o and m can talk and m is healthy (not slowed, paused or cut off).
  ClusterObserver(size_t n, std::function<bool(size_t, size_t)> reachable);

  void set_now(TimePoint now) { now_ = now; }
  void on_view(size_t observer, const std::string& member, View view) override;
  void on_user_event(size_t node, const std::string& name) override {
    events_.delivered(node, name, now_);
  }
  // The name the next user event must carry, and the record that `sender` sent it now.
  std::string next_event_name() const { return events_.next_name(); }
  void user_event_sent(size_t sender) { events_.sent(sender, up_, now_); }

  // ---- truth ----
  void node_up(size_t i);                // (re)started with an empty view
  void node_down(size_t i, bool killed); // crashed, or went away after a leave
  void recovered(const std::string& label);  // heal/unslow/...: measure convergence anew
  void disturbed();                      // a new fault: open episodes no longer count
  void open_episode(const std::string& label);

  // ---- measurements ----
  bool up(size_t i) const { return up_[i] != 0; }
  size_t live() const { return live_; }
  bool converged() const { return converged_ == live_; }
  View view(size_t o, size_t m) const { return static_cast<View>(view_[o * n_ + m]); }
  Sample sample(double t, uint64_t msgs, uint64_t bytes, uint64_t suspicions, double interval_s);
  size_t alive_seen(size_t o) const { return alive_cnt_[o]; }
  size_t failed_seen(size_t o) const { return failed_cnt_[o]; }
  void finish();  // closes open false-failure marks at the end of the run

  const std::vector<KillRecord>& kills() const { return kills_; }
  const std::vector<Episode>& episodes() const { return episodes_; }
  uint64_t false_positives() const { return false_positives_; }
  Duration max_false_failed() const { return max_false_failed_; }
  std::string max_false_failed_pair() const { return max_pair_; }
  uint64_t view_changes() const { return view_changes_; }
  const std::vector<UserEventRecord>& user_events() const { return events_.events(); }
  // The first few false positives, as "t=12.3s n4 declared n9 failed".
  const std::vector<std::string>& false_positive_log() const { return fp_log_; }

  static size_t index_of(const std::string& name);  // "n42" -> 42; npos if not ours

 private:
  bool ok(size_t m, uint8_t v) const {
    return up_[m] ? v == static_cast<uint8_t>(View::alive) : v != static_cast<uint8_t>(View::alive);
  }
  void set(size_t o, size_t m, uint8_t v);
  void adjust_correct(size_t o, int delta);
  void touch_kill(KillRecord& k);
  void check_episodes();
  void close_pair(size_t o, size_t m);
  static uint64_t key(size_t o, size_t m) { return (uint64_t(o) << 32) | m; }

  size_t n_;
  std::function<bool(size_t, size_t)> reachable_;
  TimePoint now_{};
  std::vector<uint8_t> view_;
  std::vector<uint8_t> up_;
  std::vector<uint32_t> correct_;
  std::vector<uint32_t> alive_cnt_, failed_cnt_;
  std::vector<int64_t> kill_of_;  // index into kills_ of the open kill of a node, or -1
  std::vector<size_t> open_kills_;
  size_t live_ = 0;
  size_t converged_ = 0;
  uint64_t sum_correct_live_ = 0;
  std::vector<KillRecord> kills_;
  std::vector<Episode> episodes_;
  std::unordered_map<uint64_t, TimePoint> false_failed_;  // (o, live m) marked failed since
  uint64_t false_positives_ = 0;
  Duration max_false_failed_{};
  std::string max_pair_;
  uint64_t view_changes_ = 0;
  std::vector<std::string> fp_log_;
  EventTracker events_;
};

}  // namespace shoal::sim
