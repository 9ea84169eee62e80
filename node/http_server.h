// node/http_server.h
//
// HttpServer: the agent's HTTP/1.1 listener (Boost.Beast on Asio), with a small router.
// Every /v1 endpoint, the event streams and (later) the UI and git remotes hang off it.
//
// Threads: one IO thread runs the sockets; handlers run on a small worker pool, so a
// handler may block briefly (AgentControl calls wait on the agent loop) without stalling
// other connections. A handler answers through its HttpResponder, now or later, from any
// thread: a whole reply, or a chunked stream (Server-Sent Events, query responses).
//
// Contract:
//  - Routes are "METHOD /literal/{param}/..." patterns; {param} matches one non-empty path
//    segment and lands, percent-decoded, in HttpRequest::params; {param}SUFFIX ("{app}.git")
//    matches a segment that ends with SUFFIX, and the parameter is the rest. Routes are
//    fixed before start().
//  - The server itself answers what no handler can: 404 for an unknown path, 405 (with
//    Allow) for a known path with another method, 413 past the route's body limit, 400
//    for a malformed request, 500 if a handler throws — always as JSON {"error": "..."}.
//  - A handler must answer exactly once (reply, or start_stream ... end); extra answers
//    are ignored and logged. A responder dropped without answering sends 500.
//  - Keep-alive and pipelining are honoured; responses go out in request order.
//  - stop() closes the listener and every connection (ending open streams), and waits for
//    running handlers; the destructor calls it.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "gossip/address.h"
#include "node/auth/token.h"
#include "node/unique_fd.h"

namespace shoal::node {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct HttpRequest {
  std::string method;  // upper case, as sent: "GET"
  std::string target;  // as sent: "/v1/members?status=alive"
  std::string path;    // percent-decoded, without the query: "/v1/members"
  std::multimap<std::string, std::string> query;   // percent-decoded
  std::map<std::string, std::string> params;       // from the route's {name} segments
  HttpHeaders headers;
  std::string body;
  std::string remote;  // "IP:PORT" of the client
  // Who sent it, once authenticated (auth::Identity::describe()); "" for open routes and
  // servers without authentication.
  std::string identity;
  // Authenticated with the node-local token: forwarding sends it as this node's own call.
  bool local_credential = false;
  // Set by an authorizer for a request to audit: the server logs it with the answer's
  // status (`audit token=... method=... path=... remote=...{audit_note} status=N`). A
  // streamed answer's status is its first line's; how the stream ended is in the stream.
  bool audit = false;
  std::string audit_note;
  // Set by an authorizer that refuses for a while (429): sent as Retry-After.
  int64_t retry_after_s = 0;

  // Header lookup ignores case; the first one wins.
  std::optional<std::string> header(std::string_view name) const;
  std::optional<std::string> query_value(const std::string& key) const;
  std::vector<std::string> query_values(const std::string& key) const;
  bool has_query(const std::string& key) const { return query.count(key) != 0; }
};

// How a handler answers. Thread-safe; shared with whatever finishes the work.
class HttpResponder {
 public:
  virtual ~HttpResponder() = default;

  // The whole response. content_type defaults to JSON.
  virtual void reply(int status, std::string body,
                     std::string content_type = "application/json",
                     HttpHeaders headers = {}) = 0;

  // A body that is `length` bytes of an open file from `offset` (Content-Length: length),
  // sent a piece at a time as the client takes them rather than read whole into memory.
  // The file is closed once sent; bytes missing from it cut the connection.
  virtual void reply_file(int status, UniqueFd file, uint64_t offset, uint64_t length,
                          std::string content_type, HttpHeaders headers = {}) = 0;

  // A chunked response: start_stream once, then write() any number of chunks, then end().
  // write() returns false once the client has gone (or is too slow: more than a few MiB
  // queued), after which the producer should stop.
  virtual void start_stream(int status, std::string content_type, HttpHeaders headers = {}) = 0;
  virtual bool write(std::string chunk) = 0;
  virtual void end() = 0;

