// The event layer's part of the /v1 API (docs/api.md): user events, queries streamed as
// newline-delimited JSON while their acks and responses arrive, the Server-Sent Events
// stream of everything the node sees, and the live log (`shoal monitor`).
#include <sodium.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <cmath>
#include <memory>
#include <mutex>

#include "node/agent_config.h"
#include "node/duration_text.h"
#include "node/api_json.h"
#include "node/http_api.h"
#include "node/http_util.h"
#include "node/log_stream.h"

namespace shoal::node {

using nlohmann::json;

namespace {

// Payloads are bytes; JSON carries printable text as "payload" and anything else as
// "payload_base64".
void put_payload(json& out, ByteView payload) {
  bool text = true;
  for (uint8_t b : payload) {
    if (!(b == '\t' || b == '\n' || b == '\r' || (b >= 0x20 && b < 0x7f))) {
      text = false;
      break;
    }
  }
  if (text) {
    out["payload"] = std::string(as_string_view(payload));
    return;
  }
  std::string b64(sodium_base64_encoded_len(payload.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(b64.data(), b64.size(), payload.data(), payload.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  b64.resize(std::strlen(b64.c_str()));
  out["payload_base64"] = b64;
}

Result<bool> bool_param(const HttpRequest& req, const std::string& key, bool fallback) {
  auto v = req.query_value(key);
  if (!v) return fallback;
  if (*v == "true" || *v == "1" || v->empty()) return true;
  if (*v == "false" || *v == "0") return false;
  return Status::invalid_argument("query parameter '" + key + "' must be true or false, not '" +
                                  *v + "'");
}

void post_event(AgentControl& agent, const HttpRequest& req, HttpResponder& res) {
  if (Status st = check_query(req, {"coalesce"}); !st.ok()) return reply_status(res, st);
  auto coalesce = bool_param(req, "coalesce", true);
  if (!coalesce.ok()) return reply_status(res, coalesce.status());
  const std::string& name = req.params.at("name");
  Status st = agent.user_event(name, to_bytes(req.body), *coalesce);
  if (!st.ok()) return reply_status(res, st);
  reply_json(res, 200, {{"name", name}, {"payload_bytes", req.body.size()}, {"coalesce", *coalesce}});
}

Result<gossip::QueryParams> query_params(const HttpRequest& req) {
  SHOAL_RETURN_IF_ERROR(check_query(req, {"node", "tag", "timeout", "ack", "relay_factor"}));
  gossip::QueryParams p;
  p.filter_nodes = req.query_values("node");
  for (const auto& t : req.query_values("tag")) {
    const auto eq = t.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Status::invalid_argument("tag filter '" + t + "' must be KEY=REGEX");
    }
    p.filter_tags[t.substr(0, eq)] = t.substr(eq + 1);
  }
  if (auto t = req.query_value("timeout")) {
    auto d = parse_duration(*t);
    if (!d.ok()) return d.status().with_context("timeout");
    p.timeout = *d;
  }
  auto ack = bool_param(req, "ack", true);
  if (!ack.ok()) return ack.status();
  p.request_ack = *ack;
  if (auto r = req.query_value("relay_factor")) {
    int v = -1;
    auto [ptr, ec] = std::from_chars(r->data(), r->data() + r->size(), v);
    if (ec != std::errc() || ptr != r->data() + r->size() || v < 0 || v > 5) {
      return Status::invalid_argument("relay_factor must be an integer from 0 to 5, not '" + *r + "'");
    }
    p.relay_factor = static_cast<uint8_t>(v);
  }
  return p;
}

void post_query(AgentControl& agent, const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
  auto params = query_params(req);
  if (!params.ok()) return reply_status(*res, params.status());
  const std::string name = req.params.at("name");
  // The sink runs on the agent's loop: it only queues chunks. The first line goes out
  // once the query has started, so the sink waits for it through `started`.
  struct State {
    std::mutex mu;
    bool started = false;
    std::vector<std::string> early;
  };
  auto state = std::make_shared<State>();
  auto write = [res, state](std::string line, bool last) {
    std::lock_guard<std::mutex> lock(state->mu);
    if (!state->started) {
      state->early.push_back(std::move(line));
      return;
    }
    res->write(std::move(line));
    if (last) res->end();
  };
  auto started = agent.query(name, to_bytes(req.body), *params,
                             [write](const QueryUpdate& u) {
    json line;
    switch (u.kind) {
      case QueryUpdate::Kind::ack:
        line = {{"type", "ack"}, {"from", u.from}};
        break;
      case QueryUpdate::Kind::response:
        line = {{"type", "response"}, {"from", u.from}};
        put_payload(line, u.payload);
        break;
      case QueryUpdate::Kind::done:
        line = {{"type", "done"}, {"acks", u.acks}, {"responses", u.responses}};
        break;
    }
    write(line.dump() + "\n", u.kind == QueryUpdate::Kind::done);
  });
  if (!started.ok()) return reply_status(*res, started.status());
  std::lock_guard<std::mutex> lock(state->mu);
  res->start_stream(200, "application/x-ndjson");
  res->write(json{{"type", "start"},
                  {"name", name},
                  {"id", started->id},
                  {"timeout_ms", to_millis(started->timeout)}}
                 .dump() + "\n");
  bool done = false;
  for (auto& line : state->early) {
    done = done || line.find("\"type\":\"done\"") != std::string::npos;
    res->write(std::move(line));
  }
  state->early.clear();
  state->started = true;
  if (done) res->end();
}

json agent_event_json(const AgentEvent& e) {
  json out;
  out["seq"] = e.seq;
  out["time"] = std::chrono::duration_cast<std::chrono::milliseconds>(e.at.time_since_epoch()).count();
  switch (e.kind) {
    case AgentEvent::Kind::member:
      out["type"] = std::string(gossip::to_string(e.member_type));
      out["member"] = member_to_json(e.member);
      break;
    case AgentEvent::Kind::user:
      out["type"] = "user";
      out["name"] = e.user.name;
      out["ltime"] = e.user.ltime;
      out["coalesce"] = e.user.coalesce;
      put_payload(out, e.user.payload);
      break;
    case AgentEvent::Kind::query:
      out["type"] = "query";
      out["name"] = e.query.name;
      out["ltime"] = e.query.ltime;
      out["id"] = e.query.id;
      out["from"] = e.query.source_node;
      put_payload(out, e.query.payload);
      break;
  }
  return out;
}

void get_agent_events(AgentControl& agent, const HttpRequest& req,
                      std::shared_ptr<HttpResponder> res) {
  if (Status st = check_query(req, {}); !st.ok()) return reply_status(*res, st);
  res->start_stream(200, "text/event-stream", {{"Cache-Control", "no-cache"}});
  res->write(": shoal agent events\n\n");
  auto id = agent.subscribe([res](const AgentEvent& e) {
    if (res->closed()) return false;
    const json data = agent_event_json(e);
    return res->write("event: " + data["type"].get<std::string>() + "\nid: " +
                      std::to_string(e.seq) + "\ndata: " + data.dump() + "\n\n");
  });
  if (!id.ok()) {
    res->write("event: error\ndata: " + json{{"error", id.status().message()}}.dump() + "\n\n");
    res->end();
    return;
  }
  AgentControl* a = &agent;
  res->on_close([a, sub = *id] { a->unsubscribe(sub); });
}

void get_monitor(const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
  if (Status st = check_query(req, {"log_level"}); !st.ok()) return reply_status(*res, st);
  auto level = parse_log_level(req.query_value("log_level").value_or("info"));
  if (!level.ok()) return reply_status(*res, level.status());
  spdlog::level::level_enum l = spdlog::level::info;
  switch (*level) {
    case LogLevel::trace: l = spdlog::level::trace; break;
    case LogLevel::debug: l = spdlog::level::debug; break;
    case LogLevel::info: l = spdlog::level::info; break;
    case LogLevel::warn: l = spdlog::level::warn; break;
    case LogLevel::error: l = spdlog::level::err; break;
  }
  res->start_stream(200, "text/plain; charset=utf-8");
  const uint64_t id = log_stream()->subscribe(l, [res](const std::string& line) {
    return !res->closed() && res->write(line);
  });
  res->on_close([id] { log_stream()->unsubscribe(id); });
}

}  // namespace

void add_event_routes(HttpRouter& router, AgentControl& agent) {
  AgentControl* a = &agent;
  constexpr size_t kPayloadBodyLimit = 64 * 1024;  // the core's limits are far smaller
  router.add("POST", "/v1/event/{name}",
             [a](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               post_event(*a, req, *res);
             },
             RouteOptions{kPayloadBodyLimit});
  router.add("POST", "/v1/query/{name}",
             [a](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               post_query(*a, req, std::move(res));
             },
             RouteOptions{kPayloadBodyLimit});
  router.add("GET", "/v1/agent/events",
             [a](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               get_agent_events(*a, req, std::move(res));
             });
  router.add("GET", "/v1/agent/monitor",
             [](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
               get_monitor(req, std::move(res));
             });
}

}  // namespace shoal::node
