#include "node/apps/deploy.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <random>
#include <thread>

#include "node/apps/app_service.h"
#include "node/apps/app_views.h"
#include "node/apps/auto_rollback.h"
#include "node/apps/manifest.h"
#include "node/apps/names.h"
#include "node/artifacts/archive.h"
#include "node/artifacts/artifact_store.h"
#include "node/artifacts/builder.h"
#include "node/http_forward.h"
#include "node/http_util.h"
#include "node/supervisor/isolation.h"

namespace shoal::node::apps {

using nlohmann::json;
namespace fs = std::filesystem;

namespace {

int64_t wall_ms() { return to_millis(std::chrono::system_clock::now().time_since_epoch()); }

// A scratch directory removed when the deploy ends, whatever happens.
class ScratchDir {
 public:
  static Result<ScratchDir> make(const fs::path& parent) {
    std::error_code ec;
    fs::create_directories(parent, ec);
    std::random_device rd;
    for (int i = 0; i < 8; ++i) {
      fs::path p = parent / ("deploy-" + std::to_string(rd()));
      if (fs::create_directory(p, ec)) return ScratchDir(p);
    }
    return Status::io_error("cannot create a scratch directory under " + parent.string() +
                            (ec ? ": " + ec.message() : ""));
  }
  ScratchDir(ScratchDir&& o) noexcept : path_(std::exchange(o.path_, {})) {}
  ~ScratchDir() {
    if (path_.empty()) return;
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }

 private:
  explicit ScratchDir(fs::path p) : path_(std::move(p)) {}
  fs::path path_;
};

bool valid_filename(const std::string& f) {
  if (f.empty() || f.size() > 128 || f == "." || f == "..") return false;
  for (char c : f) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) {
      return false;
    }
  }
  return true;
}

Status write_file(const fs::path& p, const std::string& bytes, mode_t mode) {
  {
    std::ofstream out(p, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out.flush()) return Status::io_error("cannot write " + p.string());
  }
  if (::chmod(p.c_str(), mode) != 0) return Status::io_error("cannot chmod " + p.string());
  return Status();
}

// One NDJSON event on the stream; false once the client has gone.
bool emit(HttpResponder& res, json event) { return res.write(event.dump() + "\n"); }

// The app's state as its leader sees it, `view` "ps" or "releases": locally or through the
// leader's API.
Result<json> fetch_view(AppService& apps, const std::string& app, const std::string& view) {
  auto loc = apps.locate(app);
  if (!loc.ok()) return loc.status();
  if (loc->owner.here) {
    auto st = apps.app_state(loc->group, false);
    if (!st.ok()) return st.status();
    return view == "ps" ? ps_json(**st) : releases_json(**st);
  }
  auto r = call_node(loc->owner.rpc, "GET", "/v1/apps/" + app + "/" + view, nullptr,
                     std::chrono::seconds(5));
  if (!r.ok()) return r.status();
  if (r->status != 200) return Status::unavailable("HTTP " + std::to_string(r->status) + " " + r->body);
  json j = json::parse(r->body, nullptr, false);
  if (j.is_discarded()) return Status::corruption("the leader's " + view + " is not JSON");
  return j;
}

Result<json> fetch_ps(AppService& apps, const std::string& app) {
  return fetch_view(apps, app, "ps");
}

// The description of release `version`, "" when it cannot be read.
std::string release_description(AppService& apps, const std::string& app, uint64_t version) {
  auto rel = fetch_view(apps, app, "releases");
  if (!rel.ok() || !rel->contains("releases") || !(*rel)["releases"].is_array()) return "";
  for (const auto& r : (*rel)["releases"]) {
    if (r.value("version", uint64_t{0}) == version) return r.value("description", "");
  }
  return "";
}

// Whether an instance of a release older than `version` is up: then the app leader rolls
// `version` back when it fails (auto_rollback.h), and the deploy waits to report that.
bool older_release_serving(const json& instances, uint64_t version) {
  for (const auto& i : instances) {
    if (i.value("release", uint64_t{0}) < version && i.value("desired", true) &&
        i.value("state", "") == "running" &&
        (i.value("health", "none") == "healthy" || i.value("health", "none") == "none")) {
      return true;
    }
  }
  return false;
}

