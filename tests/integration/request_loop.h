// A bounded client loop for the zero-downtime checks (rolling deploys, instance kills):
// a thread runs `round` again and again, `pause` apart, until stop() or `limit`, and keeps
// what each request of a round reports. An HTTP 200 counts as ok: its label is remembered
// (the instance asked) and its body's first word as the release that answered ("v2", as
// examples/health-web says it); anything else is a failure, described after its label.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "base/status.h"
#include "node/http_client.h"

namespace shoal::test {

class RequestLoop {
 public:
  using Record = std::function<void(const std::string& label, const Result<node::HttpResponse>&)>;
  using Round = std::function<void(const Record&)>;

  RequestLoop(Round round, std::chrono::milliseconds pause, std::chrono::seconds limit)
      : round_(std::move(round)), pause_(pause), limit_(limit), thread_([this] { run(); }) {}
  ~RequestLoop() { stop(); }

  void stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  int ok() const { return ok_; }
  bool timed_out() const { return timed_out_; }
  std::vector<std::string> failures() {
    std::lock_guard lock(mu_);
    return failures_;
  }
  std::set<std::string> releases_seen() {
    std::lock_guard lock(mu_);
    return releases_;
  }
  std::set<std::string> labels_seen() {
    std::lock_guard lock(mu_);
    return labels_;
  }

 private:
  void run() {
    const auto deadline = std::chrono::steady_clock::now() + limit_;
    const Record record = [this](const std::string& label, const Result<node::HttpResponse>& r) {
      std::lock_guard lock(mu_);
      if (!r.ok() || r->status != 200) {
        const std::string why = r.ok() ? "HTTP " + std::to_string(r->status) + " " + r->body
                                       : r.status().to_string();
        failures_.push_back(label.empty() ? why : label + ": " + why);
        return;
      }
      ++ok_;
      labels_.insert(label);
      releases_.insert(r->body.substr(0, r->body.find(' ')));
    };
    while (!stop_) {
      if (std::chrono::steady_clock::now() > deadline) {
        timed_out_ = true;
        return;
      }
      round_(record);
      std::this_thread::sleep_for(pause_);
    }
  }

  const Round round_;
  const std::chrono::milliseconds pause_;
  const std::chrono::seconds limit_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> timed_out_{false};
  std::atomic<int> ok_{0};
  std::mutex mu_;
  std::vector<std::string> failures_;
  std::set<std::string> releases_;
  std::set<std::string> labels_;
  std::thread thread_;  // last: it starts once everything above is in place
};

}  // namespace shoal::test
