#include "node/apps/app_service.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <fstream>
#include <thread>

#include "node/apps/group_ids.h"
#include "node/apps/names.h"
#include "node/http_forward.h"

namespace shoal::node::apps {

using nlohmann::json;

namespace {

constexpr const char* kClusterFile = "cluster";
constexpr size_t kMaxAppReplicas = 3;

std::string read_marker(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string word;
  in >> word;
  return word;
}

Status write_marker(const std::filesystem::path& file, const std::string& word) {
  const auto tmp = file.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << word << "\n";
    if (!out.flush()) return Status::io_error("cannot write " + tmp);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, file, ec);
  if (ec) return Status::io_error("cannot rename " + tmp + ": " + ec.message());
  return Status();
}

bool is_usable(const PeerInfo& p) { return p.alive() && !p.http.empty(); }

}  // namespace

AppService::AppService(Options options, AgentControl& agent, RaftService& raft,
                       ArtifactStore& store, supervisor::Supervisor& supervisor)
    : opts_(std::move(options)), agent_(agent), raft_(raft), store_(store),
      supervisor_(supervisor) {}

AppService::~AppService() { stop(); }

Result<std::unique_ptr<AppService>> AppService::start(Options options, AgentControl& agent,
                                                      RaftService& raft, ArtifactStore& store,
                                                      supervisor::Supervisor& supervisor) {
  std::unique_ptr<AppService> s(new AppService(std::move(options), agent, raft, store, supervisor));
  AppService* self = s.get();
  s->thread_ = std::thread([self] { self->loop(); });
  return s;
}

void AppService::stop() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void AppService::kick() {
  {
    std::lock_guard lock(mu_);
    kicked_ = true;
  }
  cv_.notify_all();
}

void AppService::loop() {
  // On the control thread: the agent's loop (which members() waits for) starts only after
  // the API, which starts after us.
  maybe_bootstrap();
  turn();
  while (true) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, busy_ ? opts_.busy_interval : opts_.interval,
                   [this] { return stopping_ || kicked_; });
      if (stopping_) return;
      kicked_ = false;
    }
    turn();
  }
}

void AppService::turn() {
  refresh_peers();
  update_tags();
  feed_route_store();
  pull_tokens();
  auto groups = raft_.list();
  if (!groups.ok()) {
    spdlog::debug("apps-turn-skipped reason=\"{}\"", groups.status().message());
    return;
  }
  bool busy = false;
  std::unique_ptr<CatalogState> cat;  // read once per turn, only if some app is led here
  bool cat_read = false;
  for (const auto& g : *groups) {
    if (!g.stopped.ok() || g.core.role != raft::Role::leader) continue;
    if (is_catalog_group(g.group)) {
      keep_catalog_voters(g);
      // The leader's own replica: read once for everything the catalog leader does.
      if (auto state = local_catalog(); state.ok()) {
        note_catalog_events(g.core.term, **state);
        lead_tokens(**state);
      }
    } else if (is_app_group(g.group)) {
      if (!cat_read) {
        if (auto c = catalog(); c.ok()) cat = std::move(*c);
        cat_read = true;
      }
      keep_app_replicas(g, cat.get());
      busy |= lead_app(g.group, g.core.term, cat.get());
    }
  }
  std::lock_guard lock(mu_);
  busy_ = busy;
}

// ---- the cluster view ------------------------------------------------------------------

void AppService::refresh_peers() {
  auto members = agent_.members();
  if (!members.ok()) return;
  auto peers = peers_from_members(*members);
  std::lock_guard lock(mu_);
  peers_ = std::move(peers);
}

std::vector<PeerInfo> AppService::peers() const {
  std::lock_guard lock(mu_);
  return peers_;
}

std::string AppService::rpc_of(const std::string& node) const {
  std::lock_guard lock(mu_);
  const PeerInfo* p = find_peer(peers_, node);
  return p && is_usable(*p) ? p->rpc : std::string();
}

std::vector<std::string> AppService::other_rpc_addrs() const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& p : peers_) {
    if (p.name != opts_.self && is_usable(p)) out.push_back(p.rpc);
  }
  return out;
}

