// node/log_stream.h
//
// LogStream: the agent's log lines, fanned out to live subscribers (`shoal monitor`,
// GET /v1/agent/monitor). It is an spdlog sink installed beside the console sink by
// setup_logging(); each subscriber asks for its own minimum level, and the logger's level
// follows the lowest level anyone (console or subscriber) wants.
//
// Contract:
//  - Thread-safe. Callbacks run on whatever thread logged, under the sink's lock: they
//    must be quick and must not log (queue the line, e.g. HttpResponder::write).
//  - A callback returning false is removed.
#pragma once

#include <spdlog/sinks/base_sink.h>

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

namespace shoal::node {

class LogStream final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  using Callback = std::function<bool(const std::string& line)>;

  // `console_level`: the level the console sink shows; the logger never goes above it.
  void set_console_level(spdlog::level::level_enum level);
  uint64_t subscribe(spdlog::level::level_enum level, Callback cb);
  void unsubscribe(uint64_t id);

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override;
  void flush_() override {}

 private:
  void update_logger_level_locked();
  struct Sub {
    spdlog::level::level_enum level;
    Callback cb;
  };
  spdlog::level::level_enum console_level_ = spdlog::level::info;
  std::map<uint64_t, Sub> subs_;
  uint64_t next_id_ = 0;
};

// The process's log stream (created on first use; setup_logging installs it).
std::shared_ptr<LogStream> log_stream();

}  // namespace shoal::node
