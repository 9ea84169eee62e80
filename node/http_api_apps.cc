// The /v1/apps routes (docs/apps.md). Every node serves them: a request about an app goes
// to that app's group leader, a catalog write to the catalog's leader (http_forward.h);
// the owner runs it against its state machine. Deploys run on the node that received them
// (logs: http_api_logs.cc).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <thread>

#include "node/apps/app_service.h"
#include "node/apps/app_views.h"
#include "node/apps/deploy.h"
#include "node/apps/group_ids.h"
#include "node/apps/json_fields.h"
#include "node/apps/names.h"
#include "node/http_api.h"
#include "node/http_api_owner.h"
#include "node/api_client.h"
#include "node/http_forward.h"
#include "node/log_drain.h"
#include "node/duration_text.h"
#include "node/http_util.h"

namespace shoal::node {

using nlohmann::json;
using apps::AppService;
using apps::AppState;

namespace {

constexpr size_t kDeployBodyLimit = size_t{1} << 30;

int64_t wall_ms() { return to_millis(std::chrono::system_clock::now().time_since_epoch()); }

struct Ctx {
  AppService& apps;
  ArtifactStore& store;
  apps::DeployOptions deploy;
};

using Handler = std::function<void(Ctx&, const HttpRequest&, const std::shared_ptr<HttpResponder>&)>;

// Runs `fn(group)` on the app's leader: here, or forwarded there.
void on_app_leader(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res,
                   const std::function<void(uint64_t group)>& fn) {
  const std::string& app = req.params.at("app");
  if (Status s = apps::validate_app_name(app); !s.ok()) return reply_status(*res, s);
  auto loc = c.apps.locate(app);
  if (!loc.ok()) return reply_status(*res, loc.status());
  if (!loc->owner.here) return forward_request(req, res, loc->owner.rpc);
  fn(loc->group);
}

// Runs `fn()` on the catalog's leader: here, or forwarded there.
void on_catalog_leader(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res,
                       const std::function<void()>& fn) {
  if (!forward_to_catalog_leader(c.apps, req, res)) fn();
}

// Proposes `command` to the group and answers with `render(result body)`.
void propose_and_reply(Ctx& c, HttpResponder& res, uint64_t group, Bytes command,
                       const std::function<json(const json&)>& render) {
  auto r = c.apps.propose(group, std::move(command));
  if (!r.ok()) return reply_status(res, r.status());
  if (!r->ok()) return reply_status(res, r->status);
  c.apps.kick();
  reply_json(res, 200, render(r->body));
}

void with_state(Ctx& c, HttpResponder& res, uint64_t group,
                const std::function<void(const AppState&)>& fn) {
  auto st = c.apps.app_state(group, /*linearizable=*/true);
  if (!st.ok()) return reply_status(res, st.status());
  fn(**st);
}

// ---- catalog ----

void list_apps(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = check_query(req, {}); !s.ok()) return reply_status(*res, s);
  auto cat = c.apps.catalog();
  if (!cat.ok()) return reply_status(*res, cat.status());
  json list = json::array();
  for (const auto& [name, rec] : (*cat)->apps()) {
    json j = {{"name", name}, {"group", rec.group}, {"replicas", rec.replicas}};
    // Each app's leader knows its release and instances; an unreachable one is reported as such.
    auto loc = c.apps.locate(name);
    if (loc.ok() && loc->owner.here) {
      auto st = c.apps.app_state(rec.group, false);
      if (st.ok()) {
        auto [running, total] = apps::instance_counts(**st);
        j["release"] = (*st)->current_version();
        j["instances"] = {{"running", running}, {"total", total}};
      }
    } else if (loc.ok()) {
      auto r = call_node(loc->owner.rpc, "GET", "/v1/apps/" + name, nullptr, std::chrono::seconds(3));
      json info = r.ok() && r->status == 200 ? json::parse(r->body, nullptr, false) : json();
      if (info.is_object()) {
        j["release"] = info.value("release", 0);
        j["instances"] = info.value("instances", json::object());
      }
    }
    if (!j.contains("release")) j["error"] = loc.ok() ? "the app's leader did not answer" : loc.status().message();
    list.push_back(std::move(j));
  }
  reply_json(*res, 200, {{"apps", std::move(list)}});
}

void create_app(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  auto body = parse_body(req, false);
  if (!body.ok()) return reply_status(*res, body.status());
  if (Status s = check_fields(*body, {"name"}); !s.ok()) return reply_status(*res, s);
  if (!body->contains("name") || !(*body)["name"].is_string()) {
    return reply_status(*res, Status::invalid_argument("'name' must be the app's name"));
  }
  const std::string name = (*body)["name"];
  if (Status s = apps::validate_app_name(name); !s.ok()) return reply_status(*res, s);
  on_catalog_leader(c, req, res, [&] {
    auto r = c.apps.create_app(name);
    if (!r.ok()) return reply_status(*res, r.status());
    c.apps.kick();
    reply_json(*res, 201, *r);
  });
}

void destroy_app(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  const std::string& app = req.params.at("app");
  if (Status s = apps::validate_app_name(app); !s.ok()) return reply_status(*res, s);
  on_catalog_leader(c, req, res, [&] {
    auto r = c.apps.destroy_app(app);
    if (!r.ok()) return reply_status(*res, r.status());
    reply_json(*res, 200, *r);
  });
}

void drain_node(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  auto body = parse_body(req, true);
  if (!body.ok()) return reply_status(*res, body.status());
  if (Status s = check_fields(*body, {"drain"}); !s.ok()) return reply_status(*res, s);
  auto drain = optional_bool(*body, "drain");
  if (!drain.ok()) return reply_status(*res, drain.status());
  const bool draining = body->contains("drain") ? *drain : true;
  const std::string node = req.params.at("node");
  if (!draining || apps::find_peer(c.apps.peers(), node) != nullptr) {
    on_catalog_leader(c, req, res, [&] {
      propose_and_reply(c, *res, apps::kCatalogGroup, apps::CatalogState::set_drain(node, draining),
                        [&](const json&) { return json{{"node", node}, {"draining", draining}}; });
    });
    return;
  }
  reply_status(*res, Status::not_found("no member named '" + node + "'"));
}

// ---- log drains (log_drain.h): catalog settings "drain:URL" ----

void list_log_drains(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = check_query(req, {}); !s.ok()) return reply_status(*res, s);
  auto cat = c.apps.catalog();
  if (!cat.ok()) return reply_status(*res, cat.status());
  json drains = json::array();
  for (const auto& [key, value] : (*cat)->settings()) {
    if (std::string url = drain_of_setting_key(key); !url.empty()) drains.push_back({{"url", url}});
  }
  reply_json(*res, 200, {{"drains", std::move(drains)}});
}

