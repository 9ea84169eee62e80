#include "node/log_drain.h"

#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cctype>
#include <cerrno>
#include <chrono>
#include <charconv>
#include <cstring>

#include <nlohmann/json.hpp>

#include "node/http_client.h"
#include "node/metrics.h"

namespace shoal::node {
namespace {

constexpr std::string_view kSettingPrefix = "drain:";
constexpr auto kIoTimeout = std::chrono::seconds(2);
constexpr auto kRetryAfter = std::chrono::seconds(1);
constexpr size_t kMaxUdpMessage = 2048;  // RFC 5426's safe size for IPv4 and IPv6

// RFC 5424 header fields: printable US-ASCII, at most `max` characters, "-" when empty.
std::string header_field(std::string_view v, size_t max) {
  std::string out;
  for (char c : v.substr(0, max)) out += (c > 32 && c < 127) ? c : '_';
  return out.empty() ? "-" : out;
}

// RFC 3339 in UTC with milliseconds, as RFC 5424's TIMESTAMP allows.
std::string utc_timestamp(int64_t ms) {
  using namespace std::chrono;
  const sys_time<milliseconds> t{milliseconds(ms)};
  const sys_days day = floor<days>(t);
  const year_month_day ymd(day);
  const hh_mm_ss<milliseconds> hms(t - day);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                     hms.hours().count(), hms.minutes().count(), hms.seconds().count(),
                     hms.subseconds().count());
}

}  // namespace

Result<DrainTarget> parse_drain_url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return Status::invalid_argument(
        fmt::format("drain '{}': {}", url.substr(0, 200), why));
  };
  if (url.size() > 1024) return bad("longer than 1024 bytes");
  DrainTarget t;
  t.url = std::string(url);
  const size_t sep = url.find("://");
  if (sep == std::string_view::npos) return bad("not a URL (syslog+tcp://HOST:PORT, syslog+udp://HOST:PORT or http://HOST:PORT/PATH)");
  const std::string_view scheme = url.substr(0, sep);
  if (scheme == "syslog" || scheme == "syslog+tcp") {
    t.kind = DrainTarget::Kind::syslog_tcp;
  } else if (scheme == "syslog+udp") {
    t.kind = DrainTarget::Kind::syslog_udp;
  } else if (scheme == "http") {
    t.kind = DrainTarget::Kind::http;
  } else if (scheme == "https") {
    return bad("https is not supported yet; use http:// on a private network, or syslog");
  } else {
    return bad(fmt::format("unknown scheme '{}' (syslog+tcp, syslog+udp or http)", scheme));
  }
  std::string_view rest = url.substr(sep + 3);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) t.path = std::string(rest.substr(slash));
  if (t.kind != DrainTarget::Kind::http && !t.path.empty() && t.path != "/") {
    return bad("a syslog drain has no path");
  }
  if (t.kind == DrainTarget::Kind::http && t.path.empty()) t.path = "/";
  for (char c : t.path) {
    if (c <= ' ' || c >= 127) return bad("the path must be printable, without blanks");
  }
  size_t colon = authority.rfind(':');
  if (!authority.empty() && authority.front() == '[') {  // [IPv6]:PORT
    const size_t close = authority.find(']');
    if (close == std::string_view::npos || close + 1 != colon) return bad("a bad [IPv6]:PORT");
    t.host = std::string(authority.substr(1, close - 1));
  } else {
    if (colon == std::string_view::npos) return bad("the port is missing (HOST:PORT)");
    t.host = std::string(authority.substr(0, colon));
  }
  if (t.host.empty()) return bad("the host is missing");
  for (char c : t.host) {
    const bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' ||
                    c == ':' || c == '_';
    if (!ok) return bad("the host has a character a host name cannot have");
  }
  const std::string_view port = authority.substr(colon + 1);
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), t.port);
  if (ec != std::errc() || end != port.data() + port.size() || t.port < 1 || t.port > 65535) {
    return bad("the port must be 1 to 65535");
  }
  return t;
}

std::string syslog_message(const supervisor::LogLine& l, std::string_view app,
                           std::string_view node) {
  // PRI = facility * 8 + severity: user-level (1); informational (6) or error (3).
  const int pri = 8 + (l.stream == "err" ? 3 : 6);
  return fmt::format("<{}>1 {} {} {} {} {} - {}", pri, utc_timestamp(l.ts_ms),
                     header_field(node, 255), header_field(app, 48),
                     header_field(l.instance, 128), header_field(l.type, 32), l.line);
}

