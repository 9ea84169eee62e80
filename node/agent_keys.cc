// The asking side of serf's keyring management on the agent (serf's keymanager.go): one
// `_serf_*-key` query to every member, its answers tallied into a gossip::KeyReport. The
// answering side (every member, this one included) is gossip/key_manager.h.
#include <spdlog/spdlog.h>

#include <memory>

#include "node/agent.h"
#include "node/loop_call.h"

namespace shoal::node {

namespace {

// The default query timeout grows with ceil(log10(N + 1)); 6 covers a million members.
constexpr int kQueryScaleMax = 6;
constexpr Duration kKeyOpSlack = std::chrono::seconds(5);

}  // namespace

Result<gossip::KeyReport> Agent::key_operation(gossip::KeyOp op, Bytes key) {
  const auto sc = config_.serf_config();
  const Duration bound =
      sc.memberlist.gossip_interval * sc.query_timeout_mult * kQueryScaleMax + kKeyOpSlack;
  return call_on_loop<gossip::KeyReport>(
      io_, stopped_, bound,
      [this, op, key = std::move(key)](Completion<gossip::KeyReport> done) {
        if (leaving_) {
          done(Status::unavailable("the agent is leaving the cluster"));
          return;
        }
        const TimePoint now = steady_now();
        // list-keys sends an empty key, as serf does.
        const Bytes payload =
            gossip::encode_key_request(op == gossip::KeyOp::list ? ByteView{} : ByteView(key));
        auto started = serf_->query(gossip::key_query_name(op), payload, gossip::QueryParams{}, now);
        if (!started.ok()) {
          done(started.status());
          return;
        }
        struct Tally {
          gossip::KeyReport report;
          bool finished = false;
        };
        auto tally = std::make_shared<Tally>();
        tally->report.num_nodes = static_cast<int>(serf_->num_gossip_members());
        spdlog::info("keyring-op-start op={} members={} timeout_ms={}", gossip::to_string(op),
                     tally->report.num_nodes, to_millis(started->deadline - now));
        auto finish = [tally, done, op] {
          if (tally->finished) return;
          tally->finished = true;
          const gossip::KeyReport& r = tally->report;
          if (Status s = r.status(); s.ok()) {
            spdlog::info("keyring-op-done op={} responses={}/{}", gossip::to_string(op),
                         r.num_resp, r.num_nodes);
          } else {
            spdlog::warn("keyring-op-failed op={} responses={}/{} errors={} reason=\"{}\"",
                         gossip::to_string(op), r.num_resp, r.num_nodes, r.num_err,
                         s.message());
          }
          done(r);
        };
        // Registered before the core's actions run: our own answer is among them.
        open_queries_[started->query] = [tally, finish](const QueryUpdate& u) {
          if (tally->finished) return;  // answers after everyone had answered
          if (u.kind == QueryUpdate::Kind::response) {
            tally->report.add(u.from, u.payload);
            // Everyone answered: no need to wait for the deadline (serf stops here too).
            if (tally->report.num_resp >= tally->report.num_nodes) finish();
          } else if (u.kind == QueryUpdate::Kind::done) {
            finish();
          }
        };
        after_core_call();
      });
}

}  // namespace shoal::node
