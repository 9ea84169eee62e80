// node/http_api_raft.h
//
// The /v1/raft routes (docs/api.md, docs/raft.md), registered on the agent's HttpRouter:
//
//   GET    /v1/raft/groups                      every group hosted here, and host counters
//   POST   /v1/raft/groups                      {"id": N, "voters": [..]} found a group here;
//                                               {"id": N} alone: an empty member to be added
//   GET    /v1/raft/groups/{id}                 term, role, leader, commit / applied, members
//                                               with match index and lag, last snapshot
//   DELETE /v1/raft/groups/{id}                 forget the group on this node
//   POST   /v1/raft/groups/{id}/members         {"node": X, "role": "voter"|"learner"} (leader)
//   DELETE /v1/raft/groups/{id}/members/{node}  (leader)
//   POST   /v1/raft/groups/{id}/transfer        {"node": X} (leader)
//   PUT    /v1/raft/groups/{id}/kv/{key}        body = the value; answered once applied
//   GET    /v1/raft/groups/{id}/kv/{key}        linearizable read (ReadIndex); 404 if absent
//
// The kv routes drive the TEST / BENCH key-value state machine (raft/kv_state_machine.h);
// real state machines (catalog, apps) do not go through them. Writes and reads must go to
// the leader: elsewhere they get 503 {"error": ..., "leader": NAME}.
//
// Contract: handlers never block on the Raft loop longer than RaftService's bound; kv
// handlers answer asynchronously from the Raft loop. Errors are JSON {"error": "..."}.
#pragma once

#include <nlohmann/json.hpp>

#include "node/http_server.h"
#include "node/raft_service.h"

namespace shoal::node {

// `raft` must outlive the server the router is given to.
void add_raft_routes(HttpRouter& router, RaftService& raft);

// The JSON of GET /v1/raft/groups/{id}; `brief` leaves out members and snapshot (the list).
nlohmann::json raft_group_json(const raft::GroupStatus& s, bool brief);

}  // namespace shoal::node