void add_log_drain(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  auto body = parse_body(req, true);
  if (!body.ok()) return reply_status(*res, body.status());
  if (Status s = check_fields(*body, {"url"}); !s.ok()) return reply_status(*res, s);
  const auto url = body->find("url");
  if (url == body->end() || !url->is_string()) {
    return reply_status(*res, Status::invalid_argument("\"url\" must be a string"));
  }
  auto target = parse_drain_url(url->get<std::string>());
  if (!target.ok()) return reply_status(*res, target.status());
  on_catalog_leader(c, req, res, [&] {
    propose_and_reply(c, *res, apps::kCatalogGroup,
                      apps::CatalogState::set_setting(drain_setting_key(target->url), ""),
                      [&](const json&) { return json{{"url", target->url}}; });
  });
}

void remove_log_drain(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = check_query(req, {"url"}); !s.ok()) return reply_status(*res, s);
  const auto url = req.query_value("url");
  if (!url || url->empty()) {
    return reply_status(*res, Status::invalid_argument("the \"url\" query parameter is required"));
  }
  on_catalog_leader(c, req, res, [&] {
    auto r = c.apps.propose(apps::kCatalogGroup,
                            apps::CatalogState::remove_setting(drain_setting_key(*url)));
    if (!r.ok()) return reply_status(*res, r.status());
    if (!r->ok()) {
      if (r->status.is(Status::Code::not_found)) {
        return reply_status(*res, Status::not_found("no log drain " + url->substr(0, 200)));
      }
      return reply_status(*res, r->status);
    }
    reply_json(*res, 200, {{"url", *url}, {"removed", true}});
  });
}

void internal_catalog(Ctx& c, const HttpRequest&, const std::shared_ptr<HttpResponder>& res) {
  auto cat = c.apps.catalog();
  if (!cat.ok()) return reply_status(*res, cat.status());
  const Bytes b = (*cat)->snapshot();
  res->reply(200, std::string(b.begin(), b.end()), "application/msgpack");
}

// ---- one app, on its leader ----

