#include "node/log_stream.h"

#include <spdlog/spdlog.h>

namespace shoal::node {

std::shared_ptr<LogStream> log_stream() {
  static auto stream = std::make_shared<LogStream>();
  return stream;
}

void LogStream::set_console_level(spdlog::level::level_enum level) {
  std::lock_guard<std::mutex> lock(mutex_);
  console_level_ = level;
  update_logger_level_locked();
}

uint64_t LogStream::subscribe(spdlog::level::level_enum level, Callback cb) {
  std::lock_guard<std::mutex> lock(mutex_);
  const uint64_t id = ++next_id_;
  subs_[id] = Sub{level, std::move(cb)};
  update_logger_level_locked();
  return id;
}

void LogStream::unsubscribe(uint64_t id) {
  std::lock_guard<std::mutex> lock(mutex_);
  subs_.erase(id);
  update_logger_level_locked();
}

void LogStream::update_logger_level_locked() {
  auto level = console_level_;
  for (const auto& [id, sub] : subs_) level = std::min(level, sub.level);
  if (auto logger = spdlog::default_logger()) logger->set_level(level);
}

void LogStream::sink_it_(const spdlog::details::log_msg& msg) {
  if (subs_.empty()) return;
  spdlog::memory_buf_t buf;
  formatter_->format(msg, buf);
  const std::string line(buf.data(), buf.size());
  bool removed = false;
  for (auto it = subs_.begin(); it != subs_.end();) {
    if (msg.level < it->second.level) {
      ++it;
    } else if (it->second.cb(line)) {
      ++it;
    } else {
      it = subs_.erase(it);
      removed = true;
    }
  }
  if (removed) update_logger_level_locked();
}

}  // namespace shoal::node