void AppService::update_tags() {
  TagUpdate update;
  auto st = raft_.status(kCatalogGroup);
  const bool member = st.ok();
  if (!cat_tag_ || *cat_tag_ != member) {
    if (member) {
      update.set[kCatalogTag] = "1";
    } else {
      update.remove.push_back(kCatalogTag);
    }
  }
  // Free memory, for placement: refreshed when it moved by more than 10% or every minute.
  if (auto mem = host_memory_available_mb()) {
    const auto now = steady_now();
    const bool moved = mem_tag_ < 0 || std::abs(*mem - mem_tag_) * 10 > mem_tag_;
    if (moved || now - mem_tag_at_ > std::chrono::minutes(1)) {
      if (*mem != mem_tag_) update.set[kMemoryTag] = std::to_string(*mem);
      mem_tag_at_ = now;
    }
  }
  if (update.set.empty() && update.remove.empty()) return;
  auto tags = agent_.update_tags(update);
  if (!tags.ok()) {
    spdlog::warn("apps-tags-failed reason=\"{}\"", tags.status().message());
    return;
  }
  cat_tag_ = member;
  if (auto it = update.set.find(kMemoryTag); it != update.set.end()) {
    mem_tag_ = std::stoll(it->second);
  }
}

// ---- bootstrap and the catalog's voters ----------------------------------------------------

void AppService::maybe_bootstrap() {
  const auto marker = opts_.data_dir / kClusterFile;
  const std::string was = read_marker(marker);
  if (raft_.status(kCatalogGroup).ok()) {
    if (was.empty()) (void)write_marker(marker, "member");
    return;
  }
  if (!opts_.may_bootstrap) {
    if (was.empty()) {
      if (Status s = write_marker(marker, "joined"); !s.ok()) {
        spdlog::warn("apps-marker-failed reason=\"{}\"", s.message());
      }
    }
    return;
  }
  if (!was.empty()) {
    // Started without --join, but this data dir belonged to a cluster: a second catalog
    // would split it. Rejoin with --join.
    spdlog::warn("catalog-bootstrap-skipped reason=\"data dir {} already joined a cluster ({})\"",
                 opts_.data_dir.string(), was);
    return;
  }
  Status s = raft_.create(kCatalogGroup, {opts_.self});
  if (!s.ok()) {
    spdlog::error("catalog-bootstrap-failed reason=\"{}\"", s.to_string());
    return;
  }
  (void)write_marker(marker, "bootstrapped");
  spdlog::info("catalog-bootstrap node={} group={}", opts_.self, kCatalogGroup);
}

Status AppService::ensure_remote_member(const std::string& node, raft::GroupId group,
                                        const std::vector<std::string>& voters) {
  if (node == opts_.self) {
    Status s = raft_.create(group, voters);
    return s.is(Status::Code::already_exists) ? Status() : s;
  }
  const std::string addr = rpc_of(node);
  if (addr.empty()) return Status::unavailable("node " + node + " has no reachable API");
  json body = {{"id", group}};
  if (!voters.empty()) body["voters"] = voters;
  auto res = call_node(addr, "POST", "/v1/raft/groups", &body, opts_.call_timeout);
  if (!res.ok()) return res.status();
  if (res->status == 201 || res->status == 409) return Status();
  return Status::unavailable("node " + node + " refused to host group " + std::to_string(group) +
                             ": HTTP " + std::to_string(res->status) + " " + res->body);
}

size_t AppService::live_shoal_nodes() const {
  size_t n = 0;
  for (const auto& p : peers()) n += is_usable(p) ? 1 : 0;
  return n;
}

