// node/serf_rpc/commands.h
//
// The request/response commands of Serf's agent RPC, run against AgentControl: event,
// force-leave, join, members, members-filtered, leave, tags, stats, get-coordinate and the
// key commands. Each returns the complete answer frame (response header + body when the
// command has one), with serf's error strings where serf has them and ours otherwise.
// Streaming commands (stream, monitor, query, respond, stop) live in the session.
//
// Contract: blocks for as long as the AgentControl call does (see agent_control.h for the
// bounds); call from a worker thread, never from the agent's loop or the RPC IO thread.
// Thread-safe as far as AgentControl is.
#pragma once

#include "base/bytes.h"
#include "node/agent_control.h"
#include "node/serf_rpc/codec.h"

namespace shoal::node::serf_rpc {

// REQUIRES: req.command is one of the commands above and req.body_error is ok.
Bytes run_command(AgentControl& agent, const Request& req);

}  // namespace shoal::node::serf_rpc
