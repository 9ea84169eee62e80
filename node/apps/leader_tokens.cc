// The catalog leader's side of the token channel (docs/security.md). Every node checks API
// requests against its own copy of the token table, so the table must reach every node,
// and a revocation must reach it within a second: the leader pushes the table to every live
// node right after a change (the HTTP handler that commits one kicks this loop), to a node
// that has not acknowledged the newest version on every turn, and to all of them every
// `token_refresh` anyway. Catalog replicas also update their copy as they apply entries.
//
// The bootstrap admin token is born here too: once in the cluster's life, on the first
// catalog leader (the node that bootstrapped), written to DATA_DIR/admin-token before it is
// proposed, so a crash in between proposes the same token again rather than a second one.
#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <fstream>

#include "node/apps/app_service.h"
#include "node/apps/group_ids.h"
#include "node/auth/admin_token.h"
#include "node/http_forward.h"
#include "node/parallel_map.h"

namespace shoal::node::apps {

void AppService::lead_tokens(const CatalogState& cat) {
  if (!opts_.tokens) return;
  ensure_bootstrap_token(cat);
  push_tokens(cat.tokens());
}

void AppService::ensure_bootstrap_token(const CatalogState& cat) {
  if (!cat.tokens().bootstrap_id().empty()) return;
  const auto file = opts_.data_dir / auth::kAdminTokenFile;
  auto text = auth::read_admin_token(file);
  if (!text.ok() && text.status().is(Status::Code::not_found)) {
    const std::string fresh = opts_.bootstrap_token.empty()
                                  ? auth::token_text(auth::generate_token())
                                  : opts_.bootstrap_token;
    if (Status s = auth::write_admin_token(file, fresh); !s.ok()) {
      spdlog::error("admin-token-write-failed file={} reason=\"{}\"", file.string(), s.message());
      return;
    }
    // Shown once, to whoever started the cluster; the file keeps it for the CLI here.
    if (opts_.bootstrap_token.empty() && opts_.on_admin_token) opts_.on_admin_token(file, fresh);
    text = fresh;
  }
  if (!text.ok()) {
    if (!admin_token_reported_) {
      spdlog::error("admin-token-unusable file={} reason=\"{}\"", file.string(),
                    text.status().message());
      admin_token_reported_ = true;
    }
    return;
  }
  auto parts = auth::parse_token(*text);
  if (!parts.ok()) return;  // read_admin_token checked it
  TokenRecord rec;
  rec.hash = auth::hash_secret(parts->secret);
  rec.scopes = {"admin"};
  rec.name = "bootstrap-admin";
  rec.created_ms = wall_now_ms();
  rec.created_by = "bootstrap on " + opts_.self;
  auto r = propose(kCatalogGroup, catalog_add_token(parts->id, rec, /*bootstrap=*/true));
  spdlog::info("admin-token-bootstrap id={} file={} result=\"{}\"", parts->id, file.string(),
               r.ok() ? r->status.to_string() : r.status().to_string());
}

void AppService::publish_tokens() {
  if (auto state = local_catalog(); state.ok()) push_tokens((*state)->tokens());
}

void AppService::push_tokens(const CatalogTokens& tokens) {
  std::lock_guard lock(token_push_mu_);  // one push at a time; the next sees its answers
  const uint64_t version = tokens.version();
  if (version == 0) return;  // nothing to check requests against yet
  const auto now = steady_now();
  std::vector<PeerInfo> targets;
  for (const auto& p : peers()) {
    if (p.name == opts_.self || !p.alive() || p.rpc.empty()) continue;
    const TokenPush& last = token_pushes_[p.name];
    if (last.version >= version && now - last.at < opts_.token_refresh) continue;
    targets.push_back(p);
  }
  if (targets.empty()) return;
  const nlohmann::json body = tokens.table_json();
  auto answers = parallel_map(targets, 16, [&](const PeerInfo& p) {
    return call_node(p.rpc, "POST", "/v1/internal/tokens", &body, opts_.route_timeout);
  });
  for (size_t i = 0; i < targets.size(); ++i) {
    const auto& a = answers[i];
    if (a.ok() && a->status == 200) {
      token_pushes_[targets[i].name] = {version, now};
    } else {
      spdlog::debug("tokens-push-failed node={} version={} reason=\"{}\"", targets[i].name,
                    version,
                    a.ok() ? fmt::format("HTTP {} {}", a->status, a->body) : a.status().message());
    }
  }
}

void AppService::pull_tokens() {
  if (!opts_.tokens || opts_.tokens->loaded() || holds_catalog()) return;
  const auto now = steady_now();
  if (now - tokens_pulled_at_ < std::chrono::seconds(1)) return;
  tokens_pulled_at_ = now;
  auto owner = catalog_owner(Duration::zero());
  if (!owner.ok() || owner->here) return;
  auto res = call_node(owner->rpc, "GET", "/v1/internal/tokens", nullptr, opts_.call_timeout);
  if (!res.ok() || res->status != 200) return;  // the next turn asks again
  auto body = nlohmann::json::parse(res->body, nullptr, false);
  auto table = CatalogTokens::table_from_json(body);
  if (!table.ok()) {
    spdlog::warn("tokens-pull-bad node={} reason=\"{}\"", owner->node, table.status().message());
    return;
  }
  if (opts_.tokens->update(table->first, std::move(table->second))) {
    spdlog::info("tokens-pulled node={} version={}", owner->node, opts_.tokens->version());
  }
}

}  // namespace shoal::node::apps