Result<json> propose_release(AppService& apps, const std::string& app, const json& body) {
  for (int attempt = 0; attempt < 20; ++attempt) {
    auto loc = apps.locate(app);
    if (loc.ok()) {
      if (loc->owner.here) {
        auto r = add_release_here(apps, loc->group, body);
        if (r.ok() || !r.status().is(Status::Code::unavailable)) return r;
      } else {
        auto r = call_node(loc->owner.rpc, "POST", "/v1/internal/apps/" + app + "/releases",
                           &body, std::chrono::seconds(10));
        if (r.ok() && r->status == 200) {
          json j = json::parse(r->body, nullptr, false);
          if (j.is_discarded()) return Status::corruption("the leader's answer is not JSON");
          return j;
        }
        if (r.ok() && r->status < 500) {
          json j = json::parse(r->body, nullptr, false);
          return Status::invalid_argument(j.is_object() ? j.value("error", r->body) : r->body);
        }
      }
    }
    // The app's group is new or electing: wait for its leader.
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
  }
  return Status::unavailable("the app's group has no leader after 5 s; try again");
}

struct Follow {
  bool ok = false;
  std::string message;
  size_t instances = 0;
  json rollback;  // the `rollback` event when the leader rolled the release back
};

// How long a failed release waits for the leader's automatic rollback before the deploy
// reports the failure alone (the leader decides within a turn or two).
constexpr auto kRollbackWait = std::chrono::seconds(20);

// Follows the rollout of `version` until its instances are all up (running, and healthy
// when their type has a check), one fails (crash loop, cannot start, found unhealthy), the
// client leaves or the timeout passes.
Follow follow_rollout(AppService& apps, const std::string& app, uint64_t version,
                      HttpResponder& res, Duration timeout) {
  auto deadline = steady_now() + timeout;
  std::map<std::string, std::string> seen;  // instance -> last state sent
  std::string last_error;
  std::string failure;  // set once an instance failed: waiting for the rollback
  while (steady_now() < deadline) {
    if (res.closed()) return {false, "the client went away", 0, nullptr};
    auto ps = fetch_ps(apps, app);
    if (!ps.ok()) {
      last_error = ps.status().message();
      std::this_thread::sleep_for(std::chrono::milliseconds(300));
      continue;
    }
    if (const uint64_t now = ps->value("release", uint64_t{0}); now != version) {
      const std::string desc = release_description(apps, app, now);
      const std::string prefix = std::string(kAutoRollbackPrefix) + std::to_string(version) + " ";
      if (desc.starts_with(prefix)) {
        // "automatic rollback of vN to vM: REASON"
        const size_t colon = desc.find(": ");
        const std::string reason = colon == std::string::npos ? desc : desc.substr(colon + 2);
        const std::string to = desc.substr(prefix.size(), colon == std::string::npos
                                                              ? std::string::npos
                                                              : colon - prefix.size());
        json ev = {{"event", "rollback"}, {"from", version}, {"release", now},
                   {"description", desc}, {"reason", reason}};
        return {false,
                "release v" + std::to_string(version) + " was rolled back automatically (" +
                    reason + "); v" + std::to_string(now) + " is current, the same as " +
                    (to.starts_with("to ") ? to.substr(3) : to),
                0, ev};
      }
      return {false, "release v" + std::to_string(version) + " was superseded by v" +
                         std::to_string(now), 0, nullptr};
    }
    if (!failure.empty()) {  // wait for the leader's rollback, polling a little
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
      continue;
    }
    size_t wanted = 0;
    const json formation = ps->contains("formation") ? (*ps)["formation"] : json::object();
    const json instances = ps->contains("instances") ? (*ps)["instances"] : json::array();
    if (!ps->value("stopped", false)) {
      for (const auto& [type, f] : formation.items()) wanted += f.value("count", 0);
    }
    size_t running = 0;
    for (const auto& i : instances) {
      if (i.value("release", uint64_t{0}) != version || !i.value("desired", true)) continue;
      const std::string id = i.value("id", "");
      const std::string state = i.value("state", "");
      const std::string health = i.value("health", "none");
      if (seen[id] != state + "/" + health) {
        seen[id] = state + "/" + health;
        json ev = {{"event", "instance"}, {"id", id}, {"node", i.value("node", "")},
                   {"state", state}};
        if (health != "none") ev["health"] = health;
        if (i.value("port", 0) != 0) ev["port"] = i.value("port", 0);
        if (!i.value("message", "").empty()) ev["message"] = i.value("message", "");
        if (!emit(res, ev)) return {false, "the client went away", 0};
      }
      if (state == "running" && (health == "healthy" || health == "none")) ++running;
      std::string why;
      if (health == "unhealthy") {
        const std::string out = i.value("message", "").find("health check failed") == 0
                                    ? i.value("message", "")
                                    : "health check: " + i.value("health_output", "");
        why = "instance " + id + " is unhealthy: " + out;
      } else if (state == "crashed" || state == "failed") {
        why = "instance " + id + " " + state;
        if (!i.value("message", "").empty()) why += ": " + i.value("message", "");
      }
      if (!why.empty()) {
        if (!older_release_serving(instances, version)) {
          return {false, why + "; no older release is serving to roll back to", 0, nullptr};
        }
        failure = why;
        deadline = std::min(deadline, steady_now() + kRollbackWait);
        break;
      }
    }
    if (failure.empty() && running >= wanted) return {true, "", running, nullptr};
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (!failure.empty()) {
    return {false, failure + "; it was not rolled back within " +
                       std::to_string(to_millis(kRollbackWait) / 1000) +
                       " s, the previous release keeps running",
            0, nullptr};
  }
  return {false, "release v" + std::to_string(version) + " did not come up within " +
                     std::to_string(to_millis(timeout) / 1000) + " s" +
                     (last_error.empty() ? "" : " (" + last_error + ")"), 0, nullptr};
}

}  // namespace

