#include "node/http_api_raft.h"

#include <charconv>

#include "node/http_util.h"
#include "raft/kv_state_machine.h"
#include "raft/wire.h"

namespace shoal::node {

using nlohmann::json;

namespace {

// A write or read that reached a follower says which node leads, so the caller can retry
// there.
void reply_status_with_leader(HttpResponder& r, const Status& s, const raft::NodeId& leader) {
  json body = {{"error", s.message()}};
  if (!leader.empty()) body["leader"] = leader;
  reply_json(r, http_status(s), body);
}

Result<raft::GroupId> group_param(const HttpRequest& req) {
  const auto it = req.params.find("id");
  const std::string text = it == req.params.end() ? "" : it->second;
  raft::GroupId id = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) {
    return Status::invalid_argument("group id '" + text + "' is not a decimal number");
  }
  return id;
}

Result<json> body_object(const HttpRequest& req) {
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded() || !body.is_object()) {
    return Status::invalid_argument("request body must be a JSON object");
  }
  return body;
}

Result<raft::NodeId> node_field(const json& body, const char* key) {
  auto it = body.find(key);
  if (it == body.end() || !it->is_string() || it->get<std::string>().empty() ||
      it->get<std::string>().size() > raft::kMaxNodeIdBytes) {
    return Status::invalid_argument(std::string("'") + key + "' must be a node name");
  }
  return it->get<std::string>();
}

json members_json(const raft::GroupStatus& s) {
  json members = json::array();
  const auto& c = s.core;
  auto add = [&](const raft::NodeId& id, bool voter) {
    json m = {{"node", id}, {"role", voter ? "voter" : "learner"}};
    if (id == c.id) {
      m["self"] = true;
      m["match"] = c.last_index;
      m["lag"] = 0;
    }
    for (const auto& p : c.peers) {
      if (p.id != id) continue;
      m["match"] = p.match;
      m["lag"] = c.last_index > p.match ? c.last_index - p.match : 0;
      m["state"] = raft::progress_state_name(p.state);
      m["recent_active"] = p.recent_active;
    }
    if (std::find(s.promoting.begin(), s.promoting.end(), id) != s.promoting.end()) {
      m["promoting"] = true;
    }
    members.push_back(std::move(m));
  };
  for (const auto& v : c.config.voters) add(v, true);
  for (const auto& l : c.config.learners) add(l, false);
  return members;
}

}  // namespace

json raft_group_json(const raft::GroupStatus& s, bool brief) {
  const auto& c = s.core;
  json j = {{"id", s.group},
            {"term", c.term},
            {"role", raft::role_name(c.role)},
            {"leader", c.leader},
            {"commit", c.commit},
            {"applied", c.applied},
            {"last_index", c.last_index},
            {"voters", c.config.voters},
            {"learners", c.config.learners}};
  if (!s.stopped.ok()) j["stopped"] = s.stopped.to_string();
  if (brief) return j;
  j["members"] = members_json(s);
  j["snapshot"] = {{"index", s.snapshot.index}, {"term", s.snapshot.term}};
  j["member_details"] = c.role == raft::Role::leader ? "leader's view" : "leader only";
  return j;
}

