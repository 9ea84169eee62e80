#include "node/http_api.h"

#include "node/http_api_raft.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>

#include "node/agent_config.h"
#include "node/api_json.h"
#include "node/http_util.h"
#include "node/member_filter.h"
#include "node/tls/api_listener.h"
#include "node/tls/fingerprint.h"
#include "node/ui_assets.h"

namespace shoal::node {

using nlohmann::json;

namespace {

constexpr size_t kJoinAddrsMax = 64;

// ---- handlers --------------------------------------------------------------------------

void get_members(AgentControl& agent, const HttpRequest& req, HttpResponder& res) {
  if (Status st = check_query(req, {"status", "tag", "name"}); !st.ok()) {
    return reply_status(res, st);
  }
  auto filter = MemberFilter::create(req.query_value("status"), req.query_values("tag"),
                                     req.query_value("name"));
  if (!filter.ok()) return reply_status(res, filter.status());
  auto members = agent.members();
  if (!members.ok()) return reply_status(res, members.status());
  auto selected = filter->apply(std::move(*members));
  std::sort(selected.begin(), selected.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  json list = json::array();
  for (const auto& m : selected) list.push_back(member_to_json(m));
  reply_json(res, 200, {{"members", std::move(list)}});
}

void get_self(AgentControl& agent, const std::string& tls_fingerprint, const HttpRequest& req,
              HttpResponder& res) {
  if (Status st = check_query(req, {}); !st.ok()) return reply_status(res, st);
  auto self = agent.self();
  if (!self.ok()) return reply_status(res, self.status());
  json out = self_to_json(*self);
  out["http_tls"] = !tls_fingerprint.empty();
  if (!tls_fingerprint.empty()) out["http_tls_fingerprint"] = tls_fingerprint;
  reply_json(res, 200, out);
}

void get_health(AgentControl& agent, const HttpRequest&, HttpResponder& res) {
  auto alive = agent.num_alive();
  if (!alive.ok()) return reply_status(res, alive.status());
  reply_json(res, 200, {{"status", "ok"}, {"members_alive", *alive}});
}

void get_events(AgentControl& agent, const HttpRequest& req, HttpResponder& res) {
  if (Status st = check_query(req, {}); !st.ok()) return reply_status(res, st);
  auto events = agent.recent_events();
  if (!events.ok()) return reply_status(res, events.status());
  json list = json::array();
  for (const auto& e : *events) list.push_back(event_to_json(e));
  reply_json(res, 200, {{"events", std::move(list)}});
}

void post_join(AgentControl& agent, const HttpRequest& req, HttpResponder& res) {
  auto body = parse_body(req, /*allow_empty=*/false);
  if (!body.ok()) return reply_status(res, body.status());
  if (Status st = check_fields(*body, {"addrs", "replay"}); !st.ok()) {
    return reply_status(res, st);
  }
  auto it = body->find("addrs");
  if (it == body->end() || !it->is_array() || it->empty()) {
    return reply_error(res, 400, "field 'addrs' must be a non-empty array of \"IP[:PORT]\"");
  }
  if (it->size() > kJoinAddrsMax) {
    return reply_error(res, 400, "field 'addrs' has more than " +
                                     std::to_string(kJoinAddrsMax) + " addresses");
  }
  std::vector<gossip::Address> addrs;
  for (const auto& a : *it) {
    if (!a.is_string()) {
      return reply_error(res, 400, std::string("field 'addrs' must hold strings, not ") +
                                       a.type_name());
    }
    auto addr = gossip::Address::parse(a.get<std::string>(), kDefaultGossipPort);
    if (!addr.ok() || addr->port == 0) {
      return reply_error(res, 400, addr.ok() ? "join address '" + a.get<std::string>() +
                                                   "': port 0 is not a peer"
                                             : "join " + addr.status().message());
    }
    addrs.push_back(*addr);
  }
  auto replay = optional_bool(*body, "replay");
  if (!replay.ok()) return reply_status(res, replay.status());
  auto outcome = agent.join(addrs, *replay);
  if (!outcome.ok()) return reply_status(res, outcome.status());
  json reply = {{"joined", outcome->joined}, {"errors", outcome->errors}};
  if (outcome->joined == 0) {
    std::string why;
    for (const auto& e : outcome->errors) why += (why.empty() ? "" : "; ") + e;
    reply["error"] = "join failed: no address answered" + (why.empty() ? "" : ": " + why);
    spdlog::warn("http-join failed errors=\"{}\"", why);
    return reply_json(res, 502, reply);
  }
  reply_json(res, 200, reply);
}

void post_leave(AgentControl& agent, const HttpRequest& req, HttpResponder& res) {
  auto body = parse_body(req, /*allow_empty=*/true);
  if (!body.ok()) return reply_status(res, body.status());
  if (Status st = check_fields(*body, {}); !st.ok()) return reply_status(res, st);
  if (Status st = agent.leave(); !st.ok()) return reply_status(res, st);
  reply_json(res, 200, {{"left", true}});
}

void post_force_leave(AgentControl& agent, const HttpRequest& req, HttpResponder& res) {
  auto body = parse_body(req, /*allow_empty=*/false);
  if (!body.ok()) return reply_status(res, body.status());
  if (Status st = check_fields(*body, {"node", "prune"}); !st.ok()) {
    return reply_status(res, st);
  }
  auto it = body->find("node");
  if (it == body->end() || !it->is_string() || it->get<std::string>().empty()) {
    return reply_error(res, 400, "field 'node' must be a non-empty string");
  }
  auto prune = optional_bool(*body, "prune");
  if (!prune.ok()) return reply_status(res, prune.status());
  const std::string node = it->get<std::string>();
  if (Status st = agent.force_leave(node, *prune); !st.ok()) return reply_status(res, st);
  reply_json(res, 200, {{"node", node}, {"prune", *prune}});
}

void put_tags(AgentControl& agent, const HttpRequest& req, HttpResponder& res) {
  auto body = parse_body(req, /*allow_empty=*/false);
  if (!body.ok()) return reply_status(res, body.status());
  if (Status st = check_fields(*body, {"set", "delete"}); !st.ok()) return reply_status(res, st);
  TagUpdate update;
  if (auto it = body->find("set"); it != body->end() && !it->is_null()) {
    if (!it->is_object()) return reply_error(res, 400, "field 'set' must be an object of strings");
    for (const auto& [k, v] : it->items()) {
      if (k.empty()) return reply_error(res, 400, "field 'set' has an empty tag name");
      if (!v.is_string()) {
        return reply_error(res, 400, "tag '" + k + "' must be a string, not " + v.type_name());
      }
      update.set[k] = v.get<std::string>();
    }
  }
  if (auto it = body->find("delete"); it != body->end() && !it->is_null()) {
    if (!it->is_array()) return reply_error(res, 400, "field 'delete' must be an array of strings");
    for (const auto& k : *it) {
      if (!k.is_string()) {
        return reply_error(res, 400, std::string("field 'delete' must hold strings, not ") +
                                         k.type_name());
      }
      const auto key = k.get<std::string>();
      if (update.set.count(key) != 0) {
        return reply_error(res, 400, "tag '" + key + "' is both set and deleted");
      }
      update.remove.push_back(key);
    }
  }
  if (update.set.empty() && update.remove.empty()) {
    return reply_error(res, 400, "nothing to change: give 'set' and/or 'delete'");
  }
  auto tags = agent.update_tags(update);
  if (!tags.ok()) return reply_status(res, tags.status());
  json out = json::object();
  for (const auto& [k, v] : *tags) out[k] = v;
  reply_json(res, 200, {{"tags", std::move(out)}});
}

}  // namespace

void add_membership_routes(HttpRouter& router, AgentControl& agent,
                           std::string tls_fingerprint) {
  AgentControl* a = &agent;
  auto route = [a](void (*fn)(AgentControl&, const HttpRequest&, HttpResponder&)) {
    return [a, fn](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
      fn(*a, req, *res);
    };
  };
  router.add("GET", "/v1/members", route(get_members));
  router.add("GET", "/v1/agent/self",
             [a, print = std::move(tls_fingerprint)](const HttpRequest& req,
                                                     std::shared_ptr<HttpResponder> res) {
               get_self(*a, print, req, *res);
             });
  router.add("GET", "/v1/health", route(get_health));
  router.add("GET", "/v1/events", route(get_events));
  router.add("POST", "/v1/join", route(post_join));
  router.add("POST", "/v1/leave", route(post_leave));
  router.add("POST", "/v1/force-leave", route(post_force_leave));
  router.add("PUT", "/v1/agent/tags", route(put_tags));
}

HttpApi::HttpApi(std::unique_ptr<HttpServer> server, std::unique_ptr<tls::ApiTlsListener> tls,
                 std::unique_ptr<HttpServer> peer_server, RaftService* raft)
    : server_(std::move(server)),
      tls_(std::move(tls)),
      peer_server_(std::move(peer_server)),
      raft_(raft) {}

HttpApi::~HttpApi() { stop(); }

Result<std::unique_ptr<HttpApi>> HttpApi::start(const gossip::Address& listen,
                                                AgentControl& agent, RaftService* raft,
                                                const std::function<void(HttpRouter&)>& more_routes,
                                                const ApiAuthOptions* auth,
                                                const router::TlsPem* tls) {
  if (tls && !auth) {
    return Status::failed_precondition("the API speaks TLS only with authentication on");
  }
  std::string fingerprint;
  if (tls) {
    auto print = tls::fingerprint_of_pem(tls->cert);
    if (!print.ok()) return print.status();
    fingerprint = *print;
  }
  HttpRouter router;
  add_membership_routes(router, agent, fingerprint);
  add_event_routes(router, agent);
  add_key_routes(router, agent);
  add_metrics_routes(router);
  add_ui_routes(router);
  if (raft) add_raft_routes(router, *raft);
  if (more_routes) more_routes(router);
  // Forwarded requests, deploys and log follows hold a worker while another node answers.
  HttpServerOptions options;
  options.worker_threads = 16;
  HttpServerOptions peer_options = options;
  if (auth) {
    apply_access_policy(router, *auth);
    options.authorize = make_authorizer(
        auth->tokens, /*peer=*/false, std::make_shared<auth::FailureLimiter>(auth->failure_limit));
    peer_options.authorize = make_authorizer(auth->tokens, /*peer=*/true);
  }
  std::unique_ptr<HttpServer> server;
  std::unique_ptr<tls::ApiTlsListener> tls_listener;
  if (tls) {
    // TLS ends in the listener; the server gets the decrypted connections.
    server = HttpServer::start_unbound(router.without_prefix(kInternalPrefix), options);
    auto listener = tls::ApiTlsListener::start(
        listen, *tls, [s = server.get()](int fd, std::string remote) {
          s->adopt(fd, std::move(remote));
        });
    if (!listener.ok()) return listener.status();
    tls_listener = std::move(*listener);
    spdlog::info("http-listen addr={} tls=true", tls_listener->address().to_string());
  } else {
    auto started = HttpServer::start(listen, router.without_prefix(kInternalPrefix), options);
    if (!started.ok()) return started.status();
    server = std::move(*started);
    spdlog::info("http-listen addr={} tls=false", server->address().to_string());
  }
  std::unique_ptr<HttpServer> peer_server;
  if (raft) {
    peer_server = HttpServer::start_unbound(std::move(router), peer_options);
    raft->set_http_handoff([peers = peer_server.get()](int fd, const std::string& remote) {
      peers->adopt(fd, remote);
    });
  }
  return std::unique_ptr<HttpApi>(
      new HttpApi(std::move(server), std::move(tls_listener), std::move(peer_server), raft));
}

gossip::Address HttpApi::address() const {
  return tls_ ? tls_->address() : server_->address();
}

void HttpApi::stop() {
  if (raft_) raft_->set_http_handoff({});
  if (server_) server_->stop();
  if (tls_) tls_->stop();  // after the server, so its last answers reach the clients
  if (peer_server_) peer_server_->stop();
}

}  // namespace shoal::node
