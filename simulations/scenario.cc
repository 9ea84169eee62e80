// Loading scenario files: toml++ does the syntax (its exceptions stop here), this file does
// the meaning, and every complaint names file, line and key.
#include "simulations/scenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <toml++/toml.h>

namespace shoal::sim {

std::string_view to_string(FaultEvent::Kind k) {
  using K = FaultEvent::Kind;
  switch (k) {
    case K::kill: return "kill";
    case K::restart: return "restart";
    case K::leave: return "leave";
    case K::partition: return "partition";
    case K::heal: return "heal";
    case K::slow: return "slow";
    case K::unslow: return "unslow";
    case K::pause: return "pause";
    case K::link: return "link";
    case K::clear_link: return "clear_link";
    case K::skew: return "skew";
    case K::bandwidth: return "bandwidth";
    case K::event: return "event";
    case K::add_voter: return "add_voter";
    case K::remove: return "remove";
    case K::transfer: return "transfer";
  }
  return "?";
}

std::string NodeSelector::to_string() const {
  switch (kind) {
    case Kind::all: return "all";
    case Kind::rest: return "rest";
    case Kind::random: return fmt::format("{{random={}}}", count);
    case Kind::fraction: return fmt::format("{{fraction={}}}", fraction);
    case Kind::list: return fmt::format("[{}]", fmt::join(indices, ","));
  }
  return "?";
}

namespace {

// One error at a place in one file. Thrown only inside this file, caught in parse_scenario.
struct ScenarioError {
  std::string message;
};

class Reader {
 public:
  explicit Reader(std::string_view file) : file_(file) {}

  [[noreturn]] void fail(const toml::node* at, std::string_view key, std::string_view what) const {
    std::string where = file_;
    if (at != nullptr && at->source().begin.line > 0) {
      where += fmt::format(":{}", at->source().begin.line);
    }
    throw ScenarioError{fmt::format("{}: {}: {}", where, key, what)};
  }

  // Every key of `t` must be in `allowed`.
  void only(const toml::table& t, std::string_view path, std::initializer_list<std::string_view> allowed) const {
    for (const auto& [k, v] : t) {
      if (std::find(allowed.begin(), allowed.end(), k.str()) == allowed.end()) {
        fail(&v, join(path, k.str()),
             fmt::format("unknown key (allowed here: {})", fmt::join(allowed, ", ")));
      }
    }
  }

  static std::string join(std::string_view path, std::string_view key) {
    return path.empty() ? std::string(key) : fmt::format("{}.{}", path, key);
  }

  Duration duration(const toml::node& n, std::string_view key) const {
    if (auto s = n.as_string()) {
      auto d = parse_duration(s->get());
      if (!d.ok()) fail(&n, key, d.status().message());
      if (*d < Duration::zero()) fail(&n, key, "must not be negative");
      return *d;
    }
    fail(&n, key, "expected a duration string such as \"500ms\" or \"2s\"");
  }
  double probability(const toml::node& n, std::string_view key) const {
    const double v = number(n, key);
    if (v < 0 || v > 1) fail(&n, key, fmt::format("{} is not a probability in [0, 1]", v));
    return v;
  }
  double number(const toml::node& n, std::string_view key) const {
    if (auto i = n.as_integer()) return static_cast<double>(i->get());
    if (auto f = n.as_floating_point()) return f->get();
    fail(&n, key, "expected a number");
  }
  int64_t integer(const toml::node& n, std::string_view key, int64_t min, int64_t max) const {
    auto i = n.as_integer();
    if (!i) fail(&n, key, "expected an integer");
    if (i->get() < min || i->get() > max) {
      fail(&n, key, fmt::format("{} is out of range [{}, {}]", i->get(), min, max));
    }
    return i->get();
  }
  std::string string(const toml::node& n, std::string_view key) const {
    if (auto s = n.as_string()) return s->get();
    fail(&n, key, "expected a string");
  }
  bool boolean(const toml::node& n, std::string_view key) const {
    if (auto b = n.as_boolean()) return b->get();
    fail(&n, key, "expected true or false");
  }