void app_info(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  on_app_leader(c, req, res, [&](uint64_t group) {
    with_state(c, *res, group, [&](const AppState& st) {
      json j = apps::info_json(st);
      j["group"] = group;
      j["leader"] = c.apps.self();
      reply_json(*res, 200, j);
    });
  });
}

void app_ps(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  on_app_leader(c, req, res, [&](uint64_t group) {
    with_state(c, *res, group, [&](const AppState& st) {
      json ps = apps::ps_json(st);
      apps::add_usage(ps, c.apps.recent_usage(group));
      reply_json(*res, 200, ps);
    });
  });
}

void app_releases(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  on_app_leader(c, req, res, [&](uint64_t group) {
    with_state(c, *res, group, [&](const AppState& st) { reply_json(*res, 200, apps::releases_json(st)); });
  });
}

void app_config(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  on_app_leader(c, req, res, [&](uint64_t group) {
    with_state(c, *res, group, [&](const AppState& st) {
      reply_json(*res, 200, {{"app", st.name()}, {"config", st.config()}});
    });
  });
}

void set_config(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  auto body = parse_body(req, false);
  if (!body.ok()) return reply_status(*res, body.status());
  if (Status s = check_fields(*body, {"set", "unset"}); !s.ok()) return reply_status(*res, s);
  std::map<std::string, std::string> set;
  std::vector<std::string> unset;
  if (auto it = body->find("set"); it != body->end()) {
    if (!it->is_object()) return reply_status(*res, Status::invalid_argument("'set' must be an object of strings"));
    for (const auto& [k, v] : it->items()) {
      if (!v.is_string()) return reply_status(*res, Status::invalid_argument("config var '" + k + "' must be a string"));
      set[k] = v.get<std::string>();
    }
  }
  if (auto it = body->find("unset"); it != body->end()) {
    if (!it->is_array()) return reply_status(*res, Status::invalid_argument("'unset' must be a list of names"));
    for (const auto& k : *it) {
      if (!k.is_string()) return reply_status(*res, Status::invalid_argument("'unset' must be a list of names"));
      unset.push_back(k.get<std::string>());
    }
  }
  on_app_leader(c, req, res, [&](uint64_t group) {
    propose_and_reply(c, *res, group, AppState::set_config(set, unset, wall_ms()),
                      [](const json& r) { return json{{"release", r.value("release", json())}}; });
  });
}

void scale(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  auto body = parse_body(req, false);
  if (!body.ok()) return reply_status(*res, body.status());
  std::map<std::string, int> counts;
  for (const auto& [type, n] : body->items()) {
    if (!n.is_number_integer()) {
      return reply_status(*res, Status::invalid_argument("the count of '" + type + "' must be an integer"));
    }
    counts[type] = n.get<int>();
  }
  if (counts.empty()) return reply_status(*res, Status::invalid_argument("give at least one TYPE: COUNT"));
  on_app_leader(c, req, res, [&](uint64_t group) {
    propose_and_reply(c, *res, group, AppState::scale(counts, wall_ms()),
                      [](const json& r) { return json{{"formation", r.value("formation", json::object())}}; });
  });
}

void restart(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  auto body = parse_body(req, true);
  if (!body.ok()) return reply_status(*res, body.status());
  if (Status s = check_fields(*body, {"target"}); !s.ok()) return reply_status(*res, s);
  std::string target;
  if (auto it = body->find("target"); it != body->end()) {
    if (!it->is_string()) return reply_status(*res, Status::invalid_argument("'target' must be a type or an instance id"));
    target = it->get<std::string>();
  }
  on_app_leader(c, req, res, [&](uint64_t group) {
    propose_and_reply(c, *res, group, AppState::restart(target, wall_ms()),
                      [](const json& r) { return json{{"restarted", r.value("restarted", json::array())}}; });
  });
}

void set_stopped(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res, bool stopped) {
  on_app_leader(c, req, res, [&](uint64_t group) {
    propose_and_reply(c, *res, group, AppState::set_stopped(stopped, wall_ms()),
                      [&](const json&) { return json{{"stopped", stopped}}; });
  });
}

void rollback(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  auto body = parse_body(req, true);
  if (!body.ok()) return reply_status(*res, body.status());
  if (Status s = check_fields(*body, {"version"}); !s.ok()) return reply_status(*res, s);
  std::optional<uint64_t> version;
  if (auto it = body->find("version"); it != body->end() && !it->is_null()) {
    if (!it->is_number_unsigned()) return reply_status(*res, Status::invalid_argument("'version' must be a release number"));
    version = it->get<uint64_t>();
  }
  on_app_leader(c, req, res, [&](uint64_t group) {
    propose_and_reply(c, *res, group, AppState::rollback(version, wall_ms()), [](const json& r) {
      return json{{"release", r.value("release", json())}, {"from", r.value("from", json())}};
    });
  });
}