std::string drain_setting_key(std::string_view url) {
  return std::string(kSettingPrefix) + std::string(url);
}

std::string drain_of_setting_key(std::string_view key) {
  if (key.substr(0, kSettingPrefix.size()) != kSettingPrefix) return {};
  return std::string(key.substr(kSettingPrefix.size()));
}

// One drain: a connection (TCP), a socket (UDP) or nothing (HTTP, a request per batch).
class DrainSender {
 public:
  struct Record {
    const std::string* app;
    supervisor::LogLine line;
  };

  DrainSender(DrainTarget t, const std::string& node) : t_(std::move(t)), node_(node) {}
  ~DrainSender() { close_fd(); }

  // Sends what it can of `batch`; returns how many lines were delivered.
  size_t send(const std::vector<Record>& batch) {
    if (batch.empty()) return 0;
    if (std::chrono::steady_clock::now() < retry_at_) return 0;
    bool ok = false;
    switch (t_.kind) {
      case DrainTarget::Kind::syslog_tcp: ok = send_tcp(batch); break;
      case DrainTarget::Kind::syslog_udp: ok = send_udp(batch); break;
      case DrainTarget::Kind::http: ok = send_http(batch); break;
    }
    if (ok) {
      failing_ = false;
      return batch.size();
    }
    if (!failing_) {  // once per outage, not once per batch
      spdlog::warn("log-drain-failing drain={} reason=\"{}\"", t_.url, why_);
      failing_ = true;
    }
    close_fd();
    retry_at_ = std::chrono::steady_clock::now() + kRetryAfter;
    return 0;
  }

 private:
  bool fail(std::string why) {
    why_ = std::move(why);
    return false;
  }

  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  // A socket of `type` connected to the drain (for UDP: its default peer), with send
  // timeouts; fd_ on success.
  bool open_socket(int type) {
    addrinfo hints{};
    hints.ai_socktype = type;
    hints.ai_flags = AI_NUMERICSERV;
    addrinfo* found = nullptr;
    if (int rc = ::getaddrinfo(t_.host.c_str(), std::to_string(t_.port).c_str(), &hints, &found);
        rc != 0) {
      return fail(fmt::format("cannot resolve {}: {}", t_.host, ::gai_strerror(rc)));
    }
    std::string last = "no address";
    for (addrinfo* a = found; a != nullptr; a = a->ai_next) {
      const int fd = ::socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
      if (fd < 0) continue;
      int rc = ::connect(fd, a->ai_addr, a->ai_addrlen);
      if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{fd, POLLOUT, 0};
        const int ms = static_cast<int>(
            std::chrono::duration_cast<std::chrono::milliseconds>(kIoTimeout).count());
        if (::poll(&p, 1, ms) == 1) {
          int err = 0;
          socklen_t len = sizeof err;
          ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
          rc = err == 0 ? 0 : -1;
          errno = err;
        } else {
          errno = ETIMEDOUT;
        }
      }
      if (rc == 0) {
        ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        timeval tv{static_cast<time_t>(kIoTimeout.count()), 0};
        ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        ::freeaddrinfo(found);
        fd_ = fd;
        return true;
      }
      last = std::strerror(errno);
      ::close(fd);
    }
    ::freeaddrinfo(found);
    return fail(fmt::format("cannot connect to {}:{}: {}", t_.host, t_.port, last));
  }

  bool write_all(const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = ::send(fd_, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail(fmt::format("send: {}", std::strerror(errno)));
      done += static_cast<size_t>(n);
    }
    return true;
  }

  bool send_tcp(const std::vector<Record>& batch) {
    if (fd_ < 0 && !open_socket(SOCK_STREAM)) return false;
    // Octet counting (RFC 6587): "LENGTH SP MESSAGE", so a message may hold newlines.
    std::string out;
    for (const auto& r : batch) {
      const std::string m = syslog_message(r.line, *r.app, node_);
      out += std::to_string(m.size()) + " " + m;
    }
    return write_all(out);
  }

  bool send_udp(const std::vector<Record>& batch) {
    if (fd_ < 0 && !open_socket(SOCK_DGRAM)) return false;
    for (const auto& r : batch) {
      std::string m = syslog_message(r.line, *r.app, node_);
      if (m.size() > kMaxUdpMessage) m.resize(kMaxUdpMessage);
      if (::send(fd_, m.data(), m.size(), MSG_NOSIGNAL) < 0) {
        return fail(fmt::format("send: {}", std::strerror(errno)));
      }
    }
    return true;
  }

  bool send_http(const std::vector<Record>& batch) {
    HttpExchange ex;
    ex.method = "POST";
    ex.target = t_.path;
    ex.content_type = "application/x-ndjson";
    ex.timeout = kIoTimeout;
    for (const auto& r : batch) {
      ex.body += nlohmann::json{{"ts_ms", r.line.ts_ms},
                                {"node", node_},
                                {"app", *r.app},
                                {"instance", r.line.instance},
                                {"type", r.line.type},
                                {"stream", r.line.stream},
                                {"line", r.line.line}}
                     .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) +
                 "\n";
    }
    auto res = http_request(t_.host, t_.port, ex);
    if (!res.ok()) return fail(res.status().message());
    if (res->status / 100 != 2) return fail(fmt::format("answered HTTP {}", res->status));
    return true;
  }

  DrainTarget t_;
  const std::string& node_;
  int fd_ = -1;
  std::chrono::steady_clock::time_point retry_at_{};
  bool failing_ = false;
  std::string why_;
};