bool AppService::keep_voters(const raft::GroupStatus& st, size_t target, const char* what) {
  const auto& cfg = st.core.config;
  if (!cfg.learners.empty() || !st.promoting.empty()) return false;  // one change at a time
  const auto peers = this->peers();
  const auto now = steady_now();

  // A voter gossip has seen failed or left for longer than the grace is replaced.
  for (const auto& v : cfg.voters) {
    if (v == opts_.self) continue;
    const PeerInfo* p = find_peer(peers, v);
    const bool dead = p == nullptr || p->status == gossip::MemberStatus::failed ||
                      p->status == gossip::MemberStatus::left;
    std::unique_lock lock(mu_);
    if (!dead) {
      dead_since_.erase(v);
      continue;
    }
    auto [it, inserted] = dead_since_.emplace(v, now);
    const Duration down_for = now - it->second;
    if (down_for < opts_.dead_voter_grace) continue;
    lock.unlock();
    Status s = raft_.remove_member(st.group, v);
    spdlog::info("{}-voter-removed group={} node={} reason=\"{} for {} s\" result=\"{}\"", what,
                 st.group, v, p ? gossip::to_string(p->status) : "gone",
                 to_millis(down_for) / 1000, s.ok() ? "ok" : s.to_string());
    return true;
  }
  if (cfg.voters.size() >= target) return false;
  std::vector<std::string> live;
  for (const auto& p : peers) {
    if (is_usable(p)) live.push_back(p.name);
  }
  std::sort(live.begin(), live.end());
  for (const auto& name : live) {
    if (std::find(cfg.voters.begin(), cfg.voters.end(), name) != cfg.voters.end()) continue;
    if (Status s = ensure_remote_member(name, st.group, {}); !s.ok()) {
      spdlog::debug("{}-voter-skipped group={} node={} reason=\"{}\"", what, st.group, name,
                    s.message());
      continue;
    }
    Status s = raft_.add_member(st.group, name, /*voter=*/true);
    spdlog::info("{}-voter-added group={} node={} voters={} target={} result=\"{}\"", what,
                 st.group, name, cfg.voters.size(), target, s.ok() ? "ok" : s.to_string());
    return true;
  }
  return false;
}

void AppService::keep_catalog_voters(const raft::GroupStatus& st) {
  const size_t live = live_shoal_nodes();
  (void)keep_voters(st, live >= 5 ? 5 : std::min<size_t>(3, live), "catalog");
}

void AppService::keep_app_replicas(const raft::GroupStatus& st, const CatalogState* cat) {
  if (keep_voters(st, std::min<size_t>(kMaxAppReplicas, live_shoal_nodes()), "app")) return;
  // The catalog says where the group lives (how a node without a replica finds it): once
  // the membership is settled, it is made to say what Raft has.
  if (cat == nullptr || !st.core.config.learners.empty() || !st.promoting.empty()) return;
  const auto name = cat->app_of_group(st.group);
  const AppRecord* rec = name ? cat->app(*name) : nullptr;
  if (rec == nullptr) return;
  std::vector<std::string> have = rec->replicas, want = st.core.config.voters;
  std::sort(have.begin(), have.end());
  std::sort(want.begin(), want.end());
  if (have == want) return;
  Status s = record_replicas(*name, want);
  spdlog::info("app-replicas-recorded app={} group={} replicas={} result=\"{}\"", *name,
               st.group, fmt::join(want, ","), s.ok() ? "ok" : s.to_string());
}

Status AppService::record_replicas(const std::string& app, const std::vector<std::string>& replicas) {
  auto owner = catalog_owner(Duration::zero());  // the control loop: try again next turn
  if (!owner.ok()) return owner.status();
  if (owner->here) {
    auto r = propose(kCatalogGroup, CatalogState::set_replicas(app, replicas));
    if (!r.ok()) return r.status();
    return r->status;
  }
  json body = {{"replicas", replicas}};
  auto res = call_node(owner->rpc, "POST", "/v1/internal/apps/" + app + "/replicas", &body,
                       opts_.call_timeout);
  if (!res.ok()) return res.status();
  if (res->status != 200) {
    return Status::unavailable("the catalog leader answered HTTP " + std::to_string(res->status) +
                               ": " + res->body);
  }
  return Status();
}

// ---- owners ------------------------------------------------------------------------------

