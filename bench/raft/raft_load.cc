// raft_load: one write load generator for both sides of bench/raft, so neither is favoured
// by its client. Each client is a thread with one keep-alive HTTP/1.1 connection that
// writes 256-byte values under fresh keys, one request at a time, and records the latency
// of every acknowledged write.
//
//   etcd:  POST /v3/kv/put {"key": b64, "value": b64}   (etcd's HTTP/JSON gateway)
//   shoal: PUT /v1/raft/groups/G/kv/KEY  (raw value)       (the kv test state machine)
//          with `Authorization: Bearer $SHOAL_TOKEN` when that is set (docs/security.md)
//
// A write that fails (refused by a follower, connection lost) is retried on the next
// endpoint in the list, so the same run measures failover: the largest gap between two
// acknowledged writes is printed as max_gap_ms. Output: one JSON object on stdout.
//
// usage: raft_load --kind etcd|shoal --endpoints H:P[,H:P...] [--clients 16]
//                  [--seconds 10] [--value-bytes 256] [--group 1]
#include <utility>  // first: Boost 1.74 awaitable.hpp uses std::exchange without it

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <sodium.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

struct Endpoint {
  std::string host;
  std::string port;
};

struct Options {
  std::string kind;
  std::vector<Endpoint> endpoints;
  int clients = 16;
  double seconds = 10;
  size_t value_bytes = 256;
  int group = 1;
  int timeout_ms = 2000;
  std::string token;  // shoal: the API token to send; empty: none
};

std::string base64(const std::string& raw) {
  std::string out(sodium_base64_encoded_len(raw.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), reinterpret_cast<const unsigned char*>(raw.data()),
                    raw.size(), sodium_base64_VARIANT_ORIGINAL);
  out.resize(out.size() - 1);  // the terminating NUL
  return out;
}

// What one client thread saw.
struct ClientResult {
  std::vector<double> latencies_ms;
  std::vector<Clock::time_point> acked_at;
  std::map<std::string, uint64_t> failures;  // by reason: "http 503", "timeout", ...
};

class Client {
 public:
  // Every client starts on the first endpoint (the driver lists the leader first).
  Client(const Options& o, int id) : o_(o), id_(id) {}

