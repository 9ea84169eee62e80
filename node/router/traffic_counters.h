// node/router/traffic_counters.h
//
// TrafficCounters: one IO thread's request counters, per app and per instance. Only the
// owning IO thread writes them; Router::traffic() reads each thread's under that thread's
// own mutex, so a request never waits on another IO thread (the lock is contended only
// while a snapshot is taken).
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>

#include "node/router/router.h"

namespace shoal::node::router {

class TrafficCounters {
 public:
  // A request handed to a backend is in flight until finished(); instance may be empty.
  void started(std::string_view app, std::string_view instance);
  void finished(std::string_view app, std::string_view instance);
  // One answered request (proxied, or the router's own); instance empty when no backend
  // answered it.
  void record(std::string_view app, std::string_view instance, int status, uint64_t bytes_in,
              uint64_t bytes_out, double seconds);
  // Requests answered for `app` by this thread since it started.
  uint64_t requests(std::string_view app) const;
  // Adds this thread's counters to `into` (app name -> traffic).
  void add_to(std::map<std::string, AppTraffic>& into) const;

 private:
  AppTraffic& app(std::string_view name);  // REQUIRES: mu_ held

  mutable std::mutex mu_;
  std::map<std::string, AppTraffic, std::less<>> apps_;
};

// into += from, field by field.
void add_traffic(Traffic& into, const Traffic& from);

}  // namespace shoal::node::router
