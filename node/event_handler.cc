#include "node/event_handler.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "node/script_process.h"

namespace shoal::node {
namespace {

// Serf keeps 8 KiB of a handler's output; so do we, per stream.
constexpr size_t kOutputMax = 8 * 1024;
constexpr size_t kLoggedOutputMax = 512;

// A value for a key="value" log field: quotes and control characters escaped, bounded.
std::string quoted(std::string_view s, size_t max = kLoggedOutputMax) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const char c = s[i];
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) {
      out += '.';
    } else {
      out += c;
    }
  }
  if (s.size() > max) out += "...";
  return out;
}

HandlerEvent to_handler_event(const AgentEvent& ev) {
  switch (ev.kind) {
    case AgentEvent::Kind::member:
      return gossip::MemberEventBatch{ev.member_type, {ev.member}};
    case AgentEvent::Kind::user:
      return ev.user;
    case AgentEvent::Kind::query:
      break;
  }
  return ev.query;
}

}  // namespace

EventHandlerRunner::EventHandlerRunner(Options options, Respond respond)
    : opt_(std::move(options)), respond_(std::move(respond)), coalescer_(opt_.coalesce) {
  for (const auto& spec : opt_.handlers) {
    auto w = std::make_unique<Worker>();
    w->spec = spec;
    workers_.push_back(std::move(w));
  }
  for (auto& w : workers_) w->thread = std::thread([this, w = w.get()] { worker_loop(*w); });
  dispatcher_ = std::thread([this] { dispatch_loop(); });
}

EventHandlerRunner::~EventHandlerRunner() { stop(); }

void EventHandlerRunner::submit(const AgentEvent& event, const gossip::Member& self) {
  std::vector<HandlerEvent> ready;
  std::lock_guard lock(mu_);
  if (stopping_) return;
  self_ = self;
  const TimePoint before = coalescer_.next_wakeup();
  coalescer_.push(to_handler_event(event), steady_now(), ready);
  route(ready);
  if (coalescer_.next_wakeup() != before) dispatch_wake_.notify_one();
}

void EventHandlerRunner::route(std::vector<HandlerEvent>& ready) {
  for (auto& ev : ready) {
    const EventKind kind = kind_of(ev);
    const std::string_view name = name_of(ev);
    for (auto& w : workers_) {
      if (!w->spec.matches(kind, name)) continue;
      if (w->queue.size() >= opt_.queue_max) {
        ++stats_.dropped;
        spdlog::warn("event-handler-failed script=\"{}\" event={} reason=\"queue full: {} "
                     "events wait for this handler; event dropped\"",
                     quoted(w->spec.script), describe(ev), w->queue.size());
        continue;
      }
      w->queue.push_back(Job{ev, self_});
      w->wake.notify_one();
    }
  }
  ready.clear();
}

void EventHandlerRunner::dispatch_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    const TimePoint next = coalescer_.next_wakeup();
    if (next == kTimeNever) {
      dispatch_wake_.wait(lock);
    } else {
      const Duration left = next - steady_now();
      if (left > Duration::zero()) dispatch_wake_.wait_for(lock, left);
    }
    if (stopping_) break;
    std::vector<HandlerEvent> ready;
    coalescer_.tick(steady_now(), ready);
    route(ready);
  }
}

void EventHandlerRunner::worker_loop(Worker& w) {
  std::unique_lock lock(mu_);
  for (;;) {
    w.wake.wait(lock, [&] { return stopping_ || !w.queue.empty(); });
    if (stopping_) return;
    Job job = std::move(w.queue.front());
    w.queue.pop_front();
    ++stats_.runs;
    lock.unlock();
    run_one(w.spec, job);
    lock.lock();
  }
}

void EventHandlerRunner::count_failure(bool timed_out) {
  std::lock_guard lock(mu_);
  ++stats_.failures;
  if (timed_out) ++stats_.timeouts;
}

void EventHandlerRunner::run_one(const EventHandlerSpec& spec, const Job& job) {
  const std::string event = describe(job.event);
  const ScriptInput input = render_script_input(job.event, job.self);
  const auto* query = std::get_if<gossip::QueryReceived>(&job.event);
  ScriptLimits limits;
  limits.timeout = opt_.timeout;
  limits.stdout_max = kOutputMax;
  limits.stderr_max = kOutputMax;
  // Enough of stdout to answer with, and to tell an answer that is too long.
  if (query != nullptr) limits.stdout_max = std::max(kOutputMax, query->max_payload + 1);
  limits.on_slow = [&](Duration running) {
    spdlog::warn("event-handler-slow script=\"{}\" event={} running_ms={}", quoted(spec.script),
                 event, to_millis(running));
  };

  const ScriptRun run = run_script(spec.script, input.env, input.stdin_data, limits, &stopping_);
  auto fail = [&](const std::string& reason) {
    count_failure(run.end == ScriptRun::End::timed_out);
    spdlog::warn("event-handler-failed script=\"{}\" event={} reason=\"{}\" took_ms={} "
                 "stdout=\"{}\" stderr=\"{}\"",
                 quoted(spec.script), event, quoted(reason), to_millis(run.took), quoted(run.out),
                 quoted(run.err));
  };
  if (!run.ok()) return fail(run.describe(limits));
  if (run.out_total > kOutputMax || run.err_total > kOutputMax) {
    spdlog::warn("event-handler-output-truncated script=\"{}\" event={} stdout_bytes={} "
                 "stderr_bytes={} kept={}",
                 quoted(spec.script), event, run.out_total, run.err_total, kOutputMax);
  }
  if (query != nullptr && run.out_total > 0) {
    if (run.out_total > query->max_payload) {
      return fail("the answer is " + std::to_string(run.out_total) +
                  " bytes; the query response limit is " + std::to_string(query->max_payload) +
                  " bytes, so it was not sent");
    }
    Status st = respond_(query->token, Bytes(run.out.begin(), run.out.end()));
    if (!st.ok()) return fail("answering the query: " + st.to_string());
  }
  spdlog::debug("event-handler-done script=\"{}\" event={} took_ms={} stdout=\"{}\" stderr=\"{}\"",
                quoted(spec.script), event, to_millis(run.took), quoted(run.out), quoted(run.err));
}

void EventHandlerRunner::stop() {
  {
    std::lock_guard lock(mu_);
    if (joined_) return;
    joined_ = true;
    stopping_ = true;
    std::vector<HandlerEvent> held;
    coalescer_.flush(held);
    size_t dropped = 0;
    for (const auto& ev : held) {
      for (auto& w : workers_) dropped += w->spec.matches(kind_of(ev), name_of(ev)) ? 1 : 0;
    }
    for (auto& w : workers_) {
      dropped += w->queue.size();
      w->queue.clear();
      w->wake.notify_all();
    }
    stats_.dropped += dropped;
    if (dropped > 0) spdlog::info("event-handlers-stopped dropped={}", dropped);
    dispatch_wake_.notify_all();
  }
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
  if (dispatcher_.joinable()) dispatcher_.join();
}

EventHandlerStats EventHandlerRunner::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

}  // namespace shoal::node
