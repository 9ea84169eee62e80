#include "node/cluster_secret_setup.h"

#include <sodium.h>

#include <fstream>
#include <sstream>

#include "node/private_file.h"

namespace shoal::node {

namespace {
std::string keyring_text(const secure::Keyring& ring) {
  std::string text =
      "# Shoal cluster secrets (docs/security.md): the first keys this node's calls, all are\n"
      "# accepted. Every node of the cluster needs one of them.\n";
  for (const auto& k : ring.keys()) text += secure::secret_text(k) + "\n";
  return text;
}

// Whether `path` already holds exactly `text` (so an unchanged copy is not rewritten).
bool holds(const std::filesystem::path& path, const std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream buf;
  buf << in.rdbuf();
  std::string have = buf.str();
  const bool same = have == text;
  sodium_memzero(have.data(), have.size());
  return same;
}
}  // namespace

Result<ClusterSecretSetup> setup_cluster_secret(const AgentConfig& config) {
  ClusterSecretSetup out;
  if (config.insecure_rpc) return out;
  if (sodium_init() < 0) return Status::internal("libsodium failed to initialize");
  const std::filesystem::path own = config.data_dir / kClusterSecretFile;

  if (config.cluster_secret_file) {
    auto ring = secure::load_keyring(*config.cluster_secret_file);
    if (!ring.ok()) return ring.status().with_context("--cluster-secret-file");
    std::string text = keyring_text(*ring);
    if (!holds(own, text)) {
      Status st = write_private_file(own, text, /*sync=*/true);
      sodium_memzero(text.data(), text.size());
      if (!st.ok()) return st.with_context("cannot keep a copy of the cluster secret");
    }
    out.keys = std::make_shared<const secure::Keyring>(std::move(*ring));
    out.file = *config.cluster_secret_file;
    return out;
  }

  auto ring = secure::load_keyring(own);
  if (ring.ok()) {
    out.keys = std::make_shared<const secure::Keyring>(std::move(*ring));
    out.file = own;
    return out;
  }
  if (!ring.status().is(Status::Code::not_found)) return ring.status();
  if (!config.join.empty()) {
    return Status::failed_precondition(
        "joining a cluster needs its secret: start with --cluster-secret-file FILE (the "
        "cluster's first node saved it as its DATA_DIR/" + std::string(kClusterSecretFile) + ")");
  }
  secure::Keyring fresh({secure::generate_secret()});
  std::string text = keyring_text(fresh);
  Status st = write_private_file(own, text, /*sync=*/true);
  sodium_memzero(text.data(), text.size());
  if (!st.ok()) return st.with_context("cannot save the new cluster secret");
  out.keys = std::make_shared<const secure::Keyring>(std::move(fresh));
  out.file = own;
  out.created = true;
  return out;
}

}  // namespace shoal::node
