// node/apps/group_ids.h
//
// Raft group ids of the apps layer (docs/apps.md, "Raft groups"): the catalog is group
// 1 << 62 and app number `seq` (handed out by the catalog: 1, 2, ...; never reused) lives in
// group kCatalogGroup + seq. Ids below kCatalogGroup stay free for the test and bench
// key-value groups of /v1/raft.
#pragma once

#include <cstdint>

#include "raft/state_machine.h"

namespace shoal::node::apps {

inline constexpr raft::GroupId kCatalogGroup = 1ull << 62;
// App seqs stay below this, so app groups never reach bit 63.
inline constexpr uint64_t kMaxAppSeq = (1ull << 62) - 1;

// REQUIRES: 1 <= seq <= kMaxAppSeq.
constexpr raft::GroupId app_group(uint64_t seq) { return kCatalogGroup + seq; }
constexpr bool is_catalog_group(raft::GroupId id) { return id == kCatalogGroup; }
constexpr bool is_app_group(raft::GroupId id) {
  return id > kCatalogGroup && id - kCatalogGroup <= kMaxAppSeq;
}
// The seq of an app group; 0 for any other id.
constexpr uint64_t app_seq(raft::GroupId id) { return is_app_group(id) ? id - kCatalogGroup : 0; }

static_assert(is_app_group(app_group(1)) && !is_app_group(kCatalogGroup) && !is_app_group(7));
static_assert(is_catalog_group(kCatalogGroup) && !is_catalog_group(app_group(1)));

}  // namespace shoal::node::apps