  // True once the exchange is over: the response went out, the client disconnected, or
  // the server stopped.
  virtual bool closed() const = 0;
  // Runs `fn` once when the exchange is over (at once if it already is), on the server's
  // IO thread: keep it short. For cancelling work a streaming handler started.
  virtual void on_close(std::function<void()> fn) = 0;
};

using HttpHandler = std::function<void(const HttpRequest&, std::shared_ptr<HttpResponder>)>;

inline constexpr size_t kDefaultHttpBodyLimit = 1024 * 1024;

struct RouteOptions {
  size_t body_limit = kDefaultHttpBodyLimit;
  // Who may call it (docs/security.md). Unset: read for GET and HEAD, admin for the rest,
  // so a route nobody thought about is closed rather than open.
  std::optional<auth::Access::Kind> access;
  // Access::Kind::deploy: the route parameter that names the app written to.
  std::string app_param = "app";
  // How a 401 asks for credentials (WWW-Authenticate). Basic for clients that only know
  // user and password (git: the token is the password); a browser would prompt for it, so
  // the API's routes keep Bearer.
  bool basic_auth = false;
};

// What a request to a route needs, after routing (its parameters known).
auth::Access required_access(const HttpRequest& req, const RouteOptions& options);

class HttpRouter {
 public:
  // pattern: "/v1/apps/{app}/ps". Adding the same method and pattern twice is a bug.
  void add(std::string method, std::string pattern, HttpHandler handler,
           RouteOptions options = {});

  struct Match {
    const HttpHandler* handler = nullptr;
    const RouteOptions* options = nullptr;
    std::map<std::string, std::string> params;
    std::vector<std::string> allowed;  // methods on this path, when handler == nullptr
  };
  // `raw_path` as sent (percent-encoded, no query); parameters are decoded per segment.
  // handler == nullptr and allowed empty: no such path (404); allowed non-empty: 405.
  Match match(const std::string& method, const std::string& raw_path) const;
  // The largest body any route on this path accepts, for reading before routing.
  size_t body_limit(const std::string& method, const std::string& raw_path) const;
  size_t max_body_limit() const;
  // Sets who may call a route (RouteOptions::access); false if there is no such route.
  bool set_access(std::string_view method, std::string_view pattern, auth::Access::Kind access);
  struct RouteInfo {
    std::string method;
    std::string pattern;
    RouteOptions options;
  };
  std::vector<RouteInfo> routes() const;
  // A copy without the routes whose pattern starts with `prefix` ("/v1/internal/").
  HttpRouter without_prefix(std::string_view prefix) const;

 private:
  struct Route {
    std::string method;
    std::vector<std::string> segments;  // "{x}" marks a parameter
    HttpHandler handler;
    RouteOptions options;
  };
  std::vector<Route> routes_;
};

struct HttpServerOptions {
  int worker_threads = 4;
  Duration idle_timeout = std::chrono::seconds(60);     // keep-alive connection, no request
  Duration request_timeout = std::chrono::seconds(30);  // reading one request
  size_t max_connections = 512;
  // Runs on the IO thread after routing and before the handler; an error is the answer
  // (401 with WWW-Authenticate for unauthenticated, else by http_status()). It may set
  // HttpRequest::identity. Unset: every route is open.
  std::function<Status(HttpRequest&, const RouteOptions&)> authorize;
};

class HttpServer {
 public:
  // Binds before returning: io_error naming the address if it cannot.
  static Result<std::unique_ptr<HttpServer>> start(const gossip::Address& listen,
                                                   HttpRouter router,
                                                   HttpServerOptions options = {});
  // A server with no listener of its own: it serves the connections handed to adopt()
  // (the --rpc listener passes it those that open with an HTTP request).
  static std::unique_ptr<HttpServer> start_unbound(HttpRouter router,
                                                   HttpServerOptions options = {});
  // Takes ownership of a connected TCP socket (or one end of a local stream socketpair)
  // and serves it like an accepted one (the bytes not yet read are its first request).
  // `remote` names the client when the socket cannot ("" : its peer address).
  // Thread-safe; after stop() it just closes.
  void adopt(int fd, std::string remote = {});
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound address (the real port when listen asked for port 0); empty when unbound.
  gossip::Address address() const;
  void stop();

  struct Impl;

 private:
  explicit HttpServer(std::shared_ptr<Impl> impl);
  static std::unique_ptr<HttpServer> launch(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

// {"error": message} with `status`, for handlers and the server's own rejections.
void reply_error(HttpResponder& responder, int status, std::string_view message);

// Percent-decoding for paths and query strings ('+' is a space in queries only);
// nullopt on a malformed escape.
std::optional<std::string> percent_decode(std::string_view text, bool plus_is_space);

}  // namespace shoal::node
