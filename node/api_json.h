// node/api_json.h
//
// The JSON shapes of the /v1 API (documented in docs/api.md), in one place so the server,
// the CLI and the tests agree on them. Serialization only; request bodies are parsed by
// the handlers, which name the offending field.
//
// Contract: pure functions, thread-safe.
#pragma once

#include <nlohmann/json.hpp>

#include "node/agent_control.h"

namespace shoal::node {

// {"name", "addr": "IP:PORT", "ip", "port", "status", "tags": {..},
//  "protocol": {"min","max","cur"}, "delegate_protocol": {"min","max","cur"}}
nlohmann::json member_to_json(const gossip::Member& m);
nlohmann::json self_to_json(const SelfInfo& s);
// {"seq", "time": RFC 3339 UTC, "type": "member-join", "node", "addr", "status"}
nlohmann::json event_to_json(const RecentEvent& e);
// {"error": message}
nlohmann::json error_json(std::string_view message);

}  // namespace shoal::node