Result<Owner> AppService::owner_of(raft::GroupId group, const std::vector<std::string>& replicas,
                                   std::optional<Duration> wait) {
  auto st = raft_.status(group);
  // A group just created or whose leader just died elects within a few election timeouts:
  // the caller (a deploy right after `apps create`, say) waits for it rather than failing.
  const auto deadline = steady_now() + wait.value_or(opts_.leader_wait);
  while (st.ok() && st->core.leader.empty() && steady_now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    st = raft_.status(group);
  }
  if (st.ok()) {
    if (st->core.role == raft::Role::leader) return Owner{true, "", opts_.self};
    if (st->core.leader.empty()) {
      return Status::unavailable("raft group " + std::to_string(group) +
                                 " has no leader yet (an election is under way); try again");
    }
    const std::string addr = rpc_of(st->core.leader);
    if (addr.empty()) {
      return Status::unavailable("the leader of raft group " + std::to_string(group) + " (" +
                                 st->core.leader + ") is not reachable");
    }
    return Owner{false, addr, st->core.leader};
  }
  // Not hosted here: ask a replica, which knows its leader.
  for (const auto& r : replicas) {
    if (r == opts_.self) continue;
    const std::string addr = rpc_of(r);
    if (!addr.empty()) return Owner{false, addr, r};
  }
  return Status::unavailable("no live replica of raft group " + std::to_string(group));
}

Result<Owner> AppService::catalog_owner(std::optional<Duration> wait) {
  std::vector<std::string> holders;
  for (const auto& p : peers()) {
    if (p.catalog && is_usable(p)) holders.push_back(p.name);
  }
  return owner_of(kCatalogGroup, holders, wait);
}

bool AppService::holds_catalog() const { return raft_.status(kCatalogGroup).ok(); }

Result<std::unique_ptr<CatalogState>> AppService::local_catalog() {
  auto local = raft_.read_machine(kCatalogGroup, /*linearizable=*/false);
  if (!local.ok()) return local.status();
  auto out = std::make_unique<CatalogState>();
  SHOAL_RETURN_IF_ERROR(out->restore(local->state));
  return out;
}

Result<std::unique_ptr<CatalogState>> AppService::catalog() {
  auto local = local_catalog();
  if (local.ok() || !local.status().is(Status::Code::not_found)) return local;
  auto out = std::make_unique<CatalogState>();
  auto owner = catalog_owner();
  if (!owner.ok()) return owner.status();
  auto res = call_node(owner->rpc, "GET", "/v1/internal/catalog", nullptr, opts_.call_timeout);
  if (!res.ok()) return res.status();
  if (res->status != 200) {
    return Status::unavailable("cannot read the catalog from " + owner->node + ": HTTP " +
                               std::to_string(res->status) + " " + res->body);
  }
  ByteView bytes(reinterpret_cast<const uint8_t*>(res->body.data()), res->body.size());
  SHOAL_RETURN_IF_ERROR(out->restore(bytes));
  return out;
}

Result<AppService::AppLocation> AppService::locate(const std::string& app) {
  auto cat = catalog();
  if (!cat.ok()) return cat.status();
  const AppRecord* rec = (*cat)->app(app);
  if (rec == nullptr) return Status::not_found("no app named '" + app + "'");
  AppLocation loc;
  loc.group = rec->group;
  loc.replicas = rec->replicas;
  auto owner = owner_of(rec->group, rec->replicas);
  if (!owner.ok()) return owner.status();
  loc.owner = std::move(*owner);
  return loc;
}

// ---- leader-side operations -------------------------------------------------------------

Result<CommandResult> AppService::propose(raft::GroupId group, Bytes command) {
  auto res = raft_.propose_wait(group, std::move(command), opts_.call_timeout);
  if (!res.ok()) return res.status();
  return decode_result(*res);
}

Result<std::unique_ptr<AppState>> AppService::app_state(raft::GroupId group, bool linearizable) {
  auto copy = raft_.read_machine(group, linearizable, opts_.call_timeout);
  if (!copy.ok()) return copy.status();
  auto out = std::make_unique<AppState>();
  SHOAL_RETURN_IF_ERROR(out->restore(copy->state));
  return out;
}