void internal_release(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  auto body = parse_body(req, false);
  if (!body.ok()) return reply_status(*res, body.status());
  on_app_leader(c, req, res, [&](uint64_t group) {
    auto r = apps::add_release_here(c.apps, group, *body);
    if (!r.ok()) return reply_status(*res, r.status());
    reply_json(*res, 200, *r);
  });
}

// An app leader records where its group now lives (after replacing a lost replica).
void internal_replicas(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  auto body = parse_body(req, false);
  if (!body.ok()) return reply_status(*res, body.status());
  if (Status s = check_fields(*body, {"replicas"}); !s.ok()) return reply_status(*res, s);
  apps::JsonFields f(*body, "body");
  const std::vector<std::string> replicas = f.strings("replicas", 64);
  if (!f.ok()) return reply_status(*res, Status::invalid_argument(f.error()));
  const std::string& app = req.params.at("app");
  if (Status s = apps::validate_app_name(app); !s.ok()) return reply_status(*res, s);
  on_catalog_leader(c, req, res, [&] {
    propose_and_reply(c, *res, apps::kCatalogGroup, apps::CatalogState::set_replicas(app, replicas),
                      [](const json& r) { return r; });
  });
}

void internal_teardown(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  on_app_leader(c, req, res, [&](uint64_t group) {
    Status s = c.apps.teardown(group);
    if (!s.ok()) return reply_status(*res, s);
    reply_json(*res, 200, {{"stopped", true}});
  });
}

}  // namespace

void add_app_routes(HttpRouter& router, apps::AppService& apps, ArtifactStore& store,
                    const std::filesystem::path& work_dir) {
  auto ctx = std::make_shared<Ctx>(Ctx{apps, store, {}});
  ctx->deploy.work_dir = work_dir;
  auto route = [ctx](Handler fn) {
    return [ctx, fn](const HttpRequest& req, std::shared_ptr<HttpResponder> res) { fn(*ctx, req, res); };
  };
  router.add("GET", "/v1/apps", route(list_apps));
  router.add("POST", "/v1/apps", route(create_app));
  router.add("DELETE", "/v1/apps/{app}", route(destroy_app));
  router.add("GET", "/v1/apps/{app}", route(app_info));
  router.add("GET", "/v1/apps/{app}/ps", route(app_ps));
  router.add("POST", "/v1/apps/{app}/scale", route(scale));
  router.add("POST", "/v1/apps/{app}/restart", route(restart));
  router.add("POST", "/v1/apps/{app}/stop", route([](Ctx& c, const HttpRequest& q, const std::shared_ptr<HttpResponder>& r) { set_stopped(c, q, r, true); }));
  router.add("POST", "/v1/apps/{app}/start", route([](Ctx& c, const HttpRequest& q, const std::shared_ptr<HttpResponder>& r) { set_stopped(c, q, r, false); }));
  router.add("GET", "/v1/apps/{app}/config", route(app_config));
  router.add("POST", "/v1/apps/{app}/config", route(set_config));
  router.add("GET", "/v1/apps/{app}/releases", route(app_releases));
  router.add("POST", "/v1/apps/{app}/rollback", route(rollback));
  router.add("POST", "/v1/apps/{app}/deploy",
             route([](Ctx& c, const HttpRequest& q, const std::shared_ptr<HttpResponder>& r) {
               apps::handle_deploy(c.apps, c.store, c.deploy, q, r);
             }),
             RouteOptions{kDeployBodyLimit});
  router.add("POST", "/v1/nodes/{node}/drain", route(drain_node));
  router.add("GET", "/v1/internal/catalog", route(internal_catalog));
  router.add("GET", "/v1/log-drains", route(list_log_drains));
  router.add("POST", "/v1/log-drains", route(add_log_drain));
  router.add("DELETE", "/v1/log-drains", route(remove_log_drain));
  router.add("POST", "/v1/internal/apps/{app}/releases", route(internal_release));
  router.add("POST", "/v1/internal/apps/{app}/teardown", route(internal_teardown));
  router.add("POST", "/v1/internal/apps/{app}/replicas", route(internal_replicas));
}

}  // namespace shoal::node
