#include "node/http_api.h"

#include <httplib.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <map>
#include <set>
#include <thread>

#include "node/agent_config.h"
#include "node/api_json.h"
#include "node/member_filter.h"

namespace shoal::node {

using nlohmann::json;

struct HttpApi::Impl {
  explicit Impl(AgentControl& a) : agent(a) {}
  AgentControl& agent;
  httplib::Server server;
  std::thread thread;
  bool stopped = false;
};

namespace {

constexpr size_t kJoinAddrsMax = 64;

int http_status(const Status& s) {
  switch (s.code()) {
    case Status::Code::ok: return 200;
    case Status::Code::invalid_argument: return 400;
    case Status::Code::not_found: return 404;
    case Status::Code::permission_denied: return 403;
    case Status::Code::already_exists:
    case Status::Code::failed_precondition: return 409;
    case Status::Code::unavailable:
    case Status::Code::timeout: return 503;
    case Status::Code::corruption:
    case Status::Code::io_error:
    case Status::Code::internal: return 500;
  }
  return 500;
}

void reply_json(httplib::Response& res, int status, const json& body) {
  res.status = status;
  res.set_content(body.dump() + "\n", "application/json");
}

void reply_error(httplib::Response& res, int status, std::string_view message) {
  reply_json(res, status, error_json(message));
}

void reply_status(httplib::Response& res, const Status& st) {
  if (http_status(st) >= 500) {
    spdlog::warn("http-error status={} reason=\"{}\"", http_status(st), st.to_string());
  }
  reply_error(res, http_status(st), st.message());
}

// The request body as a JSON object. An empty body is {} when allowed.
Result<json> parse_body(const httplib::Request& req, bool allow_empty) {
  if (req.body.find_first_not_of(" \t\r\n") == std::string::npos) {
    if (allow_empty) return json::object();
    return Status::invalid_argument("request body is empty; expected a JSON object");
  }
  json body = json::parse(req.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    // Parse again with exceptions only to get the parser's message (position, token).
    try {
      json again = json::parse(req.body);
      (void)again;
    } catch (const json::parse_error& e) {
      return Status::invalid_argument(std::string("request body is not valid JSON: ") +
                                      e.what());
    }
    return Status::invalid_argument("request body is not valid JSON");
  }
  if (!body.is_object()) {
    return Status::invalid_argument(std::string("request body must be a JSON object, not ") +
                                    body.type_name());
  }
  return body;
}

Status check_fields(const json& body, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : body.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string list;
      for (auto k : known) list += (list.empty() ? "" : ", ") + std::string(k);
      return Status::invalid_argument("unknown field '" + key + "' (known: " + list + ")");
    }
  }
  return Status();
}

Result<bool> optional_bool(const json& body, const char* field) {
  auto it = body.find(field);
  if (it == body.end() || it->is_null()) return false;
  if (!it->is_boolean()) {
    return Status::invalid_argument(std::string("field '") + field + "' must be a boolean, not " +
                                    it->type_name());
  }
  return it->get<bool>();
}

Status check_query(const httplib::Request& req, std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : req.params) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return Status::invalid_argument("unknown query parameter '" + key + "'");
    }
  }
  return Status();
}

std::optional<std::string> query_value(const httplib::Request& req, const char* key) {
  if (!req.has_param(key)) return std::nullopt;
  return req.get_param_value(key);
}

// ---- handlers --------------------------------------------------------------------------

