// node/supervisor/http_supervisor.h
//
// The supervisor's node-to-node endpoints (docs/apps.md):
//  - POST /v1/internal/assign: an Assignment in, this node's AssignReport out; 400 naming
//    the bad field, 409 for a stale term (nothing changed), 503 if the supervisor is busy
//    or stopping.
//  - GET /v1/internal/logs?app=A[&type=T][&instance=I][&lines=N][&follow=1][&since_ms=MS]
//    [&grep=TEXT]: NDJSON log lines of A's instances on this node, the last N (default 100,
//    at most 10000) and then, with follow=1, new lines as they are written until the client
//    goes away; only lines at or after since_ms that contain TEXT (instance_logs.h). With
//    system=1 instead of app: the agent's own log, as {"ts_ms", "node", "level", "line"}.
//  - GET /v1/internal/usage[?app=A][&window=5m]: this node's resource use and its
//    instances' (usage_report.h), with their history over the window (at most 1h); 400
//    naming a bad parameter.
// Handlers block only briefly; a follow runs on a Supervisor background thread.
#pragma once

#include "node/http_server.h"
#include "node/supervisor/supervisor.h"

namespace shoal::node::supervisor {

// `supervisor` must outlive the server the router is given to. `agent_log_dir`: where the
// agent's own log is (node/logging.h), for system=1.
void add_supervisor_routes(HttpRouter& router, Supervisor& supervisor,
                           std::filesystem::path agent_log_dir);

}  // namespace shoal::node::supervisor
