#include "node/api_json.h"

#include <ctime>

#include "base/version.h"
#include "node/member_filter.h"

namespace shoal::node {
namespace {

nlohmann::json versions(const gossip::VersionVector& v, size_t offset) {
  nlohmann::json out = nlohmann::json::object();
  if (v.size() >= offset + 3) {
    out["min"] = v[offset];
    out["max"] = v[offset + 1];
    out["cur"] = v[offset + 2];
  }
  return out;
}

std::string rfc3339(std::chrono::system_clock::time_point t) {
  const auto secs = std::chrono::system_clock::to_time_t(t);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[80];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>(millis));
  return out;
}

}  // namespace

nlohmann::json member_to_json(const gossip::Member& m) {
  nlohmann::json tags = nlohmann::json::object();
  for (const auto& [k, v] : m.tags) tags[k] = v;
  return {
      {"name", m.name},
      {"addr", m.addr.to_string()},
      {"ip", m.addr.ip_string()},
      {"port", m.addr.port},
      {"status", member_status_name(m.status)},
      {"tags", std::move(tags)},
      {"protocol", versions(m.vsn, 0)},
      {"delegate_protocol", versions(m.vsn, 3)},
  };
}

nlohmann::json self_to_json(const SelfInfo& s) {
  nlohmann::json j = member_to_json(s.member);
  j["id"] = s.node_id;
  j["profile"] = s.profile;
  j["http"] = s.http.to_string();
  j["data_dir"] = s.data_dir;
  j["version"] = kVersion;
  nlohmann::json drops = nlohmann::json::object();
  for (const auto& [reason, n] : s.stats.memberlist.drop_reasons) drops[reason] = n;
  j["stats"] = {
      {"packets_received", s.stats.memberlist.packets_received},
      {"packets_dropped", s.stats.memberlist.dropped},
      {"drop_reasons", std::move(drops)},
      {"packets_sent", s.stats.memberlist.packets_sent},
      {"packets_send_failed", s.packets_send_failed},
      {"bytes_sent", s.stats.memberlist.bytes_sent},
      {"bytes_received", s.stats.memberlist.bytes_received},
      {"probes", s.stats.memberlist.probes},
      {"probe_failures", s.stats.memberlist.probe_failures},
      {"suspicions", s.stats.memberlist.suspicions},
      {"push_pulls", s.stats.memberlist.push_pulls},
      {"streams_failed", s.streams_failed},
      {"health_score", s.stats.health_score},
      {"member_ltime", s.stats.member_ltime},
      {"decrypt_failures", s.stats.memberlist.decrypt_failures},
      {"replays_dropped", s.stats.memberlist.replays},
      {"event_handler_runs", s.event_handlers.runs},
      {"event_handler_failures", s.event_handlers.failures},
      {"event_handler_timeouts", s.event_handlers.timeouts},
      {"event_handler_dropped", s.event_handlers.dropped},
  };
  return j;
}

nlohmann::json event_to_json(const RecentEvent& e) {
  return {
      {"seq", e.seq},
      {"time", rfc3339(e.at)},
      {"type", member_event_name(e.type)},
      {"node", e.node},
      {"addr", e.addr.to_string()},
      {"status", member_status_name(e.status)},
  };
}

nlohmann::json error_json(std::string_view message) {
  return {{"error", std::string(message)}};
}

}  // namespace shoal::node
