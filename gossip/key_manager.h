// gossip/key_manager.h
//
// Serf's keyring queries served by a Serf core (serf/internal_query.go): registers the
// handlers of `_serf_install-key`, `_serf_use-key`, `_serf_remove-key` and
// `_serf_list-keys` (key_query.h has the bytes and the rules). A change to the keyring is
// handed to `save` (the agent writes its keyring file) before the member answers; if
// saving fails, the answer is a failure naming why, as serf's is.
//
// Contract: runs on the core's strand, inside Serf (its internal query hook); `save` must
// not call back into the Serf. Every answer is logged as `keyring-query`.
#pragma once

#include <functional>

#include "base/status.h"
#include "gossip/keyring.h"
#include "gossip/serf.h"

namespace shoal::gossip {

using KeyringSaver = std::function<Status(const Keyring&)>;

// `save` may be empty (nothing to persist: tests, the simulator).
void serve_key_queries(Serf& serf, KeyringSaver save);

}  // namespace shoal::gossip
