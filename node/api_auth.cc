#include "node/api_auth.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "node/metrics.h"

namespace shoal::node {

namespace {

using Kind = auth::Access::Kind;

metrics::Family<metrics::Counter>& auth_failures() {
  static auto& f = metrics::registry().counter_family(
      "shoal_api_auth_failures_total",
      "API requests refused: no or unknown token (unauthenticated), a token whose scopes do not "
      "allow the request (forbidden), or no token table yet (unavailable).",
      {"reason"});
  return f;
}

std::string scopes_text(const std::vector<auth::Scope>& scopes) {
  std::string out;
  for (const auto& s : scopes) out += (out.empty() ? "" : ",") + s.to_string();
  return out;
}

std::string need_text(const auth::Access& need) {
  switch (need.kind) {
    case Kind::open: return "nothing";
    case Kind::read: return "read";
    case Kind::deploy: return "deploy:" + need.app + " or admin";
    case Kind::admin: return "admin";
  }
  return "admin";
}

}  // namespace

void apply_access_policy(HttpRouter& router, const ApiAuthOptions& options) {
  struct Rule {
    const char* method;
    const char* pattern;
    Kind access;
  };
  static const Rule kRules[] = {
      // The dashboard's files hold no data; it asks for a token before it calls /v1.
      {"GET", "/", Kind::open},
      {"GET", "/ui", Kind::open},
      {"GET", "/ui/", Kind::open},
      {"GET", "/ui/{file}", Kind::open},
      // An app's owner works on it with a deploy:APP token. Destroying it stays admin's.
      {"POST", "/v1/apps/{app}/deploy", Kind::deploy},
      {"POST", "/v1/apps/{app}/scale", Kind::deploy},
      {"POST", "/v1/apps/{app}/restart", Kind::deploy},
      {"POST", "/v1/apps/{app}/stop", Kind::deploy},
      {"POST", "/v1/apps/{app}/start", Kind::deploy},
      {"POST", "/v1/apps/{app}/config", Kind::deploy},
      {"POST", "/v1/apps/{app}/rollback", Kind::deploy},
      {"POST", "/v1/apps/{app}/domains", Kind::deploy},
      {"DELETE", "/v1/apps/{app}/domains/{host}", Kind::deploy},
      // Config vars are the app's secrets: not for every reader.
      {"GET", "/v1/apps/{app}/config", Kind::deploy},
      // The gossip keyring is key material; who holds which token is for admins.
      {"GET", "/v1/keys", Kind::admin},
      {"GET", "/v1/tokens", Kind::admin},
  };
  for (const auto& r : kRules) router.set_access(r.method, r.pattern, r.access);
  if (options.open_health) router.set_access("GET", "/v1/health", Kind::open);
  if (options.open_metrics) router.set_access("GET", "/metrics", Kind::open);
}

std::function<Status(HttpRequest&, const RouteOptions&)> make_authorizer(
    std::shared_ptr<const auth::TokenStore> tokens, bool peer,
    std::shared_ptr<auth::FailureLimiter> limiter) {
  return [tokens = std::move(tokens), peer, limiter = std::move(limiter)](
             HttpRequest& req, const RouteOptions& options) {
    const auth::Access need = required_access(req, options);
    if (need.kind == Kind::open) return Status();
    const auto header = req.header("Authorization");
    if (peer && !header) return Status();  // a node's own call (see api_auth.h)
    const std::string host = auth::remote_host(req.remote);
    if (limiter) {
      if (const Duration wait = limiter->blocked_for(host, steady_now()); wait > Duration::zero()) {
        auth_failures().labels({"rate_limited"}).inc();
        req.retry_after_s = std::max<int64_t>(1, (to_millis(wait) + 999) / 1000);
        return Status::resource_exhausted(
            "too many failed authentications from " + host + "; retry in " +
            std::to_string(req.retry_after_s) + " s");
      }
    }
    auto who = tokens->authenticate(header.value_or(""));
    if (!who.ok()) {
      const bool unavailable = who.status().is(Status::Code::unavailable);
      // Only a token that was sent and is wrong counts: asking without one (a dashboard
      // before sign-in) guesses nothing.
      if (limiter && header && !unavailable) limiter->failed(host, steady_now());
      auth_failures().labels({unavailable ? "unavailable" : "unauthenticated"}).inc();
      spdlog::warn("auth-refused remote={} method={} path={} reason=\"{}\"", req.remote,
                   req.method, req.path, who.status().message());
      return who.status();
    }
    if (!auth::allows(who->scopes, need)) {
      auth_failures().labels({"forbidden"}).inc();
      spdlog::warn("auth-forbidden token=\"{}\" scopes={} remote={} method={} path={}",
                   who->describe(), scopes_text(who->scopes), req.remote, req.method, req.path);
      return Status::permission_denied("token " + who->describe() + " (" +
                                       scopes_text(who->scopes) + ") may not " + req.method +
                                       " " + req.path + ": that needs " + need_text(need));
    }
    req.identity = who->describe();
    req.local_credential = who->local;
    if (req.method != "GET" && req.method != "HEAD") {
      req.audit = true;  // logged with its outcome, once answered
      if (peer) req.audit_note = " forwarded=true";
    }
    return Status();
  };
}

}  // namespace shoal::node
