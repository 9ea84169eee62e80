// tests/gossip/local_cluster.h
//
// LocalCluster: several gossip::Serf cores wired together in memory under a virtual clock,
// for unit tests of the protocol rules. Packets arrive after a fixed latency unless the
// link is cut; streams are answered synchronously. Deterministic for a given seed.
// (The full simulator, with loss/latency distributions and crashes, is simulations/.)
#pragma once

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <queue>
#include <set>
#include <string>
#include <vector>

#include "base/rng.h"
#include "gossip/serf.h"

namespace shoal::gossip::test {

class LocalCluster {
 public:
  explicit LocalCluster(uint64_t seed, Config profile = Config::local())
      : rng_(seed), profile_(profile) {}

  // Adds a node named `name` at 127.0.0.1:(7000 + index).
  Serf& add(const std::string& name, std::map<std::string, std::string> tags = {},
            const std::function<void(SerfConfig&)>& adjust = nullptr) {
    SerfConfig c;
    c.node_name = name;
    c.advertise = *Address::parse("127.0.0.1", static_cast<uint16_t>(7000 + nodes_.size()));
    c.tags = std::move(tags);
    c.memberlist = profile_;
    if (adjust) adjust(c);
    auto serf = Serf::create(c, rng_.fork(), now_);
    REQUIRE(serf.ok());
    Node node{name, c.advertise, std::move(*serf), true};
    nodes_.push_back(std::move(node));
    drain(nodes_.size() - 1);
    return *nodes_.back().serf;
  }

  Serf& serf(const std::string& name) { return *find(name).serf; }
  Address addr(const std::string& name) { return find(name).addr; }

  // Joins `who` to `target` and runs until the join completes.
  void join(const std::string& who, const std::string& target, bool ignore_old = false) {
    auto& n = find(who);
    n.serf->join({addr(target)}, ignore_old, now_);
    drain(index_of(who));
  }

  void run_for(Duration d) {
    const TimePoint end = now_ + d;
    while (true) {
      TimePoint next = end;
      for (const auto& n : nodes_) {
        if (n.up) next = std::min(next, n.serf->next_wakeup());
      }
      if (!packets_.empty()) next = std::min(next, packets_.top().at);
      if (next > end) break;
      now_ = std::max(now_, next);
      deliver_due();
      for (size_t i = 0; i < nodes_.size(); ++i) {
        if (nodes_[i].up && nodes_[i].serf->next_wakeup() <= now_) {
          nodes_[i].serf->tick(now_);
          drain(i);
        }
      }
      for (const auto& n : nodes_) {
        if (n.up) n.serf->check_invariants();
      }
      if (next == end) break;
    }
    now_ = end;
  }

  // A crashed node comes back with the same name and address and no memory (restart).
  void restart(const std::string& name, const std::string& join_target) {
    Node& n = find(name);
    SerfConfig c = n.serf->config();
    auto serf = Serf::create(c, rng_.fork(), now_);
    REQUIRE(serf.ok());
    n.serf = std::move(*serf);
    n.up = true;
    drain(index_of(name));
    join(name, join_target);
  }

  // Stops a node without a word (kill -9).
  void crash(const std::string& name) { find(name).up = false; }
  // Drops every packet and stream between a and b.
  void cut(const std::string& a, const std::string& b) { cuts_.insert({a, b}); cuts_.insert({b, a}); }
  void heal() { cuts_.clear(); }
  void leave(const std::string& name) {
    find(name).serf->leave(now_);
    drain(index_of(name));
  }

  MemberStatus status(const std::string& observer, const std::string& member) {
    for (const auto& m : serf(observer).members()) {
      if (m.name == member) return m.status;
    }
    return MemberStatus::none;
  }
  size_t count(const std::string& observer, MemberStatus s) {
    size_t n = 0;
    for (const auto& m : serf(observer).members()) n += m.status == s;
    return n;
  }
  std::vector<MemberEvent>& events(const std::string& name) { return find(name).events; }
  std::vector<JoinDone>& joins(const std::string& name) { return find(name).join_results; }
  bool left(const std::string& name) { return find(name).left_done; }
  std::vector<UserEvent>& user_events(const std::string& name) { return find(name).user_events; }
  std::vector<QueryReceived>& queries(const std::string& name) { return find(name).queries; }
  std::vector<Action>& query_progress(const std::string& name) {
    return find(name).query_progress;
  }
  // How `name` answers the queries it receives (nullopt: no answer).
  void answer_queries(const std::string& name,
                      std::function<std::optional<Bytes>(const QueryReceived&)> fn) {
    find(name).answer = std::move(fn);
  }
  // Carries out what a direct call into node `name`'s core produced.
  void drain(const std::string& name) { drain(index_of(name)); }
  TimePoint now() const { return now_; }
  Duration latency = std::chrono::milliseconds(1);
  // Sees every UDP packet as it is sent (from = the sender's name).
  std::function<void(const std::string& from, const Bytes& data)> tap;

