// The /v1/apps routes (docs/apps.md). Every node serves them: a request about an app goes
// to that app's group leader, a catalog write to the catalog's leader (http_forward.h);
// the owner runs it against its state machine. Deploys and logs run on the node that
// received them.
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
#include "node/api_client.h"
#include "node/http_forward.h"
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
  auto owner = c.apps.catalog_owner();
  if (!owner.ok()) return reply_status(*res, owner.status());
  if (!owner->here) return forward_request(req, res, owner->rpc);
  fn();
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

// ---- logs: merged from every node that runs the app ----

// The --rpc addresses of the nodes that run (or ran) the app's instances, from the leader's
// table.
Result<std::vector<std::string>> app_node_addrs(Ctx& c, const std::string& app) {
  auto loc = c.apps.locate(app);
  if (!loc.ok()) return loc.status();
  json ps;
  if (loc->owner.here) {
    auto st = c.apps.app_state(loc->group, false);
    if (!st.ok()) return st.status();
    ps = apps::ps_json(**st);
  } else {
    auto r = call_node(loc->owner.rpc, "GET", "/v1/apps/" + app + "/ps", nullptr, std::chrono::seconds(5));
    if (!r.ok()) return r.status();
    ps = json::parse(r->body, nullptr, false);
    if (r->status != 200 || !ps.is_object()) {
      return Status::unavailable("the app's leader answered HTTP " + std::to_string(r->status));
    }
  }
  std::set<std::string> nodes;
  for (const auto& i : ps.value("instances", json::array())) nodes.insert(i.value("node", ""));
  std::vector<std::string> addrs;
  for (const auto& n : nodes) {
    if (const std::string a = c.apps.rpc_of(n); !a.empty()) addrs.push_back(a);
  }
  return addrs;
}

// Follows one node's lines of the app until the client leaves. A quiet follow times out
// every few seconds so the reader notices a client that left; it then asks again for the
// lines since the last one it relayed, so none are missed in between.
void follow_node(const std::string& addr, const std::string& query, std::string lines,
                 int64_t since_ms, const std::shared_ptr<HttpResponder>& res,
                 const std::shared_ptr<std::mutex>& mu) {
  const auto colon = addr.rfind(':');
  for (int attempt = 0; attempt < 100000 && !res->closed(); ++attempt) {
    HttpExchange ex;
    ex.target = "/v1/internal/logs?" + query + "&follow=1&lines=" + ApiClient::url_encode(lines);
    if (since_ms > 0) ex.target += "&since_ms=" + std::to_string(since_ms);
    ex.timeout = std::chrono::seconds(5);
    std::string partial;
    ex.on_body = [&](std::string_view piece) {
      partial.append(piece);
      const size_t last = partial.rfind('\n');
      if (last == std::string::npos) return !res->closed();
      std::string complete = partial.substr(0, last + 1);
      partial.erase(0, last + 1);
      // The newest line relayed: the next request asks for what came after it.
      const size_t begin = complete.size() > 1 ? complete.rfind('\n', complete.size() - 2)
                                               : std::string::npos;
      const json newest = json::parse(
          complete.substr(begin == std::string::npos ? 0 : begin + 1), nullptr, false);
      if (newest.is_object()) since_ms = std::max(since_ms, newest.value("ts_ms", int64_t{0}) + 1);
      std::lock_guard lock(*mu);
      return res->write(complete);
    };
    auto r = http_request(addr.substr(0, colon), std::stoi(addr.substr(colon + 1)), ex);
    lines = since_ms > 0 ? "10000" : "0";
    if (r.ok() && r->status != 200) break;  // the node refused: nothing to follow there
    if (r.ok()) std::this_thread::sleep_for(std::chrono::milliseconds(500));
  }
}

