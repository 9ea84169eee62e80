// node/apps/app_events.h
//
// AppEvents: an app's lifecycle events (event_log.h) and the failover episodes in progress,
// kept inside AppState so that every replica derives the same events from the same
// commands. Most events are derived: AppState::apply() calls observe() before a command and
// derive() after it, and derive() says what changed (a release made, an instance placed, a
// report that turns an instance running, crashed, healthy...). What only the app leader
// knows comes as explicit commands built here: a node that failed while running instances
// of the app (which opens a failover episode), a leader change, or any other event.
//
// Failover episode: node_failed(X) at T0 notes how many desired instances of each type ran
// on X. The episode is `placed` (event replacements_placed, T1) once every such type again
// has its formation's count of desired instances off the failed nodes, and `recovered`
// (event failover_recovered, T2) once that many of them are up (running and healthy).
// Events carry the times and durations in `data`: detected_ms, placed_ms, up_ms,
// placed_after_ms (T1-T0), recovered_after_ms (T2-T0). An episode still open after
// kFailoverGiveUp is closed as failover_incomplete.
//
// Contract:
//  - Deterministic: times come from the commands (`now_ms`); a command without one (an
//    older entry) takes the newest time seen so far.
//  - observe() and derive() never fail and never change the app's state, only the events;
//    derive() adds nothing for a command that failed.
//  - Not thread-safe (as AppState).
#pragma once

#include <chrono>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/bytes.h"
#include "base/status.h"
#include "node/apps/event_log.h"

namespace shoal::node::apps {

class AppState;

inline constexpr int64_t kFailoverGiveUpMs = 10 * 60 * 1000;
inline constexpr size_t kMaxOpenEpisodes = 32;

// ---- command builders (ops of AppState, handled by AppEvents::apply_op) ----
// The leader saw `node` go down while it ran instances of this app: `how` is "failed"
// (gossip declared it), "left" or "gone" (no longer a member), for the message. [episode: bool]
Bytes app_node_failed(std::string_view node, int64_t now_ms, std::string_view how = "failed");
// `node` leads the app's group in `term`; recorded once per term. [recorded: bool]
Bytes app_leader_changed(std::string_view node, uint64_t term, int64_t now_ms);
// Any other event the leader knows of. [seq] invalid: bad kind (1-64 of [a-z_]).
Bytes app_record_event(std::string_view kind, std::string_view message, int64_t now_ms,
                       std::string_view node = {}, std::string_view instance = {},
                       uint64_t release = 0);

struct FailoverEpisode {
  std::string node;
  int64_t detected_ms = 0;
  int64_t placed_ms = 0;             // 0 until replacements are placed
  std::map<std::string, int> lost;   // process type -> desired instances that ran there
  std::vector<std::string> unmoved;  // those instances, until a placement replaces each
  bool operator==(const FailoverEpisode&) const = default;
};

class AppEvents {
 public:
  // What derive() compares against: the parts of the state a command may change.
  struct Seen {  // an instance as it was
    std::string node, state, health;
    int64_t restarts = 0;
    uint64_t generation = 0;
    bool desired = true;
  };
  struct Before {
    std::string op;
    std::map<std::string, Seen> instances;  // those a report or unplace names
    std::map<std::string, int> counts;          // formation counts
    bool stopped = false;
  };

  bool is_event_op(std::string_view op) const;
  // Applies app_node_failed / app_leader_changed / app_record_event. `app` is the state
  // before the command (read only).
  Bytes apply_op(const AppState& app, const nlohmann::json& command);
  Before observe(const AppState& app, const nlohmann::json& command) const;
  void derive(const Before& before, const AppState& app, const nlohmann::json& command,
              ByteView result);

  const EventLog& log() const { return log_; }
  const std::map<std::string, FailoverEpisode>& episodes() const { return episodes_; }
  uint64_t deploy_done() const { return deploy_done_; }
  // A snapshot without events (older node): the current release counts as rolled out.
  void assume_deployed(uint64_t release) { deploy_done_ = release; }

  nlohmann::json to_json() const;
  static Result<AppEvents> from_json(const nlohmann::json& j);
  bool operator==(const AppEvents&) const = default;

 private:
  int64_t time_of(const nlohmann::json& command);
  void add(const AppState& app, Event e);
  void derive_report(const Before& before, const AppState& app, const nlohmann::json& command,
                     int64_t now);
  void check_deploy(const AppState& app, int64_t now);
  void check_episodes(const AppState& app, int64_t now);

  EventLog log_;
  std::map<std::string, FailoverEpisode> episodes_;  // open ones, by failed node
  uint64_t deploy_done_ = 0;  // the newest release whose rollout finished
  uint64_t leader_term_ = 0;  // the term of the last leader_changed
  int64_t last_ms_ = 0;       // the newest command time seen
};

}  // namespace shoal::node::apps
