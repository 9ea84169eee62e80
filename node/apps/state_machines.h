// node/apps/state_machines.h
//
// Which state machine each Raft group of a node runs, by its id (group_ids.h): the catalog,
// an app, or (any other id) the test / bench key-value machine of /v1/raft.
#pragma once

#include "raft/state_machine.h"

namespace shoal::node::apps {

raft::StateMachineFactory state_machine_factory();

}  // namespace shoal::node::apps
