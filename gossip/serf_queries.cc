// Serf's queries (serf.go Query/handleQuery/handleQueryResponse, query.go, event.go,
// internal_query.go): a query is broadcast like a user event, de-duplicated by (Lamport
// time, ID) through the query buffer; members that pass its filters ack it and answer it
// directly to the source over UDP, optionally relayed through `relay_factor` other
// members; the source collects acks and responses until the deadline. Queries whose name
// starts with "_serf_" are answered inside the core by registered handlers.
#include <spdlog/spdlog.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <regex>

#include "gossip/serf_state.h"
#include "gossip/wire.h"

namespace shoal::gossip {

namespace {

// Incoming queries kept for Serf::respond; past this, the oldest are forgotten.
constexpr size_t kMaxIncomingQueries = 4096;

Status check_regex(const std::string& tag, const std::string& expr) {
  try {
    std::regex re(expr, std::regex::ECMAScript);
  } catch (const std::regex_error& e) {
    return Status::invalid_argument(
        fmt::format("tag filter {}={}: not a valid regular expression ({})", tag, expr, e.what()));
  }
  return Status();
}

bool regex_matches(const std::string& expr, const std::string& value, bool* bad) {
  try {
    return std::regex_search(value, std::regex(expr, std::regex::ECMAScript));
  } catch (const std::regex_error&) {
    *bad = true;
    return false;
  }
}

}  // namespace

Duration SerfState::default_query_timeout() const {
  const double n = static_cast<double>(memberlist->num_alive());
  const auto scale = static_cast<int64_t>(std::ceil(std::log10(n + 1.0)));
  return config.memberlist.gossip_interval * config.query_timeout_mult * std::max<int64_t>(scale, 1);
}

Result<QueryStarted> SerfState::query(const std::string& name, Bytes payload,
                                      const QueryParams& params, TimePoint now, bool internal) {
  if (name.empty()) return Status::invalid_argument("query name must not be empty");
  if (params.timeout < Duration::zero()) {
    return Status::invalid_argument("query timeout must not be negative");
  }
  SerfQuery q;
  if (!params.filter_nodes.empty()) q.filters.push_back(encode_filter_nodes(params.filter_nodes));
  for (const auto& [tag, expr] : params.filter_tags) {
    SHOAL_RETURN_IF_ERROR(check_regex(tag, expr));
    q.filters.push_back(encode_filter_tag(SerfTagFilter{tag, expr}));
  }
  const Duration timeout = params.timeout == Duration::zero() ? default_query_timeout()
                                                              : params.timeout;
  q.ltime = query_clock.time();
  q.id = static_cast<uint32_t>(rng.uniform(uint64_t{1} << 31));  // Go: rand.Int31()
  q.addr = config.advertise.ip_vector();
  q.port = config.advertise.port;
  q.source_node = config.node_name;
  q.flags = params.request_ack ? kQueryFlagAck : 0;
  q.relay_factor = params.relay_factor;
  q.timeout_ns = std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count();
  q.name = name;
  q.payload = std::move(payload);
  Bytes raw = encode_serf(q);
  if (raw.size() > config.query_size_limit) {
    return Status::invalid_argument(fmt::format("query is {} bytes encoded; the limit is {} bytes",
                                                raw.size(), config.query_size_limit));
  }
  OutgoingQuery out;
  out.id = q.id;
  out.deadline = now + timeout;
  out.want_acks = params.request_ack;
  out.internal = internal;
  outgoing_queries[q.ltime] = std::move(out);
  handle_query(q, now);  // we are a member too: filter, ack and answer like the others
  query_broadcasts.push(std::string(), std::move(raw));
  return QueryStarted{q.ltime, q.id, now + timeout};
}

bool SerfState::should_process_query(const std::vector<Bytes>& filters) const {
  for (const auto& filter : filters) {
    if (filter.empty()) return false;
    switch (static_cast<FilterType>(filter[0])) {
      case FilterType::node: {
        auto nodes = decode_filter_nodes(filter);
        if (!nodes.ok()) {
          spdlog::warn("serf: bad node filter in query: {}", nodes.status().to_string());
          return false;
        }
        if (std::find(nodes->begin(), nodes->end(), config.node_name) == nodes->end()) {
          return false;
        }
        break;
      }
      case FilterType::tag: {
        auto f = decode_filter_tag(filter);
        if (!f.ok()) {
          spdlog::warn("serf: bad tag filter in query: {}", f.status().to_string());
          return false;
        }
        auto it = config.tags.find(f->tag);
        const std::string value = it == config.tags.end() ? std::string() : it->second;
        bool bad = false;
        if (!regex_matches(f->expr, value, &bad)) {
          if (bad) spdlog::warn("serf: query tag filter has a bad regex: {}", f->expr);
          return false;
        }
        break;
      }
      default:
        spdlog::warn("serf: query has an unknown filter type {}", static_cast<int>(filter[0]));
        return false;
    }
  }
  return true;
}

bool SerfState::handle_query(const SerfQuery& q, TimePoint now) {
  query_clock.witness(q.ltime);
  if (q.ltime < query_min_time) return false;
  const LamportTime cur = query_clock.time();
  const LamportTime size = query_buffer.size();
  if (cur > size && q.ltime < cur - size) {
    spdlog::debug("serf: received old query {} from time {} (current {})", q.name, q.ltime, cur);
    return false;
  }
  auto& slot = query_buffer[q.ltime % size];
  if (slot && slot->ltime == q.ltime) {
    if (std::find(slot->ids.begin(), slot->ids.end(), q.id) != slot->ids.end()) return false;
  } else {
    slot = SeenQueries{q.ltime, {}};
  }
  slot->ids.push_back(q.id);
  ++queries_seen;

  const bool rebroadcast = (q.flags & kQueryFlagNoBroadcast) == 0;
  // Not for us, but the first time we see it: pass it on all the same.
  if (!should_process_query(q.filters)) return rebroadcast;

  auto dest = Address::from_bytes(q.addr, q.port);
  if (!dest.ok()) {
    spdlog::warn("serf: query {} from {} has a bad source address: {}", q.name, q.source_node,
                 dest.status().to_string());
    return rebroadcast;
  }
  if (q.flags & kQueryFlagAck) {
    SerfQueryResponse ack{q.ltime, q.id, config.node_name, kQueryFlagAck, {}};
    const Bytes raw = encode_serf(ack);
    send_to(*dest, q.source_node, raw, now);
    relay_response(q.relay_factor, *dest, q.source_node, raw);
  }

  IncomingQuery in{q.ltime, q.id, q.addr, q.port, q.source_node, q.relay_factor,
                   now + std::chrono::nanoseconds(std::max<int64_t>(q.timeout_ns, 0))};
  const uint64_t token = ++next_query_token;
  incoming_queries[token] = in;
  while (incoming_queries.size() > kMaxIncomingQueries) {
    incoming_queries.erase(incoming_queries.begin());
  }
  QueryReceived ev{token, q.ltime, q.id, q.name, q.payload, q.source_node, in.deadline,
                   max_response_payload(q.ltime, q.id)};
  if (!is_internal_query(q.name)) {
    outbox.push_back(std::move(ev));
    return rebroadcast;
  }
  auto handler = internal_queries.find(q.name);
  if (handler == internal_queries.end()) {
    spdlog::warn("serf: unhandled internal query {}", q.name);
    incoming_queries.erase(token);
    return rebroadcast;
  }
  if (auto answer = handler->second(ev, now)) {
    if (Status s = respond(token, std::move(*answer), now); !s.ok()) {
      spdlog::error("serf: cannot answer internal query {}: {}", q.name, s.to_string());
    }
  }
  return rebroadcast;
}

size_t SerfState::max_response_payload(LamportTime ltime, uint32_t id) const {
  // An empty payload is encoded as nil (1 byte); a payload of L bytes as a str header of
  // 1 (L < 32), 3 (L < 65536) or 5 bytes, then L bytes.
  const size_t base = encode_serf(SerfQueryResponse{ltime, id, config.node_name, 0, {}}).size();
  const size_t limit = config.query_response_size_limit;
  if (limit < base) return 0;
  const size_t avail = limit - (base - 1);
  size_t best = avail >= 1 ? std::min<size_t>(31, avail - 1) : 0;
  if (avail >= 3 + 32) best = std::max(best, std::min<size_t>(avail - 3, 0xffff));
  return best;
}

Status SerfState::respond(uint64_t token, Bytes payload, TimePoint now) {
  auto it = incoming_queries.find(token);
  if (it == incoming_queries.end()) {
    return Status::not_found(
        fmt::format("no open query with token {} (answered already, or expired)", token));
  }
  const IncomingQuery& q = it->second;
  if (now > q.deadline) {
    incoming_queries.erase(it);
    return Status::failed_precondition("the response is past the query's deadline");
  }
  SerfQueryResponse resp{q.ltime, q.id, config.node_name, 0, std::move(payload)};
  const Bytes raw = encode_serf(resp);
  if (raw.size() > config.query_response_size_limit) {
    return Status::invalid_argument(
        fmt::format("response is {} bytes encoded; the limit is {} bytes", raw.size(),
                    config.query_response_size_limit));
  }
  auto dest = Address::from_bytes(q.addr, q.port);
  if (dest.ok()) {
    send_to(*dest, q.source_node, raw, now);
    relay_response(q.relay_factor, *dest, q.source_node, raw);
  }
  incoming_queries.erase(it);
  return dest.ok() ? Status() : dest.status().with_context("query source address");
}

void SerfState::send_to(const Address& to, const std::string& name, ByteView raw, TimePoint now) {
  if (name == config.node_name && to == config.advertise) {
    notify_msg(raw, now);  // our own query: no need to go through the network
    return;
  }
  memberlist->send_user_packet(to, raw);
}

void SerfState::relay_response(uint8_t relay_factor, const Address& dest,
                               const std::string& dest_name, ByteView raw) {
  if (relay_factor == 0) return;
  // Only worth it when there are at least relay_factor *other* members.
  if (members.size() < static_cast<size_t>(relay_factor) + 1) return;
  const Bytes wrapped =
      encode_serf_relay(SerfRelayHeader{dest.ip_vector(), dest.port, "", dest_name}, raw);
  if (wrapped.size() > config.query_response_size_limit) {
    spdlog::error("serf: relayed response is {} bytes; the limit is {} bytes", wrapped.size(),
                  config.query_response_size_limit);
    return;
  }
  std::vector<const Member*> candidates;
  for (const auto& [name, ms] : members) {
    const Member& m = ms.member;
    // Relays need protocol 5 (they forward with SendToAddress) and must be alive.
    if (name == config.node_name || m.status != MemberStatus::alive) continue;
    if (m.vsn.size() < 2 || m.vsn[1] < 5) continue;
    candidates.push_back(&m);
  }
  for (size_t i = 0; i < candidates.size() && i < relay_factor; ++i) {
    const size_t j = i + rng.uniform(candidates.size() - i);
    std::swap(candidates[i], candidates[j]);
    memberlist->send_user_packet(candidates[i]->addr, wrapped);
  }
}

void SerfState::handle_relay(ByteView body, TimePoint now) {
  auto relay = decode_serf_relay(body);
  if (!relay.ok()) {
    spdlog::warn("serf: bad relay message: {}", relay.status().to_string());
    return;
  }
  auto dest = Address::from_bytes(relay->first.dest_ip, static_cast<uint16_t>(relay->first.dest_port));
  if (!dest.ok() || relay->first.dest_port <= 0 || relay->first.dest_port > 0xffff) {
    spdlog::warn("serf: relay message has a bad destination");
    return;
  }
  send_to(*dest, relay->first.dest_name, relay->second, now);
}

void SerfState::handle_query_response(const SerfQueryResponse& resp) {
  auto it = outgoing_queries.find(resp.ltime);
  if (it == outgoing_queries.end()) {
    spdlog::debug("serf: reply for a query not running (ltime {} id {}) from {}", resp.ltime,
                  resp.id, resp.from);
    return;
  }
  OutgoingQuery& q = it->second;
  if (q.id != resp.id) {
    spdlog::warn("serf: query reply ID mismatch (ours {}, theirs {}) from {}", q.id, resp.id,
                 resp.from);
    return;
  }
  if (resp.flags & kQueryFlagAck) {
    if (!q.want_acks || !q.acks.insert(resp.from).second) return;
    if (!q.internal) outbox.push_back(QueryAckReceived{resp.ltime, resp.from});
    return;
  }
  if (!q.responses.insert(resp.from).second) return;  // a relayed duplicate
  if (q.internal) {
    q.payloads.push_back(resp.payload);
  } else {
    outbox.push_back(QueryResponseReceived{resp.ltime, resp.from, resp.payload});
  }
}

void SerfState::expire_queries(TimePoint now) {
  for (auto it = outgoing_queries.begin(); it != outgoing_queries.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    if (it->second.internal) {
      if (conflict_query && *conflict_query == it->first) {
        finish_conflict_resolution(it->second);
        conflict_query.reset();
      }
    } else {
      outbox.push_back(
          QueryFinished{it->first, it->second.acks.size(), it->second.responses.size()});
    }
    it = outgoing_queries.erase(it);
  }
  for (auto it = incoming_queries.begin(); it != incoming_queries.end();) {
    it = it->second.deadline < now ? incoming_queries.erase(it) : std::next(it);
  }
}

TimePoint SerfState::next_query_deadline() const {
  TimePoint t = kTimeNever;
  for (const auto& [ltime, q] : outgoing_queries) t = std::min(t, q.deadline);
  return t;
}

// ---- internal queries ----------------------------------------------------------------

void SerfState::install_builtin_queries() {
  // _serf_ping: reachability; the ack (if asked for) is the answer.
  internal_queries[std::string(kPingQuery)] = [](const QueryReceived&, TimePoint) {
    return std::optional<Bytes>();
  };
  internal_queries[std::string(kConflictQuery)] = [this](const QueryReceived& q, TimePoint) {
    return answer_conflict(q);
  };
}

std::optional<Bytes> SerfState::answer_conflict(const QueryReceived& q) const {
  const std::string node(as_string_view(q.payload));
  if (node == config.node_name) return std::nullopt;  // about us: we are a party, not a judge
  spdlog::debug("serf: conflict resolution query for {}", node);
  std::optional<SerfMemberInfo> info;
  if (auto it = members.find(node); it != members.end()) {
    const Member& m = it->second.member;
    SerfMemberInfo mi;
    mi.name = m.name;
    mi.addr = m.addr.ip_vector();
    mi.port = m.addr.port;
    mi.tags = m.tags;
    mi.status = static_cast<uint8_t>(m.status);
    if (m.vsn.size() == 6) {
      mi.protocol_min = m.vsn[0];
      mi.protocol_max = m.vsn[1];
      mi.protocol_cur = m.vsn[2];
      mi.delegate_min = m.vsn[3];
      mi.delegate_max = m.vsn[4];
      mi.delegate_cur = m.vsn[5];
    }
    info = std::move(mi);
  }
  return encode_serf_conflict_member(info);
}

void SerfState::start_conflict_resolution(TimePoint now) {
  conflict_detected = false;
  if (conflict_query || !config.enable_name_conflict_resolution) return;
  auto started = query(std::string(kConflictQuery), to_bytes(config.node_name), QueryParams{},
                       now, /*internal=*/true);
  if (!started.ok()) {
    spdlog::error("serf: cannot start name conflict resolution: {}",
                  started.status().to_string());
    return;
  }
  conflict_query = started->query;
}

void SerfState::finish_conflict_resolution(const OutgoingQuery& q) {
  NameConflictResolved r;
  for (const auto& payload : q.payloads) {
    auto m = decode_serf_conflict_member(payload);
    if (!m.ok()) {
      spdlog::error("serf: bad conflict resolution response: {}", m.status().to_string());
      continue;
    }
    ++r.responses;
    if (!m->has_value()) continue;
    auto addr = Address::from_bytes((*m)->addr, (*m)->port);
    if (addr.ok() && *addr == config.advertise) ++r.matching;
  }
  // As serf: stay only with a majority of the answers (no answers is no majority).
  r.stay = r.matching >= r.responses / 2 + 1;
  if (r.stay) {
    spdlog::info("serf: majority in name conflict resolution [{} / {}]", r.matching, r.responses);
  } else {
    spdlog::warn("serf: minority in name conflict resolution [{} / {}]", r.matching,
                 r.responses);
  }
  outbox.push_back(r);
}

}  // namespace shoal::gossip
