#include "node/serf_rpc/commands.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <limits>
#include <thread>

#include "gossip/key_query.h"
#include "gossip/keyring.h"
#include "node/agent_config.h"
#include "node/serf_rpc/filters.h"

namespace shoal::node::serf_rpc {
namespace {

Bytes header_only(uint64_t seq, std::string_view error) {
  Bytes out;
  encode_response_header(out, seq, error);
  return out;
}

Bytes status_only(uint64_t seq, const Status& st) {
  return header_only(seq, st.ok() ? std::string_view() : st.message());
}

std::vector<gossip::Member> sorted(std::vector<gossip::Member> members) {
  std::sort(members.begin(), members.end(),
            [](const auto& a, const auto& b) { return a.name < b.name; });
  return members;
}

Bytes members(AgentControl& agent, const Request& req) {
  Bytes out;
  auto all = agent.members();
  if (!all.ok()) {
    encode_response_header(out, req.seq, all.status().message());
    encode_members_response(out, {});
    return out;
  }
  std::vector<gossip::Member> selected = std::move(*all);
  if (const auto* f = std::get_if<MembersFilteredRequest>(&req.body)) {
    auto filter = SerfMemberFilter::create(f->tags, f->status, f->name);
    if (!filter.ok()) {
      // serf drops the connection here; an answer that says why is kinder and as safe.
      encode_response_header(out, req.seq, filter.status().message());
      encode_members_response(out, {});
      return out;
    }
    std::erase_if(selected, [&](const gossip::Member& m) { return !filter->matches(m); });
  }
  encode_response_header(out, req.seq, "");
  encode_members_response(out, sorted(std::move(selected)));
  return out;
}

Bytes join(AgentControl& agent, const Request& req) {
  const auto& body = std::get<JoinRequest>(req.body);
  constexpr size_t kJoinAddrsMax = 64;
  std::vector<gossip::Address> addrs;
  std::vector<std::string> errors;
  if (body.existing.size() > kJoinAddrsMax) {
    errors.push_back("more than " + std::to_string(kJoinAddrsMax) + " addresses");
  } else {
    for (const auto& text : body.existing) {
      auto a = gossip::Address::parse(text, kDefaultGossipPort);
      if (!a.ok() || a->port == 0) {
        errors.push_back("'" + text + "': " +
                         (a.ok() ? std::string("port 0 is not a peer") : a.status().message()));
      } else {
        addrs.push_back(*a);
      }
    }
  }
  int joined = 0;
  if (!addrs.empty()) {
    auto outcome = agent.join(addrs, body.replay);
    if (!outcome.ok()) {
      errors.push_back(outcome.status().message());
    } else {
      joined = outcome->joined;
      errors.insert(errors.end(), outcome->errors.begin(), outcome->errors.end());
    }
  } else if (errors.empty()) {
    errors.push_back("no address to join");
  }
  std::string error;
  if (joined == 0) {
    error = "Failed to join:";
    for (const auto& e : errors) error += " " + e + ";";
    error.pop_back();
  }
  Bytes out;
  encode_response_header(out, req.seq, error);
  encode_join_response(out, joined);
  return out;
}

Bytes tags(AgentControl& agent, const Request& req) {
  const auto& body = std::get<TagsRequest>(req.body);
  TagUpdate update;
  update.set = body.tags;
  for (const auto& key : body.delete_tags) {
    if (update.set.count(key) == 0) update.remove.push_back(key);  // a set wins, as in serf
  }
  auto r = agent.update_tags(update);
  return status_only(req.seq, r.ok() ? Status() : r.status());
}

Bytes stats(AgentControl& agent, const Request& req) {
  auto self = agent.self();
  auto all = agent.members();
  Bytes out;
  if (!self.ok() || !all.ok()) {
    encode_response_header(out, req.seq, (!self.ok() ? self.status() : all.status()).message());
    encode_stats_response(out, {});
    return out;
  }
  size_t failed = 0, left = 0;
  for (const auto& m : *all) {
    failed += m.status == gossip::MemberStatus::failed;
    left += m.status == gossip::MemberStatus::left;
  }
  const auto& st = self->stats;
  const std::string cpus = std::to_string(std::max(1u, std::thread::hardware_concurrency()));
  StatsResponse r;
  r["agent"] = {{"name", self->member.name}};
  r["runtime"] = {{"os", "linux"},
                  {"arch", sizeof(void*) == 8 ? "amd64" : "386"},
                  {"version", "shoal"},
                  {"max_procs", cpus},
                  {"cpu_count", cpus}};
  r["serf"] = {{"members", std::to_string(all->size())},
               {"failed", std::to_string(failed)},
               {"left", std::to_string(left)},
               {"health_score", std::to_string(st.health_score)},
               {"member_time", std::to_string(st.member_ltime)},
               {"event_time", std::to_string(st.event_ltime)},
               {"query_time", std::to_string(st.query_ltime)},
               {"event_queue", std::to_string(st.event_queue)},
               {"query_queue", std::to_string(st.query_queue)},
               {"encrypted", self->encrypted ? "true" : "false"}};
  r["tags"] = self->member.tags;
  r["event_handlers"] = {};
  encode_response_header(out, req.seq, "");
  encode_stats_response(out, r);
  return out;
}

// serf's key manager through the agent: one internal query to every member, tallied.
Bytes keys(AgentControl& agent, const Request& req) {
  gossip::KeyOp op = gossip::KeyOp::list;
  switch (req.command) {
    case Command::install_key: op = gossip::KeyOp::install; break;
    case Command::use_key: op = gossip::KeyOp::use; break;
    case Command::remove_key: op = gossip::KeyOp::remove; break;
    default: break;
  }
  KeyResponse resp;
  std::string error;
  Bytes key;
  if (op != gossip::KeyOp::list) {
    auto k = gossip::key_from_base64(std::get<KeyRequest>(req.body).key);
    if (k.ok()) {
      key = std::move(*k);
    } else {
      error = k.status().message();
    }
  }
  if (error.empty()) {
    auto report = agent.key_operation(op, std::move(key));
    if (!report.ok()) {
      error = report.status().message();
    } else {
      resp.messages = report->messages;
      resp.keys = report->keys;
      resp.num_nodes = report->num_nodes;
      resp.num_err = report->num_err;
      resp.num_resp = report->num_resp;
      if (Status st = report->status(); !st.ok()) error = st.message();
    }
  }
  Bytes out;
  encode_response_header(out, req.seq, error);
  encode_key_response(out, resp, op == gossip::KeyOp::list);
  return out;
}

}  // namespace

Bytes run_command(AgentControl& agent, const Request& req) {
  switch (req.command) {
    case Command::members:
    case Command::members_filtered:
      return members(agent, req);
    case Command::join:
      return join(agent, req);
    case Command::leave:
      spdlog::info("serf-rpc-leave graceful leave requested over the Serf RPC");
      return status_only(req.seq, agent.leave());
    case Command::force_leave: {
      const auto& body = std::get<ForceLeaveRequest>(req.body);
      return status_only(req.seq, agent.force_leave(body.node, body.prune));
    }
    case Command::event: {
      const auto& body = std::get<EventRequest>(req.body);
      return status_only(req.seq, agent.user_event(body.name, body.payload, body.coalesce));
    }
    case Command::tags:
      return tags(agent, req);
    case Command::stats:
      return stats(agent, req);
    case Command::get_coordinate: {
      Bytes out;
      encode_response_header(out, req.seq, "");
      encode_no_coordinate_response(out);
      return out;
    }
    case Command::install_key:
    case Command::use_key:
    case Command::remove_key:
    case Command::list_keys:
      return keys(agent, req);
    default:
      break;
  }
  return header_only(req.seq, kErrUnsupportedCommand);
}

}  // namespace shoal::node::serf_rpc