 private:
  struct Node {
    std::string name;
    Address addr;
    std::unique_ptr<Serf> serf;
    bool up;
    std::vector<MemberEvent> events;
    std::vector<JoinDone> join_results;
    bool left_done = false;
    std::vector<UserEvent> user_events;
    std::vector<QueryReceived> queries;
    std::vector<Action> query_progress;  // acks, responses, finished, conflict outcomes
    std::function<std::optional<Bytes>(const QueryReceived&)> answer;
  };
  struct InFlight {
    TimePoint at;
    uint64_t order;
    size_t from;
    Address to;
    Bytes data;
    bool operator>(const InFlight& o) const {
      return at != o.at ? at > o.at : order > o.order;
    }
  };

  Node& find(const std::string& name) { return nodes_[index_of(name)]; }
  size_t index_of(const std::string& name) {
    for (size_t i = 0; i < nodes_.size(); ++i) {
      if (nodes_[i].name == name) return i;
    }
    FAIL("no node " << name);
    return 0;
  }
  Node* by_addr(const Address& a) {
    for (auto& n : nodes_) {
      if (n.addr == a) return &n;
    }
    return nullptr;
  }
  bool blocked(size_t from, const Node& to) const {
    return cuts_.count({nodes_[from].name, to.name}) > 0;
  }

  void deliver_due() {
    while (!packets_.empty() && packets_.top().at <= now_) {
      InFlight p = packets_.top();
      packets_.pop();
      Node* to = by_addr(p.to);
      if (to == nullptr || !to->up || blocked(p.from, *to)) continue;
      to->serf->handle_packet(nodes_[p.from].addr, p.data, now_);
      drain(static_cast<size_t>(to - nodes_.data()));
    }
  }

  // Carries out every action node i produced. A stream is answered at once, so the
  // reply's own actions are handled (recursively) before the rest of the batch.
  void drain(size_t i) {
    auto actions = nodes_[i].serf->take_actions();
    for (auto& action : actions) process(i, action);
  }

  void process(size_t i, Action& action) {
    if (auto* p = std::get_if<SendPacket>(&action)) {
      if (tap) tap(nodes_[i].name, p->data);
      packets_.push(InFlight{now_ + latency, ++order_, i, p->to, std::move(p->data)});
    } else if (auto* s = std::get_if<StreamRequest>(&action)) {
      Node* to = by_addr(s->to);
      Result<Bytes> reply = Status::unavailable("connection refused");
      if (to != nullptr && to->up && !blocked(i, *to)) {
        auto r = to->serf->handle_stream(nodes_[i].addr, s->data, now_);
        drain(static_cast<size_t>(to - nodes_.data()));
        reply = r ? Result<Bytes>(std::move(*r)) : Result<Bytes>(Status::io_error("no reply"));
      }
      if (s->expect_reply) {
        nodes_[i].serf->handle_stream_reply(s->id, std::move(reply), now_);
        drain(i);
      }
    } else if (auto* e = std::get_if<MemberEvent>(&action)) {
      nodes_[i].events.push_back(*e);
    } else if (auto* j = std::get_if<JoinDone>(&action)) {
      nodes_[i].join_results.push_back(*j);
    } else if (std::holds_alternative<LeaveDone>(action)) {
      nodes_[i].left_done = true;
    } else if (auto* u = std::get_if<UserEvent>(&action)) {
      nodes_[i].user_events.push_back(*u);
    } else if (auto* q = std::get_if<QueryReceived>(&action)) {
      nodes_[i].queries.push_back(*q);
      if (nodes_[i].answer) {
        if (auto payload = nodes_[i].answer(*q)) {
          (void)nodes_[i].serf->respond(q->token, std::move(*payload), now_);
          drain(i);
        }
      }
    } else {
      nodes_[i].query_progress.push_back(action);
    }
  }

  Rng rng_;
  Config profile_;
  TimePoint now_{};
  uint64_t order_ = 0;
  std::vector<Node> nodes_;
  std::priority_queue<InFlight, std::vector<InFlight>, std::greater<>> packets_;
  std::set<std::pair<std::string, std::string>> cuts_;
};

}  // namespace shoal::gossip::test
