// A real Prometheus server (Debian's `prometheus`) on loopback for the reporting tests: it
// scrapes the given targets every second, and answers instant PromQL queries.
#pragma once

#include <catch2/catch.hpp>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "node/api_client.h"
#include "node/http_client.h"
#include "tests/support/process.h"

namespace shoal::test {

class PrometheusProcess {
 public:
  // `targets`: "127.0.0.1:PORT" of each node's --http (its /metrics), under job "shoal".
  static std::unique_ptr<PrometheusProcess> start(const std::vector<std::string>& targets) {
    std::unique_ptr<PrometheusProcess> p(new PrometheusProcess);
    p->dir_ = make_temp_dir("prometheus");
    p->port_ = free_loopback_port();
    std::ofstream config(p->dir_ / "prometheus.yml");
    config << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
           // honor_labels: a series of an instance keeps its own `instance` label (the
           // instance id), not Prometheus's target address (docs/reporting.md).
           << "scrape_configs:\n  - job_name: shoal\n    honor_labels: true\n"
           << "    static_configs:\n      - targets: [";
    for (size_t i = 0; i < targets.size(); ++i) config << (i ? ", " : "") << "'" << targets[i] << "'";
    config << "]\n";
    config.close();
    p->pid_ = spawn({find_program("prometheus"), "--config.file=" + (p->dir_ / "prometheus.yml").string(),
                     "--storage.tsdb.path=" + (p->dir_ / "data").string(),
                     "--web.listen-address=127.0.0.1:" + std::to_string(p->port_), "--log.level=warn"},
                    p->dir_ / "prometheus.log", p->dir_ / "prometheus.log");
    return p;
  }

  ~PrometheusProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      (void)wait_exit(pid_, 10s);
    }
    if (std::getenv("SHOAL_KEEP_TEST_DIRS") == nullptr) {
      std::error_code ec;
      std::filesystem::remove_all(dir_, ec);
    }
  }

  bool wait_ready(std::chrono::milliseconds limit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
      node::HttpExchange ex;
      ex.target = "/-/ready";
      ex.timeout = 2s;
      auto r = node::http_request("127.0.0.1", port_, ex);
      if (r.ok() && r->status == 200) return true;
      std::this_thread::sleep_for(200ms);
    }
    return false;
  }

  // The result vector of an instant query ([] when it has no samples), or nullopt when the
  // query failed; `raw` gets the answer for INFO.
  std::optional<nlohmann::json> query(const std::string& promql, std::string* raw = nullptr) {
    node::HttpExchange ex;
    ex.target = "/api/v1/query?query=" + node::ApiClient::url_encode(promql);
    ex.timeout = 5s;
    auto r = node::http_request("127.0.0.1", port_, ex);
    if (!r.ok()) {
      if (raw) *raw = r.status().to_string();
      return std::nullopt;
    }
    if (raw) *raw = r->body;
    auto doc = nlohmann::json::parse(r->body, nullptr, false);
    if (doc.is_discarded() || doc.value("status", "") != "success") return std::nullopt;
    return doc["data"]["result"];
  }

  // The single value of a query that yields one sample (a sum, a count), if it does.
  std::optional<double> scalar(const std::string& promql, std::string* raw = nullptr) {
    auto result = query(promql, raw);
    if (!result || result->size() != 1) return std::nullopt;
    return std::stod((*result)[0]["value"][1].get<std::string>());
  }

  std::string log() const { return read_file(dir_ / "prometheus.log"); }

 private:
  PrometheusProcess() = default;

  std::filesystem::path dir_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace shoal::test