  LatencyDist latency(const toml::node& n, std::string_view key) const {
    if (n.is_string()) return LatencyDist::fixed(duration(n, key));
    const auto* t = n.as_table();
    if (t == nullptr) fail(&n, key, "expected \"2ms\" or a table such as {dist=\"normal\", mean=\"2ms\", stddev=\"1ms\"}");
    const auto* dist = t->get("dist");
    if (dist == nullptr) fail(&n, key, "missing 'dist' (fixed, uniform, normal or pareto)");
    const std::string kind = string(*dist, join(key, "dist"));
    auto need = [&](std::string_view k) -> const toml::node& {
      const auto* v = t->get(k);
      if (v == nullptr) fail(&n, key, fmt::format("dist \"{}\" needs '{}'", kind, k));
      return *v;
    };
    LatencyDist d;
    if (kind == "fixed") {
      only(*t, key, {"dist", "value"});
      d = LatencyDist::fixed(duration(need("value"), join(key, "value")));
    } else if (kind == "uniform") {
      only(*t, key, {"dist", "min", "max"});
      d = LatencyDist::uniform(duration(need("min"), join(key, "min")),
                               duration(need("max"), join(key, "max")));
      if (d.b < d.a) fail(&n, key, "max is below min");
    } else if (kind == "normal") {
      only(*t, key, {"dist", "mean", "stddev"});
      d = LatencyDist::normal(duration(need("mean"), join(key, "mean")),
                              duration(need("stddev"), join(key, "stddev")));
    } else if (kind == "pareto") {
      only(*t, key, {"dist", "min", "shape"});
      d = LatencyDist::pareto(duration(need("min"), join(key, "min")),
                              number(need("shape"), join(key, "shape")));
      if (d.shape <= 0) fail(&n, key, "shape must be positive");
    } else {
      fail(dist, join(key, "dist"),
           fmt::format("'{}' is not a distribution (fixed, uniform, normal, pareto)", kind));
    }
    return d;
  }

  NodeSelector selector(const toml::node& n, std::string_view key) const {
    NodeSelector s;
    if (auto i = n.as_integer()) {
      s.indices.push_back(i->get());
    } else if (auto str = n.as_string()) {
      if (str->get() == "all") s.kind = NodeSelector::Kind::all;
      else if (str->get() == "rest") s.kind = NodeSelector::Kind::rest;
      else fail(&n, key, fmt::format("'{}' is not a node set (\"all\" or \"rest\")", str->get()));
    } else if (auto arr = n.as_array()) {
      for (const auto& e : *arr) {
        auto i = e.as_integer();
        if (!i) fail(&e, key, "node lists hold integers (node indices)");
        s.indices.push_back(i->get());
      }
      if (s.indices.empty()) fail(&n, key, "empty node list");
    } else if (auto t = n.as_table()) {
      only(*t, key, {"random", "fraction"});
      if (const auto* r = t->get("random")) {
        s.kind = NodeSelector::Kind::random;
        s.count = integer(*r, join(key, "random"), 1, 1'000'000);
      } else if (const auto* f = t->get("fraction")) {
        s.kind = NodeSelector::Kind::fraction;
        s.fraction = probability(*f, join(key, "fraction"));
      } else {
        fail(&n, key, "a table selector needs 'random' or 'fraction'");
      }
    } else {
      fail(&n, key, "expected a node index, a list of indices, \"all\", \"rest\", {random=K} or {fraction=F}");
    }
    return s;
  }