// Answers a logs request from `nodes()` (their --rpc addresses; looked up again every 2 s
// while following, so lines from a node that joins the set are followed from when the
// follow began): each node's last lines merged by time, then with follow=1 their new ones.
void serve_logs(const HttpRequest& req, const std::shared_ptr<HttpResponder>& res,
                std::string query, const std::function<Result<std::vector<std::string>>()>& nodes) {
  const int64_t started_ms = wall_ms();
  int64_t since_ms = 0;
  if (auto v = req.query_value("since")) {
    auto t = parse_since(*v, started_ms);
    if (!t.ok()) return reply_status(*res, t.status());
    since_ms = std::max<int64_t>(*t, 1);
  }
  if (auto v = req.query_value("grep")) query += "&grep=" + ApiClient::url_encode(*v);
  auto addrs = nodes();
  if (!addrs.ok()) return reply_status(*res, addrs.status());
  const std::string lines_param = req.query_value("lines").value_or("100");
  const bool follow = req.query_value("follow").value_or("") == "1" ||
                      req.query_value("follow").value_or("") == "true";
  if (!follow) {
    std::vector<std::pair<int64_t, std::string>> lines;
    const std::string since_param = since_ms > 0 ? "&since_ms=" + std::to_string(since_ms) : "";
    for (const auto& a : *addrs) {
      auto r = call_node(a, "GET", "/v1/internal/logs?" + query + since_param + "&lines=" + ApiClient::url_encode(lines_param),
                         nullptr, std::chrono::seconds(5));
      if (!r.ok() || r->status != 200) continue;
      size_t start = 0;
      while (start < r->body.size()) {
        size_t nl = r->body.find('\n', start);
        if (nl == std::string::npos) nl = r->body.size();
        std::string line = r->body.substr(start, nl - start);
        start = nl + 1;
        json j = json::parse(line, nullptr, false);
        if (j.is_object()) lines.emplace_back(j.value("ts_ms", int64_t{0}), std::move(line));
      }
    }
    std::stable_sort(lines.begin(), lines.end(),
                     [](const auto& a, const auto& b) { return a.first < b.first; });
    std::string out;
    for (const auto& [_, l] : lines) out += l + "\n";
    return res->reply(200, std::move(out), "application/x-ndjson");
  }
  res->start_stream(200, "application/x-ndjson");
  auto mu = std::make_shared<std::mutex>();
  std::vector<std::thread> readers;
  std::set<std::string> following;
  for (const auto& a : *addrs) {
    following.insert(a);
    readers.emplace_back(follow_node, a, query, lines_param, since_ms, res, mu);
  }
  constexpr auto kRelook = std::chrono::seconds(2);
  auto next_look = std::chrono::steady_clock::now() + kRelook;
  while (!res->closed()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    if (std::chrono::steady_clock::now() < next_look) continue;
    next_look = std::chrono::steady_clock::now() + kRelook;
    auto now_addrs = nodes();
    if (!now_addrs.ok()) continue;  // no leader for a moment: keep what we follow
    for (const auto& a : *now_addrs) {
      if (!following.insert(a).second) continue;
      readers.emplace_back(follow_node, a, query, "10000", std::max(since_ms, started_ms), res, mu);
    }
  }
  for (auto& t : readers) t.join();
  res->end();
}

// An app's lines from every node that runs it; a follow picks up an instance placed on
// another node (a move, a failover, a scale-up).
void app_logs(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = check_query(req, {"type", "instance", "lines", "follow", "since", "grep"});
      !s.ok()) {
    return reply_status(*res, s);
  }
  const std::string& app = req.params.at("app");
  if (Status s = apps::validate_app_name(app); !s.ok()) return reply_status(*res, s);
  std::string query = "app=" + app;
  for (const char* key : {"type", "instance"}) {
    if (auto v = req.query_value(key)) query += std::string("&") + key + "=" + ApiClient::url_encode(*v);
  }
  serve_logs(req, res, query, [&c, app] { return app_node_addrs(c, app); });
}

// The agents' own logs (node/logging.h): every live Shoal node's, or one node's.
void system_logs(Ctx& c, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  if (Status s = check_query(req, {"node", "lines", "follow", "since", "grep"}); !s.ok()) {
    return reply_status(*res, s);
  }
  const std::optional<std::string> node = req.query_value("node");
  auto nodes = [&c, node]() -> Result<std::vector<std::string>> {
    std::vector<std::string> addrs;
    for (const auto& p : c.apps.peers()) {
      if (!p.alive() || p.rpc.empty() || (node && p.name != *node)) continue;
      addrs.push_back(p.rpc);
    }
    if (node && addrs.empty()) {
      return Status::not_found("no live Shoal node named '" + node->substr(0, 128) + "'");
    }
    return addrs;
  };
  serve_logs(req, res, "system=1", nodes);
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
  router.add("GET", "/v1/apps/{app}/logs", route(app_logs));
  router.add("GET", "/v1/agent/logs", route(system_logs));
  router.add("POST", "/v1/apps/{app}/deploy",
             route([](Ctx& c, const HttpRequest& q, const std::shared_ptr<HttpResponder>& r) {
               apps::handle_deploy(c.apps, c.store, c.deploy, q, r);
             }),
             RouteOptions{kDeployBodyLimit});
  router.add("POST", "/v1/nodes/{node}/drain", route(drain_node));
  router.add("GET", "/v1/internal/catalog", route(internal_catalog));
  router.add("POST", "/v1/internal/apps/{app}/releases", route(internal_release));
  router.add("POST", "/v1/internal/apps/{app}/teardown", route(internal_teardown));
  router.add("POST", "/v1/internal/apps/{app}/replicas", route(internal_replicas));
}

}  // namespace shoal::node
