#include "node/apps/state_machines.h"

#include "node/apps/app_state.h"
#include "node/apps/catalog_state.h"
#include "node/apps/group_ids.h"
#include "raft/kv_state_machine.h"

namespace shoal::node::apps {

raft::StateMachineFactory state_machine_factory(CatalogState::TokensChanged on_tokens) {
  return [on_tokens](raft::GroupId id) -> std::unique_ptr<raft::StateMachine> {
    if (is_catalog_group(id)) return std::make_unique<CatalogState>(on_tokens);
    if (is_app_group(id)) return std::make_unique<AppState>();
    return std::make_unique<raft::KvStateMachine>();
  };
}

}  // namespace shoal::node::apps