  std::string file_;
};

// Reads `events[i]`; a flap appends several.
void read_event(const Reader& r, const toml::table& t, size_t index, std::vector<FaultEvent>& out) {
  using K = FaultEvent::Kind;
  const std::string path = fmt::format("events[{}]", index);
  const auto* at = t.get("at");
  if (at == nullptr) r.fail(&t, path, "missing 'at' (when the fault happens, e.g. at = \"12s\")");
  FaultEvent e;
  e.where = path;
  e.at = r.duration(*at, Reader::join(path, "at"));
  static const std::vector<std::pair<std::string_view, K>> kinds = {
      {"kill", K::kill},         {"restart", K::restart}, {"leave", K::leave},
      {"partition", K::partition}, {"heal", K::heal},   {"slow", K::slow},
      {"unslow", K::unslow},     {"pause", K::pause},     {"link", K::link},
      {"clear_link", K::clear_link}, {"skew", K::skew}, {"bandwidth", K::bandwidth},
      {"event", K::event},
      {"add_voter", K::add_voter}, {"remove", K::remove}, {"transfer", K::transfer}};
  const toml::node* body = nullptr;
  std::string action;
  for (const auto& [k, v] : t) {
    if (k.str() == "at") continue;
    if (body != nullptr) r.fail(&v, path, fmt::format("has both '{}' and '{}'; one fault per entry", action, k.str()));
    action = std::string(k.str());
    body = &v;
  }
  if (body == nullptr) r.fail(&t, path, "no fault given (kill, restart, leave, partition, heal, slow, unslow, pause, link, clear_link, skew, bandwidth, event, flap)");
  const std::string key = Reader::join(path, action);

  if (action == "flap") {
    const auto* ft = body->as_table();
    if (ft == nullptr) r.fail(body, key, "expected {nodes=..., period=\"6s\", down=\"3s\", until=\"40s\"}");
    r.only(*ft, key, {"nodes", "others", "period", "down", "until", "name", "one_way"});
    auto need = [&](std::string_view k) -> const toml::node& {
      const auto* v = ft->get(k);
      if (v == nullptr) r.fail(body, key, fmt::format("missing '{}'", k));
      return *v;
    };
    FaultEvent cut = e;
    cut.kind = K::partition;
    cut.nodes = r.selector(need("nodes"), Reader::join(key, "nodes"));
    cut.others.kind = NodeSelector::Kind::rest;
    if (const auto* o = ft->get("others")) cut.others = r.selector(*o, Reader::join(key, "others"));
    if (const auto* o = ft->get("one_way")) cut.one_way = r.boolean(*o, Reader::join(key, "one_way"));
    cut.name = "flap";
    if (const auto* nm = ft->get("name")) cut.name = r.string(*nm, Reader::join(key, "name"));
    const Duration period = r.duration(need("period"), Reader::join(key, "period"));
    const Duration down = r.duration(need("down"), Reader::join(key, "down"));
    const Duration until = r.duration(need("until"), Reader::join(key, "until"));
    if (period <= Duration::zero() || down >= period) {
      r.fail(body, key, "needs 0 < down < period");
    }
    for (Duration t0 = e.at; t0 < until; t0 += period) {
      FaultEvent c = cut;
      c.at = t0;
      out.push_back(c);
      FaultEvent h = e;
      h.kind = K::heal;
      h.name = cut.name;
      h.at = std::min(t0 + down, until);
      out.push_back(h);
    }
    return;
  }

  auto it = std::find_if(kinds.begin(), kinds.end(), [&](const auto& p) { return p.first == action; });
  if (it == kinds.end()) r.fail(body, key, "is not a fault this simulator knows");
  e.kind = it->second;
  e.others.kind = NodeSelector::Kind::rest;

  switch (e.kind) {
    case K::kill:
    case K::restart:
    case K::leave:
    case K::unslow:
    case K::add_voter:
    case K::remove:
    case K::transfer:
      e.nodes = r.selector(*body, key);
      break;
    case K::heal:
    case K::clear_link:
      e.name = r.string(*body, key);
      break;
    case K::event: {
      // A bare selector, or {nodes = ..., count = K}; {random = K} is still a selector.
      const auto* bt = body->as_table();
      if (bt == nullptr || (!bt->contains("nodes") && !bt->contains("count"))) {
        e.nodes = r.selector(*body, key);
        break;
      }
      r.only(*bt, key, {"nodes", "count"});
      const auto* nodes = bt->get("nodes");
      if (nodes == nullptr) r.fail(body, key, "missing 'nodes' (who sends, e.g. nodes = {random = 3})");
      e.nodes = r.selector(*nodes, Reader::join(key, "nodes"));
      if (const auto* v = bt->get("count")) e.count = r.integer(*v, Reader::join(key, "count"), 1, 10'000);
      break;
    }
    case K::partition:
    case K::link:
    case K::slow:
    case K::pause:
    case K::skew:
    case K::bandwidth: {
      const auto* bt = body->as_table();
      if (bt == nullptr) r.fail(body, key, "expected a table, e.g. {nodes = [0, 1], ...}");
      const auto* nodes = bt->get("nodes");
      if (nodes == nullptr) r.fail(body, key, "missing 'nodes'");
      e.nodes = r.selector(*nodes, Reader::join(key, "nodes"));
      auto get = [&](std::string_view k) { return bt->get(k); };
      if (e.kind == K::partition) {
        r.only(*bt, key, {"nodes", "others", "one_way", "name"});
      } else if (e.kind == K::link) {
        r.only(*bt, key, {"nodes", "others", "one_way", "name", "latency", "loss", "duplicate", "reorder", "reorder_delay"});
        if (auto* v = get("latency")) e.link.latency = r.latency(*v, Reader::join(key, "latency"));
        if (auto* v = get("loss")) e.link.loss = r.probability(*v, Reader::join(key, "loss"));
        if (auto* v = get("duplicate")) e.link.duplicate = r.probability(*v, Reader::join(key, "duplicate"));
        if (auto* v = get("reorder")) e.link.reorder = r.probability(*v, Reader::join(key, "reorder"));
        if (auto* v = get("reorder_delay")) e.link.reorder_delay = r.duration(*v, Reader::join(key, "reorder_delay"));
      } else if (e.kind == K::slow || e.kind == K::pause) {
        const std::string_view dk = e.kind == K::slow ? "delay" : "for";
        r.only(*bt, key, {"nodes", dk});
        const auto* d = get(dk);
        if (d == nullptr) r.fail(body, key, fmt::format("missing '{}'", dk));
        e.delay = r.duration(*d, Reader::join(key, dk));
      } else if (e.kind == K::skew) {
        r.only(*bt, key, {"nodes", "drift_ppm", "jump"});
        if (auto* v = get("drift_ppm")) e.drift_ppm = r.integer(*v, Reader::join(key, "drift_ppm"), -500'000, 1'000'000);
        if (auto* v = get("jump")) e.delay = r.duration(*v, Reader::join(key, "jump"));
      } else if (e.kind == K::bandwidth) {
        r.only(*bt, key, {"nodes", "rate"});
        const auto* v = get("rate");
        if (v == nullptr) r.fail(body, key, "missing 'rate' (bytes per second, 0 for unlimited)");
        e.rate = r.number(*v, Reader::join(key, "rate"));
        if (e.rate < 0) r.fail(v, Reader::join(key, "rate"), "must not be negative");
      }
      if (auto* v = get("others")) e.others = r.selector(*v, Reader::join(key, "others"));
      if (auto* v = get("one_way")) e.one_way = r.boolean(*v, Reader::join(key, "one_way"));
      if (auto* v = get("name")) e.name = r.string(*v, Reader::join(key, "name"));
      break;
    }
  }
  out.push_back(std::move(e));
}

void read_gossip(const Reader& r, const toml::table& t, gossip::Config& c) {
  r.only(t, "gossip", {"probe_interval", "probe_timeout", "suspicion_mult", "suspicion_max_timeout_mult",
                       "awareness_max_multiplier", "indirect_checks", "retransmit_mult", "gossip_interval",
                       "gossip_nodes", "push_pull_interval", "disable_tcp_pings", "tcp_timeout",
                       "gossip_to_the_dead_time", "lifeguard"});
  auto dur = [&](std::string_view k, Duration& out) {
    if (const auto* v = t.get(k)) out = r.duration(*v, Reader::join("gossip", k));
  };
  auto num = [&](std::string_view k, int& out, int min) {
    if (const auto* v = t.get(k)) out = static_cast<int>(r.integer(*v, Reader::join("gossip", k), min, 1000));
  };
  dur("probe_interval", c.probe_interval);
  dur("probe_timeout", c.probe_timeout);
  dur("gossip_interval", c.gossip_interval);
  dur("push_pull_interval", c.push_pull_interval);
  dur("tcp_timeout", c.tcp_timeout);
  dur("gossip_to_the_dead_time", c.gossip_to_the_dead_time);
  num("suspicion_mult", c.suspicion_mult, 1);
  num("suspicion_max_timeout_mult", c.suspicion_max_timeout_mult, 1);
  num("awareness_max_multiplier", c.awareness_max_multiplier, 1);
  num("indirect_checks", c.indirect_checks, 0);
  num("retransmit_mult", c.retransmit_mult, 1);
  num("gossip_nodes", c.gossip_nodes, 1);
  if (const auto* v = t.get("disable_tcp_pings")) c.disable_tcp_pings = r.boolean(*v, "gossip.disable_tcp_pings");
  if (const auto* v = t.get("lifeguard")) c.lifeguard = r.boolean(*v, "gossip.lifeguard");
  if (c.probe_interval <= Duration::zero() || c.gossip_interval <= Duration::zero()) {
    r.fail(&t, "gossip", "probe_interval and gossip_interval must be positive");
  }
}

void read_raft(const Reader& r, const toml::table& t, RaftParams& p) {
  r.only(t, "raft", {"voters", "clients", "keys", "read_fraction", "client_timeout", "think", "retry",
                     "snapshot_every", "snapshot_chunk", "disk", "election_timeout_min",
                     "election_timeout_max", "heartbeat_interval", "replication_timeout", "pre_vote",
                     "check_quorum", "quiesce_after", "detect_every", "nemesis_every", "nemesis",
                     "quiet", "amnesia", "stale_reads"});
  auto dur = [&](std::string_view k, Duration& out) {
    if (const auto* v = t.get(k)) out = r.duration(*v, Reader::join("raft", k));
  };
  auto num = [&](std::string_view k, int64_t& out, int64_t min, int64_t max) {
    if (const auto* v = t.get(k)) out = r.integer(*v, Reader::join("raft", k), min, max);
  };
  num("voters", p.voters, 1, 9);
  num("clients", p.clients, 0, 1000);
  num("keys", p.keys, 1, 1'000'000);
  num("snapshot_every", p.snapshot_every, 0, 1'000'000'000);
  num("snapshot_chunk", p.snapshot_chunk, 1, 1 << 30);
  if (const auto* v = t.get("read_fraction")) p.read_fraction = r.probability(*v, "raft.read_fraction");
  dur("client_timeout", p.client_timeout);
  dur("think", p.think);
  dur("retry", p.retry);
  if (const auto* v = t.get("disk")) p.disk = r.latency(*v, "raft.disk");
  dur("election_timeout_min", p.election_timeout_min);
  dur("election_timeout_max", p.election_timeout_max);
  dur("heartbeat_interval", p.heartbeat_interval);
  dur("replication_timeout", p.replication_timeout);
  dur("quiesce_after", p.quiesce_after);
  dur("detect_every", p.detect_every);
  if (p.detect_every <= Duration::zero()) r.fail(&t, "raft.detect_every", "must be positive");
  if (const auto* v = t.get("pre_vote")) p.pre_vote = r.boolean(*v, "raft.pre_vote");
  if (const auto* v = t.get("check_quorum")) p.check_quorum = r.boolean(*v, "raft.check_quorum");
  if (const auto* v = t.get("amnesia")) p.amnesia = r.boolean(*v, "raft.amnesia");
  if (const auto* v = t.get("stale_reads")) p.stale_reads = r.boolean(*v, "raft.stale_reads");
  dur("nemesis_every", p.nemesis_every);
  dur("quiet", p.quiet);
  if (const auto* v = t.get("nemesis")) {
    const auto* arr = v->as_array();
    if (arr == nullptr) r.fail(v, "raft.nemesis", "expected a list such as [\"kill\", \"partition\"]");
    static const std::set<std::string> known = {"kill", "partition", "isolate_leader", "loss",
                                                "pause", "membership", "transfer", "skew"};
    for (const auto& e : *arr) {
      const std::string k = r.string(e, "raft.nemesis");
      if (!known.count(k)) {
        r.fail(&e, "raft.nemesis", fmt::format("'{}' is not a nemesis fault ({})", k, fmt::join(known, ", ")));
      }
      p.nemesis.push_back(k);
    }
  }
  if (p.client_timeout <= Duration::zero()) r.fail(&t, "raft.client_timeout", "must be positive");
}

void read_apps(const Reader& r, const toml::table& t, AppsParams& p) {
  r.only(t, "apps", {"voters", "web", "worker", "deploys", "crashing", "crash_after", "turn",
                     "busy_turn", "detection", "prepare", "start", "stop", "stop_grace",
                     "backoff_base", "backoff_max", "reassert_grace", "restore_within",
                     "settle_within", "max_placements", "forget_terms"});
  auto dur = [&](std::string_view k, Duration& out) {
    if (const auto* v = t.get(k)) out = r.duration(*v, Reader::join("apps", k));
  };
  auto num = [&](std::string_view k, int64_t& out, int64_t min, int64_t max) {
    if (const auto* v = t.get(k)) out = r.integer(*v, Reader::join("apps", k), min, max);
  };
  num("voters", p.voters, 1, 9);
  num("web", p.web, 0, 100);
  num("worker", p.worker, 0, 100);
  for (auto [k, d] : {std::pair<std::string_view, Duration*>{"crash_after", &p.crash_after},
                      {"turn", &p.turn}, {"busy_turn", &p.busy_turn}, {"detection", &p.detection},
                      {"prepare", &p.prepare}, {"start", &p.start}, {"stop", &p.stop},
                      {"stop_grace", &p.stop_grace}, {"backoff_base", &p.backoff_base},
                      {"backoff_max", &p.backoff_max}, {"reassert_grace", &p.reassert_grace},
                      {"restore_within", &p.restore_within}, {"settle_within", &p.settle_within}}) {
    dur(k, *d);
  }
  if (p.turn <= Duration::zero() || p.busy_turn <= Duration::zero()) {
    r.fail(&t, "apps.turn", "turn and busy_turn must be positive");
  }
  if (const auto* v = t.get("deploys")) {
    const auto* arr = v->as_array();
    if (arr == nullptr) r.fail(v, "apps.deploys", "expected a list of times such as [\"1s\", \"30s\"]");
    p.deploys.clear();
    for (const auto& e : *arr) p.deploys.push_back(r.duration(e, "apps.deploys"));
  }
  if (const auto* v = t.get("crashing")) {
    const auto* arr = v->as_array();
    if (arr == nullptr) r.fail(v, "apps.crashing", "expected a list of deploy numbers such as [2]");
    for (const auto& e : *arr) p.crashing.push_back(r.integer(e, "apps.crashing", 1, 1000));
  }
  if (const auto* v = t.get("forget_terms")) p.forget_terms = r.boolean(*v, "apps.forget_terms");
  if (const auto* v = t.get("max_placements")) {
    p.max_placements = r.integer(*v, "apps.max_placements", 0, 1'000'000);
  }
}

Scenario parse(const Reader& r, const toml::table& root, std::string_view file) {
  Scenario s;
  s.file = std::string(file);
  r.only(root, "", {"name", "description", "duration", "sample", "cluster", "gossip", "raft", "apps", "network", "events", "checks"});
  if (const auto* v = root.get("name")) s.name = r.string(*v, "name");
  if (s.name.empty()) r.fail(&root, "name", "missing (every scenario has a name)");
  if (const auto* v = root.get("description")) s.description = r.string(*v, "description");
  if (const auto* v = root.get("duration")) s.duration = r.duration(*v, "duration");
  if (const auto* v = root.get("sample")) s.sample_interval = r.duration(*v, "sample");
  if (s.duration <= Duration::zero()) r.fail(root.get("duration"), "duration", "must be positive");
  if (s.sample_interval < std::chrono::milliseconds(10)) r.fail(root.get("sample"), "sample", "must be at least 10ms");

  if (const auto* node = root.get("cluster")) {
    const auto* t = node->as_table();
    if (t == nullptr) r.fail(node, "cluster", "expected a table [cluster]");
    r.only(*t, "cluster", {"nodes", "engine", "profile", "join_window", "seeds", "warm_start"});
    if (const auto* v = t->get("nodes")) s.nodes = r.integer(*v, "cluster.nodes", 1, 100'000);
    if (const auto* v = t->get("engine")) {
      s.engine = r.string(*v, "cluster.engine");
      if (s.engine != "serf" && s.engine != "memberlist" && s.engine != "raft" && s.engine != "apps") {
        r.fail(v, "cluster.engine", "use \"serf\", \"memberlist\", \"raft\" or \"apps\"");
      }
    }
    if (const auto* v = t->get("profile")) {
      auto c = gossip::Config::by_name(r.string(*v, "cluster.profile"));
      if (!c.ok()) r.fail(v, "cluster.profile", c.status().message());
      s.gossip = *c;
    }
    if (const auto* v = t->get("join_window")) s.join_window = r.duration(*v, "cluster.join_window");
    if (const auto* v = t->get("seeds")) s.seeds = r.integer(*v, "cluster.seeds", 1, 100);
    if (const auto* v = t->get("warm_start")) s.warm_start = r.boolean(*v, "cluster.warm_start");
  }
  if (const auto* node = root.get("gossip")) {
    const auto* t = node->as_table();
    if (t == nullptr) r.fail(node, "gossip", "expected a table [gossip]");
    read_gossip(r, *t, s.gossip);
  }
  if (const auto* node = root.get("raft")) {
    const auto* t = node->as_table();
    if (t == nullptr) r.fail(node, "raft", "expected a table [raft]");
    if (s.engine != "raft") r.fail(node, "raft", "only for cluster.engine = \"raft\"");
    read_raft(r, *t, s.raft);
  }
  if (const auto* node = root.get("apps")) {
    const auto* t = node->as_table();
    if (t == nullptr) r.fail(node, "apps", "expected a table [apps]");
    if (s.engine != "apps") r.fail(node, "apps", "only for cluster.engine = \"apps\"");
    read_apps(r, *t, s.apps);
  }
  if (const auto* node = root.get("network")) {
    const auto* t = node->as_table();
    if (t == nullptr) r.fail(node, "network", "expected a table [network]");
    r.only(*t, "network", {"latency", "loss", "duplicate", "reorder", "reorder_delay", "bandwidth"});
    if (const auto* v = t->get("latency")) s.network.latency = r.latency(*v, "network.latency");
    if (const auto* v = t->get("loss")) s.network.loss = r.probability(*v, "network.loss");
    if (const auto* v = t->get("duplicate")) s.network.duplicate = r.probability(*v, "network.duplicate");
    if (const auto* v = t->get("reorder")) s.network.reorder = r.probability(*v, "network.reorder");
    if (const auto* v = t->get("reorder_delay")) s.network.reorder_delay = r.duration(*v, "network.reorder_delay");
    if (const auto* v = t->get("bandwidth")) {
      s.bandwidth = r.number(*v, "network.bandwidth");
      if (s.bandwidth < 0) r.fail(v, "network.bandwidth", "must not be negative");
    }
  }
  if (const auto* node = root.get("events")) {
    const auto* arr = node->as_array();
    if (arr == nullptr) r.fail(node, "events", "expected an array of tables [[events]]");
    for (size_t i = 0; i < arr->size(); ++i) {
      const auto* t = (*arr)[i].as_table();
      if (t == nullptr) r.fail(&(*arr)[i], fmt::format("events[{}]", i), "expected a table");
      read_event(r, *t, i, s.timeline);
    }
    std::stable_sort(s.timeline.begin(), s.timeline.end(),
                     [](const FaultEvent& a, const FaultEvent& b) { return a.at < b.at; });
    for (const auto& e : s.timeline) {
      if (e.at > s.duration) {
        r.fail(node, e.where + ".at", fmt::format("{} is after the end of the run ({})",
                                                  format_duration(e.at), format_duration(s.duration)));
      }
    }
  }
  if (const auto* node = root.get("checks")) {
    const auto* t = node->as_table();
    if (t == nullptr) r.fail(node, "checks", "expected a table [checks]");
    r.only(*t, "checks", {"converge_within", "detect_within", "max_false_failed", "max_false_positives", "events_within", "min_writes", "min_reads"});
    if (const auto* v = t->get("min_writes")) s.checks.min_writes = r.integer(*v, "checks.min_writes", 0, 1'000'000'000);
    if (const auto* v = t->get("min_reads")) s.checks.min_reads = r.integer(*v, "checks.min_reads", 0, 1'000'000'000);
    if (const auto* v = t->get("converge_within")) s.checks.converge_within = r.duration(*v, "checks.converge_within");
    if (const auto* v = t->get("detect_within")) s.checks.detect_within = r.duration(*v, "checks.detect_within");
    if (const auto* v = t->get("max_false_failed")) s.checks.max_false_failed = r.duration(*v, "checks.max_false_failed");
    if (const auto* v = t->get("events_within")) s.checks.events_within = r.duration(*v, "checks.events_within");
    if (const auto* v = t->get("max_false_positives")) s.checks.max_false_positives = r.integer(*v, "checks.max_false_positives", 0, 1'000'000'000);
  }
  return s;
}

}  // namespace

Result<Scenario> parse_scenario(std::string_view toml_text, std::string_view file) {
  Reader reader(file);
  try {
    toml::table root = toml::parse(toml_text, file);
    return parse(reader, root, file);
  } catch (const toml::parse_error& e) {
    return Status::invalid_argument(fmt::format("{}:{}: TOML syntax: {}", file,
                                                e.source().begin.line, e.description()));
  } catch (const ScenarioError& e) {
    return Status::invalid_argument(e.message);
  } catch (const std::exception& e) {
    return Status::invalid_argument(fmt::format("{}: {}", file, e.what()));
  }
}

Result<Scenario> load_scenario(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::not_found(fmt::format("{}: cannot open scenario file", path));
  std::stringstream buf;
  buf << in.rdbuf();
  return parse_scenario(buf.str(), path);
}

}  // namespace shoal::sim
