// EventCoalescer: serf's member and user event coalescing, under injected time.
#include <catch2/catch.hpp>

#include "gossip/coalescer.h"

namespace shoal::gossip {
namespace {

using namespace std::chrono_literals;

Member member(const std::string& name) {
  Member m;
  m.name = name;
  return m;
}

MemberEventBatch batch(MemberEventType t, std::vector<std::string> names) {
  MemberEventBatch b{t, {}};
  for (const auto& n : names) b.members.push_back(member(n));
  return b;
}

UserEvent user(LamportTime lt, std::string name, bool cc = true) {
  return UserEvent{lt, std::move(name), {}, cc};
}

TEST_CASE("member events within a window collapse to the latest per member",
          "[gossip][coalescer]") {
  EventCoalescer c(EventCoalescer::Options{});
  std::vector<CoalescedEvent> out;
  const TimePoint t0{};
  c.push(batch(MemberEventType::join, {"a", "b"}), t0, out);
  c.push(batch(MemberEventType::failed, {"a"}), t0 + 500ms, out);
  c.push(batch(MemberEventType::join, {"c"}), t0 + 900ms, out);
  CHECK(out.empty());
  CHECK(c.next_wakeup() == t0 + 1900ms);  // quiescent: 1 s after the latest
  c.tick(t0 + 1800ms, out);
  CHECK(out.empty());
  c.tick(t0 + 1900ms, out);
  REQUIRE(out.size() == 2);
  const auto& joins = std::get<MemberEventBatch>(out[0]);
  CHECK(joins.type == MemberEventType::join);
  REQUIRE(joins.members.size() == 2);
  CHECK(joins.members[0].name == "b");
  CHECK(joins.members[1].name == "c");
  const auto& failed = std::get<MemberEventBatch>(out[1]);
  CHECK(failed.type == MemberEventType::failed);
  CHECK(failed.members[0].name == "a");
  CHECK(c.next_wakeup() == kTimeNever);

  SECTION("a member already reported the same way is not reported again, except updates") {
    out.clear();
    c.push(batch(MemberEventType::join, {"b"}), t0 + 5s, out);
    c.push(batch(MemberEventType::update, {"c"}), t0 + 5s, out);
    c.flush(out);
    REQUIRE(out.size() == 1);
    CHECK(std::get<MemberEventBatch>(out[0]).type == MemberEventType::update);
  }
}

TEST_CASE("a steady stream of events still flushes after the coalesce period",
          "[gossip][coalescer]") {
  EventCoalescer c(EventCoalescer::Options{});
  std::vector<CoalescedEvent> out;
  const TimePoint t0{};
  for (int i = 0; i < 10; ++i) {
    c.push(batch(MemberEventType::join, {"m" + std::to_string(i)}), t0 + i * 500ms, out);
  }
  // Events every 500 ms never leave 1 s of quiet; the 3 s period flushes anyway.
  REQUIRE(out.size() == 1);
  CHECK(std::get<MemberEventBatch>(out[0]).members.size() == 6);  // 0 .. 2.5 s
}

TEST_CASE("user events coalesce to the newest Lamport time per name, others pass through",
          "[gossip][coalescer]") {
  EventCoalescer c(EventCoalescer::Options{});
  std::vector<CoalescedEvent> out;
  const TimePoint t0{};
  c.push(user(5, "deploy"), t0, out);
  c.push(user(7, "deploy"), t0, out);
  c.push(user(7, "deploy"), t0, out);
  c.push(user(6, "deploy"), t0, out);  // superseded
  c.push(user(3, "other"), t0, out);
  c.push(user(9, "now", /*cc=*/false), t0, out);
  c.push(QueryReceived{}, t0, out);
  REQUIRE(out.size() == 2);  // the uncoalescable event and the query, at once
  CHECK(std::get<UserEvent>(out[0]).name == "now");
  CHECK(std::holds_alternative<QueryReceived>(out[1]));
  out.clear();
  c.tick(t0 + 1s, out);
  REQUIRE(out.size() == 3);
  CHECK(std::get<UserEvent>(out[0]).ltime == 7);
  CHECK(std::get<UserEvent>(out[1]).ltime == 7);
  CHECK(std::get<UserEvent>(out[2]).name == "other");
}

TEST_CASE("a zero period turns coalescing off", "[gossip][coalescer]") {
  EventCoalescer c(EventCoalescer::Options{0s, 0s, 0s, 0s});
  std::vector<CoalescedEvent> out;
  c.push(batch(MemberEventType::join, {"a"}), TimePoint{}, out);
  c.push(user(1, "x"), TimePoint{}, out);
  CHECK(out.size() == 2);
  CHECK(c.next_wakeup() == kTimeNever);
}

}  // namespace
}  // namespace shoal::gossip
