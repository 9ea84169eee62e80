// node/cluster_secret_setup.h
//
// Which cluster secrets an agent's node-to-node channel uses (docs/security.md, "Node to
// node"), decided once at start:
//  - --insecure-rpc: none (plaintext; the config allowed it on loopback only);
//  - --cluster-secret-file FILE: FILE's secrets, also copied to DATA_DIR/cluster-secret so
//    a restart needs no flag;
//  - else DATA_DIR/cluster-secret, if it exists;
//  - else, for a node that creates its cluster (no --join): a new random secret, written
//    there (mode 0600) before anything else is;
//  - else (joining without one): failed_precondition, saying where to find the cluster's.
#pragma once

#include <filesystem>
#include <memory>

#include "base/status.h"
#include "node/agent_config.h"
#include "node/secure/cluster_secret.h"

namespace shoal::node {

inline constexpr const char* kClusterSecretFile = "cluster-secret";

struct ClusterSecretSetup {
  std::shared_ptr<const secure::Keyring> keys;  // null: --insecure-rpc
  std::filesystem::path file;                   // where they were read or written
  bool created = false;                         // a new cluster's new secret
};

Result<ClusterSecretSetup> setup_cluster_secret(const AgentConfig& config);

}  // namespace shoal::node