Result<json> add_release_here(AppService& apps, uint64_t group, const json& body) {
  if (!body.is_object() || !body.contains("digest") || !body["digest"].is_string() ||
      !body.contains("manifest") || !body["manifest"].is_object()) {
    return Status::invalid_argument("a release needs 'digest' (string) and 'manifest' (object)");
  }
  auto r = apps.propose(group, AppState::add_release(body["digest"].get<std::string>(),
                                                     body.value("source_digest", ""),
                                                     body["manifest"],
                                                     body.value("description", "deploy"),
                                                     wall_ms(), body.value("commit", "")));
  if (!r.ok()) return r.status();
  if (!r->ok()) return r->status;
  apps.kick();
  return json{{"release", r->body.value("release", uint64_t{0})}};
}

void handle_deploy(AppService& apps, ArtifactStore& store, const DeployOptions& options,
                   const HttpRequest& req, const std::shared_ptr<HttpResponder>& res) {
  const std::string app = req.params.at("app");
  if (Status s = validate_app_name(app); !s.ok()) return reply_status(*res, s);
  if (Status s = check_query(req, {"filename", "commit"}); !s.ok()) return reply_status(*res, s);
  const std::string filename = req.query_value("filename").value_or("app");
  // A git commit id: SHA-1 (40 hex digits) or SHA-256 (64).
  const std::string commit = req.query_value("commit").value_or("");
  if (!commit.empty() &&
      ((commit.size() != 40 && commit.size() != 64) ||
       commit.find_first_not_of("0123456789abcdef") != std::string::npos)) {
    return reply_status(*res, Status::invalid_argument(
                                  "commit '" + commit +
                                  "' is not a git commit id (40 or 64 lowercase hex digits)"));
  }
  if (!valid_filename(filename)) {
    return reply_status(*res, Status::invalid_argument(
                                  "filename '" + filename +
                                  "' must be 1-128 characters of letters, digits, '.', '_', '-'"));
  }
  if (req.body.empty()) {
    return reply_status(*res, Status::invalid_argument("the upload is empty: send a tar.gz or an executable"));
  }
  auto scratch = ScratchDir::make(options.work_dir);
  if (!scratch.ok()) return reply_status(*res, scratch.status());
  const fs::path upload = scratch->path() / "upload";
  const fs::path src = scratch->path() / "src";
  const fs::path tarball = scratch->path() / "source.tar.gz";
  if (Status s = write_file(upload, req.body, 0600); !s.ok()) return reply_status(*res, s);
  auto kind = detect_kind(upload);
  if (!kind.ok()) return reply_status(*res, kind.status().with_context("the upload"));
  fs::path source_file = upload;
  if (*kind == ArtifactKind::executable) {
    std::error_code ec;
    fs::create_directory(src, ec);
    if (Status s = write_file(src / filename, req.body, 0755); !s.ok()) return reply_status(*res, s);
    PackOptions po;
    po.honour_ignore_file = false;
    if (Status s = pack_directory(src, tarball, nullptr, po); !s.ok()) return reply_status(*res, s);
    source_file = tarball;
  } else if (Status s = extract_archive(upload, src); !s.ok()) {
    return reply_status(*res, s.with_context("the archive was refused"));
  }
  std::optional<Detection> detected;  // the kind of app, when it has no Procfile
  auto manifest = load_manifest(src, &detected);
  if (!manifest.ok()) return reply_status(*res, manifest.status());
  auto source_digest = store.put_file(source_file);
  if (!source_digest.ok()) return reply_status(*res, source_digest.status());

  res->start_stream(200, "application/x-ndjson");
  auto fail = [&](const std::string& message) {
    spdlog::warn("deploy-failed app={} reason=\"{}\"", app, message);
    emit(*res, {{"event", "error"}, {"message", message}});
    res->end();
  };
  emit(*res, {{"event", "received"}, {"bytes", req.body.size()}, {"digest", *source_digest},
              {"kind", artifact_kind_name(*kind)}});

  // The app, created on its first deploy.
  auto loc = apps.locate(app);
  uint64_t group = loc.ok() ? loc->group : 0;
  if (!loc.ok() && loc.status().is(Status::Code::not_found)) {
    Result<json> created = Status::unavailable("no catalog");
    auto owner = apps.catalog_owner();
    if (!owner.ok()) {
      created = owner.status();
    } else if (owner->here) {
      created = apps.create_app(app);
    } else {
      const json body = {{"name", app}};
      auto r = call_node(owner->rpc, "POST", "/v1/apps", &body, std::chrono::seconds(15));
      if (!r.ok()) {
        created = r.status();
      } else if (r->status == 201 || r->status == 409) {
        created = json::parse(r->body, nullptr, false);
      } else {
        created = Status::unavailable("HTTP " + std::to_string(r->status) + " " + r->body);
      }
    }
    if (!created.ok()) return fail("cannot create app '" + app + "': " + created.status().message());
    group = created->value("group", uint64_t{0});
    emit(*res, {{"event", "app_created"}, {"app", app}, {"group", group}});
  } else if (!loc.ok()) {
    return fail(loc.status().message());
  }

  // The slug: built once, here, if the manifest asks.
  std::string slug = *source_digest;
  if (manifest->build) {
    if (detected) {
      emit(*res, {{"event", "build"},
                  {"line", "-----> detected a " + detected->kind + " app (" + detected->reason +
                               "); web: " + detected->web}});
    }
    emit(*res, {{"event", "build"}, {"line", "-----> running build: " + *manifest->build}});
    std::vector<std::pair<std::string, std::string>> env(manifest->env.begin(), manifest->env.end());
    // As the app's own uid wherever its instances run as theirs (an agent run as root).
    const bool as_root = ::geteuid() == 0;
    if (as_root && group == 0) return fail("cannot tell which uid app '" + app + "' builds as");
    const int build_uid = as_root ? supervisor::app_uid(group) : -1;
    auto built = build_slug(store, *source_digest, *manifest->build, env, options.work_dir, [&](std::string_view line) {
                              emit(*res, {{"event", "build"}, {"line", std::string(line)}});
                            },
                            options.build_timeout, ExtractLimits{}, build_uid,
                            options.work_dir / "cache" / app);
    if (!built.ok()) {
      return fail("build failed: " + built.status().message() + "; the previous release keeps running");
    }
    slug = built->slug_digest;
  }

  json release = {{"digest", slug},
                  {"source_digest", *source_digest},
                  {"manifest", to_json(*manifest)},
                  {"description", "deploy"}};
  if (!commit.empty()) release["commit"] = commit;
  auto added = propose_release(apps, app, release);
  if (!added.ok()) return fail("cannot record the release: " + added.status().message());
  const uint64_t version = added->value("release", uint64_t{0});
  spdlog::info("deploy-release app={} release={} digest={} bytes={}", app, version, slug,
               req.body.size());
  emit(*res, {{"event", "release"}, {"version", version}, {"digest", slug}});

  // Long enough for the leader's healthy_deadline to run out and its rollback to show.
  const Duration follow_for =
      std::max(options.rollout_timeout,
               Duration(std::chrono::milliseconds(manifest->deploy.healthy_deadline_ms)) +
                   kRollbackWait);
  Follow f = follow_rollout(apps, app, version, *res, follow_for);
  if (!f.rollback.is_null()) emit(*res, f.rollback);
  if (!f.ok) return fail(f.message);
  emit(*res, {{"event", "done"}, {"release", version}, {"instances", f.instances}});
  res->end();
}

}  // namespace shoal::node::apps
