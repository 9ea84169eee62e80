#include "node/apps/catalog_events.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "node/apps/command_result.h"
#include "node/apps/json_fields.h"
#include "node/apps/names.h"

namespace shoal::node::apps {

using json = nlohmann::json;

namespace {

// A string member, or "" (never throws on a command of the wrong shape).
std::string text_of(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

}  // namespace

Bytes catalog_node_status(std::string_view node, std::string_view status, int64_t now_ms) {
  return encode_command(
      {{"op", "node_status"}, {"node", node}, {"status", status}, {"now_ms", now_ms}});
}

Bytes catalog_leader_changed(std::string_view node, uint64_t term, int64_t now_ms) {
  return encode_command(
      {{"op", "leader_changed"}, {"node", node}, {"term", term}, {"now_ms", now_ms}});
}

int64_t CatalogEvents::time_of(const json& command) {
  if (auto it = command.find("now_ms"); it != command.end()) {
    if (auto t = json_int(*it, 1, INT64_MAX)) {
      last_ms_ = std::max(last_ms_, *t);
      return *t;
    }
  }
  return last_ms_;
}

Bytes CatalogEvents::apply_op(const json& command) {
  JsonFields c(command, text_of(command, "op"));
  const std::string op = c.str("op", 64);
  const std::string node = c.str("node", 256);
  if (!c.ok()) return error_result(ErrorCode::invalid, c.error());
  if (Status s = validate_node_name(node); !s.ok()) return error_result(s);
  const uint64_t term = op == "leader_changed" ? c.uint64("term") : 0;
  const std::string status = op == "node_status" ? c.str("status", 16) : "";
  if (!c.ok()) return error_result(ErrorCode::invalid, c.error());
  if (op == "node_status" && status != "alive" && status != "failed" && status != "left") {
    return error_result(ErrorCode::invalid,
                        "node_status: '" + status + "' is not alive, failed or left");
  }
  const int64_t now = time_of(command);
  if (op == "leader_changed") {
    if (term <= leader_term_) return ok_result({{"recorded", false}});
    leader_term_ = term;
    log_.append({.time_ms = now,
                 .kind = "leader_changed",
                 .node = node,
                 .message = fmt::format("{} leads the catalog (term {})", node, term),
                 .data = {{"term", term}}});
    return ok_result({{"recorded", true}});
  }
  auto it = node_status_.find(node);
  const std::string was = it == node_status_.end() ? "" : it->second;
  if (was == status) return ok_result({{"recorded", false}});
  if (it == node_status_.end() && node_status_.size() >= kMaxNodeStatuses) {
    // Bounded: forget a node that left (it would be "joined" again if it came back).
    auto gone = std::find_if(node_status_.begin(), node_status_.end(),
                             [](const auto& kv) { return kv.second == "left"; });
    if (gone == node_status_.end()) return error_result(ErrorCode::conflict, "too many nodes");
    node_status_.erase(gone);
  }
  node_status_[node] = status;
  Event e{.time_ms = now, .node = node};
  if (status == "alive") {
    e.kind = was == "failed" ? "node_recovered" : "node_joined";
    e.message = was == "failed" ? fmt::format("node {} is alive again", node)
                                : fmt::format("node {} joined the cluster", node);
  } else if (status == "failed") {
    e.kind = "node_failed";
    e.message = fmt::format("node {} failed (gossip stopped hearing from it)", node);
  } else {
    e.kind = "node_left";
    e.message = fmt::format("node {} left the cluster", node);
  }
  log_.append(std::move(e));
  return ok_result({{"recorded", true}});
}

void CatalogEvents::derive(const json& command, ByteView result_bytes) {
  const std::string op = text_of(command, "op");
  if (op != "create_app" && op != "destroy_app" && op != "set_drain" && op != "add_token" &&
      op != "revoke_token") {
    return;
  }
  const CommandResult result = decode_result(result_bytes);
  if (!result.ok()) return;  // changed nothing, not even the time seen
  const int64_t now = time_of(command);
  const std::string name = text_of(command, "name");
  if (op == "create_app") {
    log_.append({.time_ms = now,
                 .kind = "app_created",
                 .app = name,
                 .message = fmt::format("app {} created (group {})", name,
                                        result.body.value("group", uint64_t{0}))});
  } else if (op == "destroy_app") {
    log_.append({.time_ms = now,
                 .kind = "app_destroyed",
                 .app = name,
                 .message = fmt::format("app {} destroyed", name)});
  } else if (op == "add_token") {
    const std::string who = text_of(command, "created_by");
    const std::vector<std::string> scopes =
        command.value("scopes", std::vector<std::string>{});
    log_.append({.time_ms = now,
                 .kind = "token_created",
                 .message = fmt::format("token {} ({}) created with scopes {} by {}",
                                        text_of(command, "name"), text_of(command, "id"),
                                        fmt::join(scopes, ","), who.empty() ? "?" : who)});
  } else if (op == "revoke_token") {
    const std::string who = text_of(command, "by");
    log_.append({.time_ms = now,
                 .kind = "token_revoked",
                 .message = fmt::format("token {} ({}) revoked by {}",
                                        result.body.value("name", ""), result.body.value("id", ""),
                                        who.empty() ? "?" : who)});
  } else {
    const std::string node = text_of(command, "node");
    const bool draining = command.value("draining", false);
    log_.append({.time_ms = now,
                 .kind = draining ? "node_draining" : "node_undrained",
                 .node = node,
                 .message = draining ? fmt::format("node {} is draining: its instances move", node)
                                     : fmt::format("node {} takes instances again", node)});
  }
}

json CatalogEvents::to_json() const {
  return {{"log", log_.to_json()},
          {"node_status", node_status_},
          {"leader_term", leader_term_},
          {"last_ms", last_ms_}};
}

Result<CatalogEvents> CatalogEvents::from_json(const json& j) {
  JsonFields f(j, "catalog events");
  CatalogEvents out;
  const json& log = f.object("log");
  out.node_status_ = f.string_map("node_status", 16);
  out.leader_term_ = f.uint64("leader_term");
  out.last_ms_ = f.int64("last_ms");
  if (!f.ok()) return Status::invalid_argument(f.error());
  auto l = EventLog::from_json(log);
  if (!l.ok()) return l.status();
  out.log_ = std::move(*l);
  return out;
}

}  // namespace shoal::node::apps
