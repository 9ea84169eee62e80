#include "node/git/git_remote.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <memory>
#include <mutex>

#include "node/apps/names.h"
#include "node/auth/token.h"
#include "node/git/cgi_response.h"
#include "node/http_util.h"
#include "node/script_process.h"

namespace shoal::node::git {

namespace fs = std::filesystem;

namespace {

constexpr size_t kPushBodyLimit = size_t{1} << 30;  // as a deploy's upload
constexpr const char* kReceivePack = "git-receive-pack";

struct Remote {
  GitRemoteOptions options;
  std::mutex init_mu;  // repositories are made one at a time
};

// Makes the app's bare repository if this node has none yet, and (re)writes its hook so
// that it always runs this agent's binary.
Status ensure_repository(Remote& r, const std::string& app, const fs::path& repo) {
  std::lock_guard lock(r.init_mu);
  std::error_code ec;
  if (!fs::exists(repo / "HEAD", ec)) {
    fs::create_directories(r.options.repos_dir, ec);
    if (ec) return Status::io_error("cannot create " + r.options.repos_dir.string() + ": " + ec.message());
    ::chmod(r.options.repos_dir.c_str(), 0700);  // pushed sources are no other user's to read
    ScriptLimits limits;
    limits.timeout = std::chrono::seconds(30);
    auto init = run_script("exec git init --quiet --bare --initial-branch=main \"$REPO\" && "
                           "git -C \"$REPO\" config receive.denyDeletes true && "
                           "git -C \"$REPO\" config http.receivepack true && "
                           "git -C \"$REPO\" config gc.auto 0",
                           {{"REPO", repo.string()}}, "", limits);
    if (!init.ok()) {
      return Status::internal("git init of the repository for " + app + " failed: " +
                              init.describe(limits) + ": " + init.err);
    }
    spdlog::info("git-repository-created app={} path={}", app, repo.string());
  }
  const fs::path hook = repo / "hooks" / "pre-receive";
  fs::create_directories(hook.parent_path(), ec);
  {
    std::ofstream out(hook.string() + ".tmp", std::ios::trunc);
    out << pre_receive_hook(r.options.shoal_binary);
    if (!out.flush()) return Status::io_error("cannot write " + hook.string());
  }
  ::chmod((hook.string() + ".tmp").c_str(), 0755);
  fs::rename(hook.string() + ".tmp", hook, ec);
  if (ec) return Status::io_error("cannot write " + hook.string() + ": " + ec.message());
  return Status();
}

std::string raw_query(const HttpRequest& req) {
  const size_t q = req.target.find('?');
  return q == std::string::npos ? "" : req.target.substr(q + 1);
}

// Runs `git http-backend` for one request, streaming its answer to `res`.
void serve(Remote& r, const HttpRequest& req, const std::shared_ptr<HttpResponder>& res,
           const std::string& tail) {
  const std::string app = req.params.at("app");
  if (Status s = apps::validate_app_name(app); !s.ok()) return reply_status(*res, s);
  const fs::path repo = r.options.repos_dir / (app + ".git");
  if (Status s = ensure_repository(r, app, repo); !s.ok()) {
    spdlog::error("git-push-failed app={} reason=\"{}\"", app, s.message());
    return reply_status(*res, s);
  }

  // The hook deploys as the pusher: it gets the token the request came with.
  const std::string token =
      auth::token_of_header(req.header("Authorization").value_or("")).value_or("");
  const LocalApi api = r.options.local_api ? r.options.local_api() : LocalApi{};
  std::vector<std::pair<std::string, std::string>> env = {
      {"PATH", "/usr/local/bin:/usr/bin:/bin"},
      {"HOME", r.options.repos_dir.string()},
      {"GIT_CONFIG_NOSYSTEM", "1"},
      {"GIT_PROJECT_ROOT", r.options.repos_dir.string()},
      {"GIT_HTTP_EXPORT_ALL", "1"},
      {"GIT_HTTP_MAX_REQUEST_BUFFER", std::to_string(kPushBodyLimit)},
      {"PATH_INFO", "/" + app + ".git/" + tail},
      {"REQUEST_METHOD", req.method},
      {"QUERY_STRING", raw_query(req)},
      {"CONTENT_TYPE", req.header("Content-Type").value_or("")},
      {"CONTENT_LENGTH", std::to_string(req.body.size())},
      {"REMOTE_USER", req.identity.empty() ? "shoal" : req.identity},
      {"REMOTE_ADDR", req.remote},
      {"SHOAL_GIT_APP", app},
      {"SHOAL_ADDR", api.url},
      {"SHOAL_TOKEN", token},
  };
  if (!api.tls_fingerprint.empty()) env.emplace_back("SHOAL_TLS_FINGERPRINT", api.tls_fingerprint);
  if (auto enc = req.header("Content-Encoding")) env.emplace_back("HTTP_CONTENT_ENCODING", *enc);
  if (auto proto = req.header("Git-Protocol")) env.emplace_back("GIT_PROTOCOL", *proto);

  CgiResponse cgi;
  Status broken;
  std::atomic<bool> gone{false};
  ScriptLimits limits;
  limits.timeout = r.options.push_timeout;
  limits.inherit_environment = false;
  limits.cwd = r.options.repos_dir.string();
  limits.stdout_max = 0;  // streamed as it comes, not kept
  limits.stderr_max = 16 * 1024;
  limits.on_output = [&](std::string_view data, bool is_stderr) {
    if (is_stderr || !broken.ok() || gone) return;
    const bool had_headers = cgi.headers_done();
    auto body = cgi.feed(data);
    if (!body.ok()) {
      broken = body.status();
      return;
    }
    if (!had_headers && cgi.headers_done()) {
      HttpHeaders headers(cgi.headers().begin(), cgi.headers().end());
      res->start_stream(cgi.status(), cgi.content_type(), std::move(headers));
    }
    if (!body->empty() && !res->write(std::string(*body))) gone = true;
  };
  const auto started = steady_now();
  ScriptRun run = run_script("exec git http-backend", env, req.body, limits, &gone);
  if (!run.err.empty()) {
    spdlog::warn("git-backend-stderr app={} text=\"{}\"", app, run.err.substr(0, 2000));
  }
  if (cgi.headers_done()) {
    res->end();
  } else {
    const std::string why = !broken.ok() ? broken.message() : run.describe(limits);
    spdlog::error("git-backend-failed app={} path={} reason=\"{}\"", app, tail, why);
    reply_error(*res, 500, "git http-backend failed: " + why);
  }
  if (tail == kReceivePack) {
    spdlog::info("git-push app={} by=\"{}\" ms={} backend=\"{}\"", app, req.identity,
                 to_millis(steady_now() - started), run.describe(limits));
  }
}

}  // namespace

std::string pre_receive_hook(const fs::path& shoal_binary) {
  // The path is quoted for sh: a data dir or binary path with a space still works.
  std::string quoted = "'";
  for (char c : shoal_binary.string()) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  return "#!/bin/sh\n# Written by the shoal agent: a push here deploys (docs/git.md).\nexec " +
         quoted + " git-hook pre-receive\n";
}

void add_git_routes(HttpRouter& router, GitRemoteOptions options) {
  auto remote = std::make_shared<Remote>();
  remote->options = std::move(options);
  RouteOptions push;
  push.access = auth::Access::Kind::deploy;
  push.basic_auth = true;
  router.add(
      "GET", "/git/{app}.git/info/refs",
      [remote](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
        if (req.query_value("service").value_or("") != kReceivePack) {
          return reply_error(*res, 403,
                             "this remote takes pushes only (git push); an app's source is in "
                             "its releases (shoal releases)");
        }
        serve(*remote, req, res, "info/refs");
      },
      push);
  RouteOptions upload = push;
  upload.body_limit = kPushBodyLimit;
  router.add(
      "POST", "/git/{app}.git/git-receive-pack",
      [remote](const HttpRequest& req, std::shared_ptr<HttpResponder> res) {
        serve(*remote, req, res, kReceivePack);
      },
      upload);
}

}  // namespace shoal::node::git