void get_members(AgentControl& agent, const httplib::Request& req, httplib::Response& res) {
  if (Status st = check_query(req, {"status", "tag", "name"}); !st.ok()) {
    return reply_status(res, st);
  }
  std::vector<std::string> tags;
  for (size_t i = 0; i < req.get_param_value_count("tag"); ++i) {
    tags.push_back(req.get_param_value("tag", i));
  }
  auto filter = MemberFilter::create(query_value(req, "status"), tags, query_value(req, "name"));
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

void get_self(AgentControl& agent, const httplib::Request& req, httplib::Response& res) {
  if (Status st = check_query(req, {}); !st.ok()) return reply_status(res, st);
  auto self = agent.self();
  if (!self.ok()) return reply_status(res, self.status());
  reply_json(res, 200, self_to_json(*self));
}

void get_health(AgentControl& agent, const httplib::Request&, httplib::Response& res) {
  auto alive = agent.num_alive();
  if (!alive.ok()) return reply_status(res, alive.status());
  reply_json(res, 200, {{"status", "ok"}, {"members_alive", *alive}});
}

void get_events(AgentControl& agent, const httplib::Request& req, httplib::Response& res) {
  if (Status st = check_query(req, {}); !st.ok()) return reply_status(res, st);
  auto events = agent.recent_events();
  if (!events.ok()) return reply_status(res, events.status());
  json list = json::array();
  for (const auto& e : *events) list.push_back(event_to_json(e));
  reply_json(res, 200, {{"events", std::move(list)}});
}

void post_join(AgentControl& agent, const httplib::Request& req, httplib::Response& res) {
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

void post_leave(AgentControl& agent, const httplib::Request& req, httplib::Response& res) {
  auto body = parse_body(req, /*allow_empty=*/true);
  if (!body.ok()) return reply_status(res, body.status());
  if (Status st = check_fields(*body, {}); !st.ok()) return reply_status(res, st);
  if (Status st = agent.leave(); !st.ok()) return reply_status(res, st);
  reply_json(res, 200, {{"left", true}});
}

void post_force_leave(AgentControl& agent, const httplib::Request& req, httplib::Response& res) {
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

void put_tags(AgentControl& agent, const httplib::Request& req, httplib::Response& res) {
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

// What httplib's own rejections mean, in words (it sends them without a body).
std::string library_error_message(int status) {
  switch (status) {
    case 400: return "malformed HTTP request";
    case 404: return "no such endpoint";
    case 408: return "request timed out";
    case 413: return "request body is larger than " + std::to_string(kHttpBodyLimit) + " bytes";
    case 414: return "request URI is too long";
    case 416: return "range not satisfiable";
    case 417: return "expectation failed";
    case 431: return "request headers are too large";
    case 501: return "method not implemented";
    case 503: return "service unavailable";
    default: return "HTTP error " + std::to_string(status);
  }
}

// Path -> methods served there, for 404 vs 405.
const std::map<std::string, std::set<std::string>>& known_routes() {
  static const std::map<std::string, std::set<std::string>> routes = {
      {"/v1/members", {"GET"}},     {"/v1/agent/self", {"GET"}}, {"/v1/health", {"GET"}},
      {"/v1/events", {"GET"}},      {"/v1/join", {"POST"}},      {"/v1/leave", {"POST"}},
      {"/v1/force-leave", {"POST"}}, {"/v1/agent/tags", {"PUT"}},
  };
  return routes;
}

void not_routed(const httplib::Request& req, httplib::Response& res) {
  const auto& routes = known_routes();
  auto it = routes.find(req.path);
  if (it == routes.end()) {
    return reply_error(res, 404, "no such endpoint: " + req.method + " " + req.path);
  }
  std::string allow;
  for (const auto& m : it->second) allow += (allow.empty() ? "" : ", ") + m;
  res.set_header("Allow", allow);
  reply_error(res, 405, "method " + req.method + " is not allowed on " + req.path +
                            " (use " + allow + ")");
}

}  // namespace

HttpApi::HttpApi(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

HttpApi::~HttpApi() { stop(); }

Result<std::unique_ptr<HttpApi>> HttpApi::start(const gossip::Address& listen,
                                                AgentControl& agent) {
  auto impl = std::make_unique<Impl>(agent);
  auto& s = impl->server;
  AgentControl* a = &agent;
  auto route = [a](void (*fn)(AgentControl&, const httplib::Request&, httplib::Response&)) {
    return [a, fn](const httplib::Request& req, httplib::Response& res) { fn(*a, req, res); };
  };
  s.Get("/v1/members", route(get_members));
  s.Get("/v1/agent/self", route(get_self));
  s.Get("/v1/health", route(get_health));
  s.Get("/v1/events", route(get_events));
  s.Post("/v1/join", route(post_join));
  s.Post("/v1/leave", route(post_leave));
  s.Post("/v1/force-leave", route(post_force_leave));
  s.Put("/v1/agent/tags", route(put_tags));
  // Anything else: 404, or 405 for a known path with another method.
  s.Get(".*", not_routed);
  s.Post(".*", not_routed);
  s.Put(".*", not_routed);
  s.Patch(".*", not_routed);
  s.Delete(".*", not_routed);
  s.Options(".*", not_routed);

  s.set_payload_max_length(kHttpBodyLimit);
  // httplib writes headers and body separately; with Nagle on, a keep-alive client's
  // delayed ACK stalls every response by tens of milliseconds (26 ms per GET measured).
  s.set_tcp_nodelay(true);
  // Errors httplib produces itself (413, malformed requests) get our JSON shape too.
  s.set_error_handler([](const httplib::Request&, httplib::Response& res) {
    if (!res.body.empty()) return;
    reply_error(res, res.status, library_error_message(res.status));
  });
  s.set_exception_handler(
      [](const httplib::Request& req, httplib::Response& res, std::exception_ptr ep) {
        std::string what = "unknown exception";
        try {
          std::rethrow_exception(ep);
        } catch (const std::exception& e) {
          what = e.what();
        } catch (...) {
        }
        spdlog::error("http-exception path={} what=\"{}\"", req.path, what);
        reply_error(res, 500, "internal error: " + what);
      });
  s.set_logger([](const httplib::Request& req, const httplib::Response& res) {
    spdlog::debug("http-request method={} path={} status={} from={}", req.method, req.path,
                  res.status, req.remote_addr);
  });

  const std::string host = listen.ip_string();
  if (!s.bind_to_port(host, listen.port)) {
    return Status::io_error("cannot listen for HTTP on " + listen.to_string() +
                            " (address in use, or not an address of this machine)");
  }
  Impl* raw = impl.get();
  impl->thread = std::thread([raw, where = listen.to_string()] {
    if (!raw->server.listen_after_bind()) {
      if (!raw->stopped) spdlog::error("http-stopped address={} the listener failed", where);
    }
  });
  spdlog::info("http-listen addr={}", listen.to_string());
  return std::unique_ptr<HttpApi>(new HttpApi(std::move(impl)));
}

void HttpApi::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  impl_->server.stop();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace shoal::node