Result<json> AppService::create_app(const std::string& name) {
  SHOAL_RETURN_IF_ERROR(validate_app_name(name));
  refresh_peers();  // place the group on what gossip sees now
  auto cat = catalog();
  if (!cat.ok()) return cat.status();
  if ((*cat)->app(name)) return Status::already_exists("app '" + name + "' exists");
  // Replicas: live, undrained nodes holding the fewest app groups, then by name.
  std::map<std::string, size_t> load;
  for (const auto& [_, rec] : (*cat)->apps()) {
    for (const auto& r : rec.replicas) ++load[r];
  }
  std::vector<std::string> candidates;
  for (const auto& p : peers()) {
    if (is_usable(p) && !(*cat)->draining(p.name)) candidates.push_back(p.name);
  }
  if (candidates.empty()) return Status::unavailable("no live node can host the app's group");
  std::sort(candidates.begin(), candidates.end(), [&](const auto& a, const auto& b) {
    return std::make_pair(load[a], a) < std::make_pair(load[b], b);
  });
  candidates.resize(std::min(candidates.size(), kMaxAppReplicas));
  std::sort(candidates.begin(), candidates.end());
  const int64_t now_ms = to_millis(std::chrono::system_clock::now().time_since_epoch());
  auto res = propose(kCatalogGroup, CatalogState::create_app(name, candidates, now_ms));
  if (!res.ok()) return res.status();
  if (!res->ok()) return res->status;
  const raft::GroupId group = res->body.value("group", raft::GroupId{0});
  // Found the group on each replica: the same voter list everywhere. A replica that cannot
  // be reached now still holds a majority's worth of the others.
  size_t founded = 0;
  for (const auto& node : candidates) {
    Status s = ensure_remote_member(node, group, candidates);
    if (s.ok()) {
      ++founded;
    } else {
      spdlog::warn("app-replica-failed app={} node={} reason=\"{}\"", name, node, s.message());
    }
  }
  spdlog::info("app-created app={} group={} replicas={} founded={}", name, group,
               fmt::format("{}", fmt::join(candidates, ",")), founded);
  if (founded * 2 <= candidates.size()) {
    return Status::unavailable("app '" + name + "' was recorded but only " +
                               std::to_string(founded) + " of its " +
                               std::to_string(candidates.size()) + " replicas could be created");
  }
  return json{{"name", name}, {"group", group}, {"replicas", candidates}};
}

Result<json> AppService::destroy_app(const std::string& name) {
  auto loc = locate(name);
  if (!loc.ok()) return loc.status();
  // Stop the instances first: the app's leader tells every supervisor to run nothing. If
  // that fails, the supervisors stop them anyway once no leader re-asserts them.
  Status stopped;
  if (loc->owner.here) {
    stopped = teardown(loc->group);
  } else {
    const json empty = json::object();
    auto r = call_node(loc->owner.rpc, "POST", "/v1/internal/apps/" + name + "/teardown",
                       &empty, opts_.call_timeout);
    if (!r.ok()) stopped = r.status();
    else if (r->status != 200) stopped = Status::unavailable(r->body);
  }
  if (!stopped.ok()) {
    spdlog::warn("app-teardown-incomplete app={} reason=\"{}\"", name, stopped.message());
  }
  auto res = propose(kCatalogGroup, CatalogState::destroy_app(name));
  if (!res.ok()) return res.status();
  if (!res->ok()) return res->status;
  for (const auto& node : loc->replicas) {
    Status s;
    if (node == opts_.self) {
      s = raft_.remove(loc->group);
    } else if (const std::string addr = rpc_of(node); !addr.empty()) {
      auto r = call_node(addr, "DELETE", "/v1/raft/groups/" + std::to_string(loc->group),
                         nullptr, opts_.call_timeout);
      if (!r.ok()) s = r.status();
    }
    if (!s.ok()) {
      spdlog::warn("app-replica-delete-failed app={} node={} reason=\"{}\"", name, node,
                   s.message());
    }
  }
  spdlog::info("app-destroyed app={} group={}", name, loc->group);
  return json{{"name", name}, {"destroyed", true}};
}

}  // namespace shoal::node::apps