LogDrains::LogDrains(Sources sources, Options options)
    : src_(std::move(sources)), opts_(options) {}

LogDrains::~LogDrains() { stop(); }

void LogDrains::start() {
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { run(); });
}

void LogDrains::stop() {
  stopping_ = true;
  if (thread_.joinable()) thread_.join();
}

void LogDrains::run() {
  auto next_refresh = std::chrono::steady_clock::now();
  while (!stopping_.load()) {
    if (std::chrono::steady_clock::now() >= next_refresh) {
      refresh();
      next_refresh = std::chrono::steady_clock::now() + opts_.refresh;
    }
    forward();
    // Sleep in short steps so stop() is prompt.
    const auto wake = std::chrono::steady_clock::now() + opts_.poll;
    while (!stopping_.load() && std::chrono::steady_clock::now() < wake) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
}

void LogDrains::refresh() {
  auto urls = src_.drains();
  if (!urls.ok()) {
    spdlog::debug("log-drains-unknown reason=\"{}\"", urls.status().to_string());
    return;  // keep the drains we have until the catalog answers again
  }
  std::map<std::string, std::unique_ptr<DrainSender>> next;
  for (const auto& url : *urls) {
    if (auto it = senders_.find(url); it != senders_.end()) {
      next.emplace(url, std::move(it->second));
      continue;
    }
    auto target = parse_drain_url(url);
    if (!target.ok()) {
      spdlog::warn("log-drain-invalid drain={} reason=\"{}\"", url, target.status().message());
      continue;
    }
    spdlog::info("log-drain-added drain={}", url);
    next.emplace(url, std::make_unique<DrainSender>(std::move(*target), src_.node));
  }
  for (const auto& [url, sender] : senders_) {
    if (!next.count(url)) spdlog::info("log-drain-removed drain={}", url);
  }
  senders_ = std::move(next);
}

void LogDrains::forward() {
  // Followers start at the end of the logs: a drain gets lines written from when it (or
  // the app's first instance here) appeared, not the history.
  std::map<std::string, std::vector<supervisor::LogSource>> logs = src_.logs();
  for (auto it = followers_.begin(); it != followers_.end();) {
    it = logs.count(it->first) ? std::next(it) : followers_.erase(it);
  }
  std::vector<DrainSender::Record> batch;
  for (auto& [app, sources] : logs) {
    auto [it, fresh] = followers_.try_emplace(app, sources);
    if (!fresh) it->second.update_sources(sources);
    for (auto& line : it->second.poll()) batch.push_back({&app, std::move(line)});
  }
  if (batch.empty() || senders_.empty()) return;
  auto& lines = metrics::registry().counter_family(
      "shoal_log_drain_lines_total",
      "App log lines this node forwarded to a drain, or dropped because the drain failed.",
      {"drain", "result"});
  for (auto& [url, sender] : senders_) {
    const size_t sent = sender->send(batch);
    lines.labels({url, "sent"}).inc(static_cast<double>(sent));
    lines.labels({url, "dropped"}).inc(static_cast<double>(batch.size() - sent));
  }
}

}  // namespace shoal::node