void add_raft_routes(HttpRouter& router, RaftService& raft) {
  RaftService* rs = &raft;

  router.add("GET", "/v1/raft/groups", [rs](const HttpRequest&, std::shared_ptr<HttpResponder> r) {
    auto groups = rs->list();
    if (!groups.ok()) return reply_status(*r, groups.status());
    auto stats = rs->stats();
    json list = json::array();
    for (const auto& g : *groups) list.push_back(raft_group_json(g, true));
    json body = {{"node", rs->self()}, {"rpc", rs->rpc_address().to_string()}, {"groups", list}};
    if (stats.ok()) {
      const auto& h = stats->host;
      body["counters"] = {{"messages_in", h.messages_in},
                          {"messages_out", h.messages_out},
                          {"batches_out", h.batches_out},
                          {"rejected_unknown_group", h.rejected_unknown_group},
                          {"rejected_from_self", h.rejected_from_self},
                          {"stale_term", h.stale_term},
                          {"bad_frames", stats->bad_frames},
                          {"writes", h.writes},
                          {"syncs", h.syncs},
                          {"snapshots_taken", h.snapshots_taken},
                          {"snapshots_installed", h.snapshots_installed},
                          {"frames_in", stats->frames_in},
                          {"frames_out", stats->frames_out},
                          {"frames_dropped", stats->frames_dropped},
                          {"connections", stats->connections},
                          {"rejected_connections", stats->rejected_connections}};
    }
    reply_json(*r, 200, body);
  });

  router.add("POST", "/v1/raft/groups", [rs](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
    auto body = body_object(req);
    if (!body.ok()) return reply_status(*r, body.status());
    auto id = body->find("id");
    if (id == body->end() || !id->is_number_unsigned()) {
      return reply_status(*r, Status::invalid_argument("'id' must be a non-negative integer"));
    }
    std::vector<raft::NodeId> voters;
    if (auto v = body->find("voters"); v != body->end()) {
      if (!v->is_array()) return reply_status(*r, Status::invalid_argument("'voters' must be a list of node names"));
      for (const auto& n : *v) {
        if (!n.is_string()) return reply_status(*r, Status::invalid_argument("'voters' must be a list of node names"));
        voters.push_back(n.get<std::string>());
      }
    }
    const raft::GroupId gid = id->get<raft::GroupId>();
    if (Status s = rs->create(gid, std::move(voters)); !s.ok()) return reply_status(*r, s);
    reply_json(*r, 201, {{"id", gid}});
  });

  router.add("GET", "/v1/raft/groups/{id}", [rs](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
    auto id = group_param(req);
    if (!id.ok()) return reply_status(*r, id.status());
    auto s = rs->status(*id);
    if (!s.ok()) return reply_status(*r, s.status());
    reply_json(*r, 200, raft_group_json(*s, false));
  });

  router.add("DELETE", "/v1/raft/groups/{id}", [rs](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
    auto id = group_param(req);
    if (!id.ok()) return reply_status(*r, id.status());
    if (Status s = rs->remove(*id); !s.ok()) return reply_status(*r, s);
    reply_json(*r, 200, {{"id", *id}, {"deleted", true}});
  });

  router.add("POST", "/v1/raft/groups/{id}/members", [rs](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
    auto id = group_param(req);
    if (!id.ok()) return reply_status(*r, id.status());
    auto body = body_object(req);
    if (!body.ok()) return reply_status(*r, body.status());
    auto node = node_field(*body, "node");
    if (!node.ok()) return reply_status(*r, node.status());
    const std::string role = body->value("role", "voter");
    if (role != "voter" && role != "learner") {
      return reply_status(*r, Status::invalid_argument("'role' must be voter or learner"));
    }
    if (Status s = rs->add_member(*id, *node, role == "voter"); !s.ok()) return reply_status(*r, s);
    reply_json(*r, 202, {{"id", *id}, {"node", *node}, {"role", role}});
  });

  router.add("DELETE", "/v1/raft/groups/{id}/members/{node}", [rs](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
    auto id = group_param(req);
    if (!id.ok()) return reply_status(*r, id.status());
    const std::string node = req.params.at("node");
    if (Status s = rs->remove_member(*id, node); !s.ok()) return reply_status(*r, s);
    reply_json(*r, 202, {{"id", *id}, {"node", node}, {"removed", true}});
  });

  router.add("POST", "/v1/raft/groups/{id}/transfer", [rs](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
    auto id = group_param(req);
    if (!id.ok()) return reply_status(*r, id.status());
    auto body = body_object(req);
    if (!body.ok()) return reply_status(*r, body.status());
    auto node = node_field(*body, "node");
    if (!node.ok()) return reply_status(*r, node.status());
    if (Status s = rs->transfer(*id, *node); !s.ok()) return reply_status(*r, s);
    reply_json(*r, 202, {{"id", *id}, {"target", *node}});
  });

  RouteOptions kv_body;
  kv_body.body_limit = raft::kKvMaxValueBytes;
  router.add("PUT", "/v1/raft/groups/{id}/kv/{key}", [rs](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
    auto id = group_param(req);
    if (!id.ok()) return reply_status(*r, id.status());
    const std::string& key = req.params.at("key");
    if (key.size() > raft::kKvMaxKeyBytes) {
      return reply_status(*r, Status::invalid_argument("key longer than 1024 bytes"));
    }
    rs->put(*id, key, to_bytes(req.body), [r](const raft::Completion& c) {
      if (!c.status.ok()) return reply_status_with_leader(*r, c.status, c.leader);
      if (!c.result.empty()) {  // the state machine refused the command
        return reply_status(*r, Status::invalid_argument(std::string(as_string_view(c.result))));
      }
      reply_json(*r, 200, {{"index", c.index}});
    });
  }, kv_body);

  router.add("GET", "/v1/raft/groups/{id}/kv/{key}", [rs](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
    auto id = group_param(req);
    if (!id.ok()) return reply_status(*r, id.status());
    rs->get(*id, req.params.at("key"), [r](const RaftService::ReadResult& res) {
      if (!res.status.ok()) return reply_status_with_leader(*r, res.status, res.leader);
      if (!res.value) return reply_status(*r, Status::not_found("no such key"));
      r->reply(200, std::string(as_string_view(*res.value)), "application/octet-stream",
               {{"X-Raft-Index", std::to_string(res.index)}});
    });
  });
}

}  // namespace shoal::node
