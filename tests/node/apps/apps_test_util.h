// Helpers shared by the tests of node/apps: feeding commands to a state machine.
#pragma once

#include <catch2/catch.hpp>

#include "node/apps/command_result.h"
#include "raft/state_machine.h"

namespace shoal::node::apps::test {

inline raft::Entry entry(Bytes data) {
  static raft::Index index = 0;
  return raft::Entry{1, ++index, raft::EntryType::normal, std::move(data)};
}

inline CommandResult run(raft::StateMachine& sm, Bytes command) {
  return decode_result(sm.apply(entry(std::move(command))));
}

inline void expect_error(const CommandResult& r, Status::Code code, std::string_view text) {
  INFO(r.body.dump());
  CHECK(r.status.is(code));
  CHECK_THAT(r.status.message(), Catch::Contains(std::string(text)));
}

}  // namespace shoal::node::apps::test
