#include "simulations/serf_node.h"

#include <fmt/format.h>

#include "gossip/serf.h"
#include "simulations/memberlist_node.h"

namespace shoal::sim {

namespace {

View view_of(gossip::MemberEventType t) {
  switch (t) {
    case gossip::MemberEventType::join:
    case gossip::MemberEventType::update: return View::alive;
    case gossip::MemberEventType::failed: return View::failed;
    case gossip::MemberEventType::leave: return View::left;
    case gossip::MemberEventType::reap: return View::unknown;
  }
  return View::unknown;
}

class SerfNode final : public SimNode {
 public:
  SerfNode(std::unique_ptr<gossip::Serf> serf, size_t index, ViewSink* sink)
      : serf_(std::move(serf)), index_(index), sink_(sink) {}

  void join(const std::vector<gossip::Address>& seeds, TimePoint now) override {
    serf_->join(seeds, false, now);
  }
  void leave(TimePoint now) override { serf_->leave(now); }
  void handle_packet(const gossip::Address& from, ByteView data, TimePoint now) override {
    serf_->handle_packet(from, data, now);
  }
  std::optional<Bytes> handle_stream(const gossip::Address& from, ByteView message,
                                     TimePoint now) override {
    return serf_->handle_stream(from, message, now);
  }
  void handle_stream_reply(uint64_t id, Result<Bytes> reply, TimePoint now) override {
    serf_->handle_stream_reply(id, std::move(reply), now);
  }
  void tick(TimePoint now) override { serf_->tick(now); }
  Status send_user_event(const std::string& name, ByteView payload, TimePoint now) override {
    return serf_->user_event(name, Bytes(payload.begin(), payload.end()), /*coalesce=*/false, now);
  }
  TimePoint next_wakeup() const override { return serf_->next_wakeup(); }
  void take_actions(std::vector<gossip::Action>& out) override {
    for (auto& a : serf_->take_actions()) {
      if (auto* e = std::get_if<gossip::MemberEvent>(&a)) {
        sink_->on_view(index_, e->member.name, view_of(e->type));
      } else if (auto* u = std::get_if<gossip::UserEvent>(&a)) {
        sink_->on_user_event(index_, u->name);
      } else {
        out.push_back(std::move(a));
      }
    }
  }
  uint64_t suspicions() const override { return serf_->stats().memberlist.suspicions; }
  int health_score() const override { return serf_->stats().health_score; }
  void check_invariants() const override { serf_->check_invariants(); }

 private:
  std::unique_ptr<gossip::Serf> serf_;
  size_t index_;
  ViewSink* sink_;
};

}  // namespace

Result<std::unique_ptr<SimNode>> make_serf_node(NodeContext ctx) {
  gossip::SerfConfig c;
  c.node_name = ctx.id.name;
  c.advertise = ctx.id.addr;
  c.memberlist = ctx.config;
  auto serf = gossip::Serf::create(std::move(c), ctx.rng, ctx.now);
  if (!serf.ok()) return serf.status();
  auto node = std::make_unique<SerfNode>(std::move(*serf), ctx.id.index, ctx.sink);
  return std::unique_ptr<SimNode>(std::move(node));
}

Result<NodeFactory> node_factory(std::string_view engine) {
  if (engine == "serf") return NodeFactory(make_serf_node);
  if (engine == "memberlist") return NodeFactory(make_memberlist_node);
  return Status::invalid_argument(
      fmt::format("engine '{}' is unknown; use \"serf\" or \"memberlist\"", engine));
}

}  // namespace shoal::sim
