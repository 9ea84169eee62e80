// node/apps/state_machines.h
//
// Which state machine each Raft group of a node runs, by its id (group_ids.h): the catalog,
// an app, or (any other id) the test / bench key-value machine of /v1/raft.
#pragma once

#include "node/apps/catalog_state.h"
#include "raft/state_machine.h"

namespace shoal::node::apps {

// `on_tokens`: given to the catalog's state machine (CatalogState::TokensChanged).
raft::StateMachineFactory state_machine_factory(CatalogState::TokensChanged on_tokens = nullptr);

}  // namespace shoal::node::apps
