// Timeline faults: what each entry of a scenario's [[events]] does to the simulated world.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "simulations/sim_engine.h"

namespace shoal::sim {

NodeSet SimEngine::to_set(const std::vector<size_t>& nodes) const {
  NodeSet s(n_);
  for (size_t i : nodes) s.add(i);
  return s;
}

// prefer_up: +1 random picks come from up nodes, -1 from down nodes, 0 from any.
std::vector<size_t> SimEngine::resolve(const NodeSelector& sel, const std::vector<size_t>& exclude,
                                       int prefer_up) {
  return sel.resolve(n_, exclude, rng_, [&](size_t i) {
    return prefer_up == 0 || (prefer_up > 0) == slots_[i].up;
  });
}

void SimEngine::apply_fault(const FaultEvent& f) {
  using K = FaultEvent::Kind;
  const int prefer = f.kind == K::restart ? -1 : (f.kind == K::partition || f.kind == K::link) ? 0 : 1;
  const std::vector<size_t> nodes = resolve(f.nodes, {}, prefer);
  std::string label = fmt::format("{} {}", to_string(f.kind),
                                  nodes.size() <= 4 ? fmt::format("n{}", fmt::join(nodes, ",n"))
                                                    : fmt::format("{} nodes", nodes.size()));
  switch (f.kind) {
    case K::kill:
      observer_.disturbed();
      for (size_t i : nodes) crash_node(i, /*killed=*/true);
      break;
    case K::restart:
      observer_.disturbed();
      for (size_t i : nodes) {
        crash_node(i, /*killed=*/false);  // a reboot of a running node: down, then up
        start_node(i);
        slots_[i].recovered_at = now_;
      }
      observer_.recovered(label);
      break;
    case K::leave:
      observer_.disturbed();
      for (size_t i : nodes) {
        Slot& s = slots_[i];
        if (!s.up) continue;
        s.core->leave(local(i));
        observer_.node_down(i, /*killed=*/false);
        after_call(i);
      }
      break;
    case K::partition: {
      observer_.disturbed();
      const auto others = resolve(f.others, nodes, 0);
      net_.add_partition(Partition{f.name, to_set(nodes), to_set(others), f.one_way});
      label = fmt::format("partition {}{}", f.name.empty() ? "" : f.name + " ", label.substr(10));
      break;
    }
    case K::heal:
      net_.heal(f.name);
      net_recovered_at_ = now_;
      label = "heal " + (f.name.empty() ? std::string("all") : f.name);
      observer_.recovered(label);
      break;
    case K::slow:
      observer_.disturbed();
      for (size_t i : nodes) slots_[i].slow = f.delay;
      label += " by " + format_duration(f.delay);
      break;
    case K::unslow:
      for (size_t i : nodes) {
        slots_[i].slow = Duration::zero();
        slots_[i].recovered_at = now_;
      }
      observer_.recovered(label);
      break;
    case K::pause:
      observer_.disturbed();
      for (size_t i : nodes) slots_[i].frozen_until = now_ + f.delay;
      label += " for " + format_duration(f.delay);
      break;
    case K::link: {
      observer_.disturbed();
      const auto others = resolve(f.others, nodes, 0);
      net_.add_rule(LinkRule{f.name, to_set(nodes), to_set(others), !f.one_way, f.link});
      if (f.link.loss) label = fmt::format("loss {:.0f}% {}", *f.link.loss * 100, label.substr(5));
      break;
    }
    case K::clear_link:
      net_.remove_rules(f.name);
      net_recovered_at_ = now_;
      label = "clear link " + (f.name.empty() ? std::string("all") : f.name);
      observer_.recovered(label);
      break;
    case K::skew:
      for (size_t i : nodes) {
        slots_[i].clock.set(now_, f.drift_ppm, f.delay);
        if (slots_[i].up) {
          slots_[i].wake_at = kTimeNever;  // the old wake was in the old time scale
          reschedule(i);
        }
      }
      break;
    case K::bandwidth:
      for (size_t i : nodes) net_.set_bandwidth(i, f.rate);
      break;
    case K::event: {
      // Not a fault: nothing is disturbed, so convergence episodes keep counting.
      size_t sent = 0;
      std::string refused;
      for (size_t i : nodes) {
        Slot& s = slots_[i];
        if (!s.up) continue;
        for (int64_t c = 0; c < f.count; ++c) {
          const std::string name = observer_.next_event_name();
          // Small and telling: who sent it and when, should a trace need it.
          const std::string payload = fmt::format("n{}@{}", i, now_.time_since_epoch().count());
          const Status st = s.core->send_user_event(name, as_bytes(payload), local(i));
          if (!st.ok()) {
            refused += fmt::format("; n{} refused: {}", i, st.message());
            break;
          }
          observer_.user_event_sent(i);  // before after_call hands out the sender's own copy
          ++sent;
        }
        after_call(i);
      }
      label = fmt::format("{} user event{} from {}{}", sent, sent == 1 ? "" : "s", label.substr(6),
                          refused);
      break;
    }
    case K::add_voter:
    case K::remove:
    case K::transfer:
      break;  // Raft engine only: Scenario::validate() refuses them for gossip runs
  }
  report_.faults.emplace_back(to_seconds(now_ - kTimeZero), label);
}

}  // namespace shoal::sim
