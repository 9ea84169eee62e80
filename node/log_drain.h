// node/log_drain.h
//
// Log drains (docs/reporting.md, "Drains"): every app's log lines forwarded, as they are
// written, to a syslog server (RFC 5424, over TCP with octet-counting framing per RFC 6587,
// or over UDP per RFC 5426) or to an HTTP endpoint (POSTed NDJSON batches). Drains are a
// cluster setting kept in the catalog; each node sends the lines of the instances it runs.
//
//   syslog+tcp://HOST:PORT   (syslog://HOST:PORT is the same)
//   syslog+udp://HOST:PORT
//   http://HOST:PORT/PATH
//
// Delivery is at most once: a line that cannot be sent (the drain is down, its queue is
// full) is dropped and counted (shoal_log_drain_lines_total{drain,result="dropped"}); the
// lines stay in `shoal logs` either way.
//
// Contract: parse_drain_url() and syslog_message() are pure. LogDrains runs one thread of
// its own; start() and stop() from one thread.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "base/status.h"
#include "base/time.h"
#include "node/supervisor/instance_logs.h"

namespace shoal::node {

struct DrainTarget {
  enum class Kind : uint8_t { syslog_tcp, syslog_udp, http };
  Kind kind = Kind::syslog_tcp;
  std::string url;  // as given, the drain's name
  std::string host;
  int port = 0;
  std::string path;  // http only; starts with '/'
};

// invalid_argument naming what is wrong with the URL.
Result<DrainTarget> parse_drain_url(std::string_view url);

// One RFC 5424 message for a line of `app` on `node`: facility user, severity info (out) or
// error (err); APP-NAME the app, PROCID the instance, MSGID the process type. Header fields
// are cut to RFC 5424's lengths and non-printable characters become '_'.
std::string syslog_message(const supervisor::LogLine& l, std::string_view app,
                           std::string_view node);

// The catalog settings key of a drain, and back (empty when `key` is not a drain's).
std::string drain_setting_key(std::string_view url);
std::string drain_of_setting_key(std::string_view key);

class DrainSender;

class LogDrains {
 public:
  struct Sources {
    std::string node;  // this node's name: the HOSTNAME of syslog messages
    // The drains' URLs, as the catalog has them now.
    std::function<Result<std::vector<std::string>>()> drains;
    // Every app that has instances here, with their log sources.
    std::function<std::map<std::string, std::vector<supervisor::LogSource>>()> logs;
  };
  struct Options {
    Duration poll = std::chrono::milliseconds(500);
    Duration refresh = std::chrono::seconds(5);  // how often the drain list is read
  };

  LogDrains(Sources sources, Options options);
  ~LogDrains();
  LogDrains(const LogDrains&) = delete;
  LogDrains& operator=(const LogDrains&) = delete;

  void start();
  void stop();

 private:
  void run();
  void refresh();
  void forward();

  Sources src_;
  Options opts_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::map<std::string, std::unique_ptr<DrainSender>> senders_;  // by URL
  std::map<std::string, supervisor::LogFollower> followers_;      // by app
};

}  // namespace shoal::node
