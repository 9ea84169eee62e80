#include "simulations/memberlist_node.h"

#include <fmt/format.h>

#include "gossip/memberlist.h"

namespace shoal::sim {

namespace {

class MemberlistNode final : public SimNode, private gossip::MemberlistDelegate {
 public:
  MemberlistNode(NodeContext& ctx)
      : index_(ctx.id.index),
        sink_(ctx.sink),
        ml_(options(ctx), this, &outbox_, ctx.rng) {}

  void start(TimePoint now) { ml_.start(now); }

  void join(const std::vector<gossip::Address>& seeds, TimePoint now) override {
    const uint64_t id = ++joins_;
    ml_.join(seeds, [this, id](int joined, std::vector<std::string> errors) {
      outbox_.push_back(gossip::JoinDone{id, joined, std::move(errors)});
    }, now);
  }
  void leave(TimePoint now) override {
    ml_.leave([this] { outbox_.push_back(gossip::LeaveDone{}); }, now);
  }
  void handle_packet(const gossip::Address& from, ByteView data, TimePoint now) override {
    ml_.handle_packet(from, data, now);
  }
  std::optional<Bytes> handle_stream(const gossip::Address& from, ByteView message,
                                     TimePoint now) override {
    return ml_.handle_stream(from, message, now);
  }
  void handle_stream_reply(uint64_t id, Result<Bytes> reply, TimePoint now) override {
    ml_.handle_stream_reply(id, reply, now);
  }
  void tick(TimePoint now) override { ml_.tick(now); }
  void learn_converged(const std::vector<gossip::PushNodeState>& members,
                       TimePoint now) override {
    ml_.learn_quietly(members, now);
  }
  Status send_user_event(const std::string& name, ByteView, TimePoint) override {
    return Status::failed_precondition(fmt::format(
        "user event '{}': the memberlist engine has no event layer; use engine = \"serf\"", name));
  }
  TimePoint next_wakeup() const override { return ml_.next_wakeup(); }
  void take_actions(std::vector<gossip::Action>& out) override {
    for (auto& a : outbox_) out.push_back(std::move(a));
    outbox_.clear();
  }
  uint64_t suspicions() const override { return ml_.counters().suspicions; }
  int health_score() const override { return ml_.health_score(); }
  void check_invariants() const override { ml_.check_invariants(); }

 private:
  static gossip::Memberlist::Options options(const NodeContext& ctx) {
    gossip::Memberlist::Options o;
    o.name = ctx.id.name;
    o.advertise = ctx.id.addr;
    o.config = ctx.config;
    o.pool = ctx.pool;
    return o;
  }

  // ---- MemberlistDelegate: the least a delegate can be ----
  Bytes node_meta(size_t) override { return {}; }
  void notify_msg(ByteView, TimePoint) override {}
  std::vector<Bytes> get_broadcasts(size_t, size_t, size_t) override { return {}; }
  Bytes local_state(bool) override { return {}; }
  void merge_remote_state(ByteView, bool, TimePoint) override {}
  void notify_join(const gossip::NodeState& n, TimePoint) override {
    sink_->on_view(index_, n.name(), View::alive);
  }
  void notify_leave(const gossip::NodeState& n, TimePoint) override {
    sink_->on_view(index_, n.name(),
                   n.state == gossip::NodeStateType::left ? View::left : View::failed);
  }
  void notify_update(const gossip::NodeState& n, TimePoint) override {
    sink_->on_view(index_, n.name(), View::alive);
  }
  void notify_conflict(const gossip::NodeState&, const gossip::NodeState&) override {}
  Bytes ack_payload() override { return {}; }
  void notify_ping_complete(const gossip::NodeState&, Duration, ByteView) override {}

  size_t index_;
  ViewSink* sink_;
  std::vector<gossip::Action> outbox_;
  gossip::Memberlist ml_;
  uint64_t joins_ = 0;
};

}  // namespace

Result<std::unique_ptr<SimNode>> make_memberlist_node(NodeContext ctx) {
  auto node = std::make_unique<MemberlistNode>(ctx);
  node->start(ctx.now);
  return std::unique_ptr<SimNode>(std::move(node));
}

}  // namespace shoal::sim