  void run(Clock::time_point until, ClientResult& out) {
    const std::string value(o_.value_bytes, static_cast<char>('a' + id_ % 26));
    for (uint64_t seq = 0; Clock::now() < until; ++seq) {
      const std::string key = "bench-" + std::to_string(id_) + "-" + std::to_string(seq);
      for (;;) {  // until acknowledged, or the run is over
        if (Clock::now() >= until) return;
        const auto start = Clock::now();
        std::string why = write(key, value);
        if (why.empty()) {
          const auto end = Clock::now();
          out.latencies_ms.push_back(std::chrono::duration<double, std::milli>(end - start).count());
          out.acked_at.push_back(end);
          break;
        }
        ++out.failures[why];
        stream_.reset();  // next endpoint, fresh connection
        buffer_.clear();
        endpoint_ = (endpoint_ + 1) % o_.endpoints.size();
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
    }
  }

 private:
  // Returns "" when the write was acknowledged, else why not.
  std::string write(const std::string& key, const std::string& value) {
    try {
      const Endpoint& ep = o_.endpoints[endpoint_];
      if (!stream_) {
        stream_.emplace(io_);
        tcp::resolver resolver(io_);
        auto addrs = resolver.resolve(ep.host, ep.port);
        stream_->expires_after(std::chrono::milliseconds(o_.timeout_ms));
        wait([&](auto done) { stream_->async_connect(addrs, [done](auto ec, auto) { done(ec); }); });
        stream_->socket().set_option(tcp::no_delay(true));
      }
      http::request<http::string_body> req;
      req.version(11);
      req.set(http::field::host, ep.host + ":" + ep.port);
      req.keep_alive(true);
      if (o_.kind == "etcd") {
        req.method(http::verb::post);
        req.target("/v3/kv/put");
        req.set(http::field::content_type, "application/json");
        req.body() = nlohmann::json{{"key", base64(key)}, {"value", base64(value)}}.dump();
      } else {
        req.method(http::verb::put);
        req.target("/v1/raft/groups/" + std::to_string(o_.group) + "/kv/" + key);
        req.set(http::field::content_type, "application/octet-stream");
        if (!o_.token.empty()) req.set(http::field::authorization, "Bearer " + o_.token);
        req.body() = value;
      }
      req.prepare_payload();
      // Beast's timeouts bound asynchronous operations only: run each one to completion.
      stream_->expires_after(std::chrono::milliseconds(o_.timeout_ms));
      wait([&](auto done) { http::async_write(*stream_, req, [done](auto ec, auto) { done(ec); }); });
      http::response<http::string_body> res;
      wait([&](auto done) {
        http::async_read(*stream_, buffer_, res, [done](auto ec, auto) { done(ec); });
      });
      if (!res.keep_alive()) stream_.reset();
      if (res.result_int() != 200) return "http " + std::to_string(res.result_int());
      // etcd's gateway answers 200 with an "error" member when the write failed.
      if (o_.kind == "etcd" && res.body().find("\"error\"") != std::string::npos) return "error body";
      return "";
    } catch (const beast::system_error& e) {
      return e.code() == beast::error::timeout ? "timeout" : e.code().message();
    } catch (const std::exception& e) {
      return e.what();
    }
  }

  // Starts one asynchronous operation and runs the loop until it completes; throws its error.
  template <typename Start>
  void wait(Start start) {
    beast::error_code result;
    start([&result](beast::error_code ec) { result = ec; });
    io_.restart();
    io_.run();
    if (result) throw beast::system_error(result);
  }

  const Options& o_;
  int id_;
  size_t endpoint_ = 0;
  net::io_context io_;
  std::optional<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_;
};

double percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t i = std::min(sorted.size() - 1, static_cast<size_t>(p * sorted.size()));
  return sorted[i];
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  std::string endpoints;
  CLI::App app{"raft_load: a write load for etcd and Shoal Raft groups"};
  app.add_option("--kind", o.kind, "etcd or shoal")->required()->check(CLI::IsMember({"etcd", "shoal"}));
  app.add_option("--endpoints", endpoints, "HOST:PORT[,HOST:PORT...], tried in turn on failure")
      ->required();
  app.add_option("--clients", o.clients, "concurrent clients")->check(CLI::Range(1, 1024));
  app.add_option("--seconds", o.seconds, "length of the run")->check(CLI::Range(0.1, 3600.0));
  app.add_option("--value-bytes", o.value_bytes, "bytes per value")->check(CLI::Range(1, 65536));
  app.add_option("--group", o.group, "shoal: the Raft group to write to");
  app.add_option("--timeout-ms", o.timeout_ms, "give up on one request after this long, then try "
                 "the next endpoint")->check(CLI::Range(10, 600000));
  CLI11_PARSE(app, argc, argv);
  if (const char* token = std::getenv("SHOAL_TOKEN"); token != nullptr) o.token = token;
  if (sodium_init() < 0) {
    std::fprintf(stderr, "raft_load: libsodium failed to initialize\n");
    return 1;
  }
  for (size_t start = 0; start < endpoints.size();) {
    size_t comma = endpoints.find(',', start);
    if (comma == std::string::npos) comma = endpoints.size();
    const std::string item = endpoints.substr(start, comma - start);
    const size_t colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size()) {
      std::fprintf(stderr, "raft_load: endpoint '%s' is not HOST:PORT\n", item.c_str());
      return 2;
    }
    o.endpoints.push_back({item.substr(0, colon), item.substr(colon + 1)});
    start = comma + 1;
  }

  std::vector<ClientResult> results(o.clients);
  std::vector<std::thread> threads;
  const auto begin = Clock::now();
  const auto until = begin + std::chrono::duration_cast<Clock::duration>(
                                 std::chrono::duration<double>(o.seconds));
  for (int i = 0; i < o.clients; ++i) {
    threads.emplace_back([&o, &results, i, until] { Client(o, i).run(until, results[i]); });
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - begin).count();

  std::vector<double> lat;
  std::vector<Clock::time_point> acks;
  nlohmann::json failures = nlohmann::json::object();
  for (auto& r : results) {
    lat.insert(lat.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    acks.insert(acks.end(), r.acked_at.begin(), r.acked_at.end());
    for (const auto& [why, n] : r.failures) failures[why] = failures.value(why, uint64_t{0}) + n;
  }
  std::sort(lat.begin(), lat.end());
  std::sort(acks.begin(), acks.end());
  // The largest stretch with no acknowledged write, from the start of the run to its end.
  acks.push_back(until);
  double max_gap_ms = 0;
  double max_gap_at_s = 0;
  auto prev = begin;
  for (auto t : acks) {
    const double gap = std::chrono::duration<double, std::milli>(t - prev).count();
    if (gap > max_gap_ms) {
      max_gap_ms = gap;
      max_gap_at_s = std::chrono::duration<double>(prev - begin).count();
    }
    prev = t;
  }
  nlohmann::json out = {{"kind", o.kind},
                        {"clients", o.clients},
                        {"seconds", elapsed},
                        {"writes", lat.size()},
                        {"failures", failures},
                        {"writes_per_s", elapsed > 0 ? lat.size() / elapsed : 0},
                        {"p50_ms", percentile(lat, 0.50)},
                        {"p99_ms", percentile(lat, 0.99)},
                        {"max_gap_ms", max_gap_ms},
                        {"max_gap_at_s", max_gap_at_s}};
  std::printf("%s\n", out.dump().c_str());
  return lat.empty() ? 1 : 0;
}
