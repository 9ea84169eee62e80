// tests/integration/chromium_browser.cc
//
// Every socket operation is asynchronous, run on a private io_context until it completes or
// a deadline passes: Beast's synchronous calls ignore tcp_stream expiry. One WebSocket read
// stays outstanding across calls rather than being cancelled at a deadline, because a read
// cancelled in the middle of a frame would leave the stream unusable.
#include "tests/integration/chromium_browser.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/core/detail/base64.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include "tests/support/process.h"

namespace shoal::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using nlohmann::json;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

struct ChromiumBrowser::Connection {
  asio::io_context ioc;
  beast::websocket::stream<beast::tcp_stream> ws{ioc};
  beast::flat_buffer buffer;
  bool reading = false;    // an async_read is outstanding
  bool read_done = false;  // it completed; `buffer` and `read_ec` are not processed yet
  beast::error_code read_ec;
  std::string out;  // the frame being written, which must outlive its async_write
  bool write_done = false;
  beast::error_code write_ec;
  bool broken = false;  // a read failed or a write failed or hung: no more commands
};

namespace {

// Runs `ioc` until `done` or `deadline`; false at the deadline (the operation stays pending).
bool run_until(asio::io_context& ioc, const bool& done, Clock::time_point deadline) {
  while (!done) {
    if (Clock::now() >= deadline) return false;
    if (ioc.stopped()) ioc.restart();
    ioc.run_one_until(deadline);
  }
  return true;
}

// Starts an operation with `start(handler)` and runs `ioc` until it completes. Only for
// operations bounded by a tcp_stream expiry (which closes the socket), so they always end.
template <class Start>
beast::error_code run_op(asio::io_context& ioc, Start start) {
  bool done = false;
  beast::error_code ec;
  start([&](beast::error_code e, auto&&...) { ec = e, done = true; });
  run_until(ioc, done, Clock::time_point::max());
  return ec;
}

asio::ip::tcp::endpoint loopback(int port) {
  return {asio::ip::make_address_v4("127.0.0.1"), static_cast<uint16_t>(port)};
}

Result<std::string> http_get(asio::io_context& ioc, int port, const std::string& target,
                             Clock::time_point deadline) {
  beast::tcp_stream stream(ioc);
  stream.expires_at(deadline);
  http::request<http::empty_body> req{http::verb::get, target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  beast::flat_buffer buf;
  http::response<http::string_body> res;
  auto ec = run_op(ioc, [&](auto h) { stream.async_connect(loopback(port), h); });
  if (!ec) ec = run_op(ioc, [&](auto h) { http::async_write(stream, req, h); });
  if (!ec) ec = run_op(ioc, [&](auto h) { http::async_read(stream, buf, res, h); });
  if (ec) return Status::unavailable("GET " + target + ": " + ec.message());
  return std::move(res.body());
}

// Error texts span lines (stack traces); the error list wants one line per error.
std::string one_line(const std::string& text) {
  std::string out;
  bool gap = false;
  for (char c : text) {
    if (std::isspace(static_cast<unsigned char>(c))) {
      gap = !out.empty();
    } else {
      out += gap ? std::string{' ', c} : std::string{c};
      gap = false;
    }
  }
  return out;
}

// A CDP RemoteObject (a console argument, an exception) as text.
std::string describe(const json& object) {
  if (object.contains("value")) {
    const json& v = object["value"];
    return v.is_string() ? v.get<std::string>() : v.dump();
  }
  for (const char* key : {"unserializableValue", "description", "type"}) {
    if (object.contains(key)) return object[key].get<std::string>();
  }
  return "?";
}

// Runtime.ExceptionDetails: the exception's description has the stack; `text` is a summary.
std::string exception_text(const json& details) {
  return details.contains("exception") ? describe(details["exception"])
                                       : details.value("text", "exception");
}

std::string quoted(const std::string& expression) {
  return "`" + (expression.size() <= 160 ? expression : expression.substr(0, 160) + "...") + "`";
}

std::string ms(milliseconds d) { return std::to_string(d.count()) + " ms"; }

bool truthy(const json& v) {
  if (v.is_boolean()) return v.get<bool>();
  if (v.is_number()) return v.get<double>() != 0;
  if (v.is_string()) return !v.get_ref<const std::string&>().empty();
  return !v.is_null();  // objects and arrays, even empty ones, as in JavaScript
}

}  // namespace

ChromiumBrowser::ChromiumBrowser() : conn_(std::make_unique<Connection>()) {}

ChromiumBrowser::~ChromiumBrowser() {
  conn_.reset();  // close the DevTools socket before the browser goes
  stop_process();
  if (!dir_.empty() && std::getenv("SHOAL_KEEP_TEST_DIRS") == nullptr) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

std::string ChromiumBrowser::log_path() const { return (dir_ / "chromium.log").string(); }

Result<std::unique_ptr<ChromiumBrowser>> ChromiumBrowser::launch(int width, int height) {
  const std::string exe = find_program("chromium");
  if (exe.find('/') == std::string::npos) return Status::unavailable("chromium not found on PATH");
  std::unique_ptr<ChromiumBrowser> b(new ChromiumBrowser);
  try {
    b->dir_ = make_temp_dir("shoal-chromium");
  } catch (const std::exception& e) {
    return Status::unavailable(e.what());
  }
  const std::filesystem::path profile = b->dir_ / "profile";
  const std::vector<std::string> argv = {
      exe, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
      "--no-default-browser-check", "--disable-background-networking",
      "--disable-component-update",
      "--disable-dev-shm-usage",  // containers often have a tiny /dev/shm
      "--remote-debugging-port=0", "--user-data-dir=" + profile.string(),
      "--window-size=" + std::to_string(width) + "," + std::to_string(height), "about:blank"};
  // Chromium's crash handler leaves the process group (it exits with the browser) and keeps
  // its database under XDG_CONFIG_HOME: point that into our dir, not the user's HOME.
  std::vector<std::string> env = {"XDG_CONFIG_HOME=" + (b->dir_ / "config").string()};
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "XDG_CONFIG_HOME=", 16) != 0) env.emplace_back(*e);
  }
  auto c_strings = [](const std::vector<std::string>& v) {
    std::vector<char*> out;
    for (const auto& s : v) out.push_back(const_cast<char*>(s.c_str()));
    out.push_back(nullptr);
    return out;
  };
  std::vector<char*> args = c_strings(argv), envp = c_strings(env);
  // Our own fork, not spawn(): chromium's zygotes, renderers and GPU process must share a
  // process group of their own to be killed together.
  const int log_fd = ::open(b->log_path().c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC,
                            0644);
  const int null_fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const pid_t pid = log_fd < 0 || null_fd < 0 ? -1 : ::fork();
  if (pid == 0) {  // only async-signal-safe calls until exec
    ::setsid();
    ::dup2(null_fd, 0), ::dup2(log_fd, 1), ::dup2(log_fd, 2);
    ::execve(args[0], args.data(), envp.data());
    ::_exit(127);
  }
  const int error = errno;
  if (log_fd >= 0) ::close(log_fd);
  if (null_fd >= 0) ::close(null_fd);
  if (pid < 0) return Status::unavailable("cannot start chromium: " + std::string(std::strerror(error)));
  b->pid_ = pid;

  const auto deadline = Clock::now() + std::chrono::seconds(20);
  const std::string see_log = "; chromium log: " + b->log_path();
  // First the port chromium listens on, then the WebSocket path of its about:blank page.
  int port = 0;
  std::string ws_path;
  Status last = Status::unavailable("no DevToolsActivePort");
  while (ws_path.empty()) {
    siginfo_t info{};
    // WNOWAIT: the zombie keeps its pid, so the group id stays ours until stop_process().
    if (::waitid(P_PID, pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid) {
      return Status::unavailable("chromium exited (status " + std::to_string(info.si_status) +
                                 ") before opening DevTools" + see_log);
    }
    if (Clock::now() >= deadline) {
      return Status::unavailable("DevTools not up within 20 s: " + last.message() + see_log);
    }
    if (port == 0) {
      std::ifstream in(profile / "DevToolsActivePort");
      std::string line;
      // Only a line ended by its newline is known to be complete.
      if (std::getline(in, line) && !in.eof()) port = std::atoi(line.c_str());
    } else {
      auto list = http_get(b->conn_->ioc, port, "/json/list", deadline);
      last = list.ok() ? Status::unavailable("no page target listed") : list.status();
      const json targets = list.ok() ? json::parse(*list, nullptr, false) : json();
      for (const json& t : targets.is_array() ? targets : json::array()) {
        const std::string url = t.value("webSocketDebuggerUrl", "");
        const size_t at = url.find("/devtools/");
        if (t.value("type", "") == "page" && at != std::string::npos) ws_path = url.substr(at);
      }
    }
    if (ws_path.empty()) std::this_thread::sleep_for(milliseconds(50));
  }

  Connection& c = *b->conn_;
  auto& tcp = beast::get_lowest_layer(c.ws);
  tcp.expires_at(deadline);
  const std::string host = "127.0.0.1:" + std::to_string(port);
  auto ec = run_op(c.ioc, [&](auto h) { tcp.async_connect(loopback(port), h); });
  if (!ec) ec = run_op(c.ioc, [&](auto h) { c.ws.async_handshake(host, ws_path, h); });
  if (ec) return Status::unavailable("DevTools " + ws_path + ": " + ec.message() + see_log);
  // From here each call has its own deadline; an expiry would close the socket under the
  // outstanding read.
  tcp.expires_never();
  c.ws.read_message_max(64 << 20);  // a full-page screenshot is several MB of base64

  // The viewport of a --window-size window is smaller than the window (857 of 1000 px high
  // with Chromium 156): the override makes it exactly width x height.
  const std::pair<std::string, json> setup[] = {
      {"Runtime.enable", json::object()}, {"Log.enable", json::object()},
      {"Page.enable", json::object()},
      {"Emulation.setDeviceMetricsOverride",
       {{"width", width}, {"height", height}, {"deviceScaleFactor", 1}, {"mobile", false}}}};
  for (const auto& [method, params] : setup) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    auto r = b->call(method, params, std::max(left, milliseconds(1)));
    if (!r.ok()) return r.status().with_context("DevTools setup");
  }
  return b;
}

void ChromiumBrowser::stop_process() {
  if (pid_ <= 0) return;
  // The group is gone when our child is reaped (its zombie would still count as a member)
  // and no member is left to signal. The child itself is signalled too, in case it has not
  // reached setsid() yet.
  bool reaped = false;
  auto gone_within = [&](milliseconds limit) {
    for (const auto until = Clock::now() + limit; Clock::now() < until;) {
      reaped = reaped || ::waitpid(pid_, nullptr, WNOHANG) != 0;
      if (reaped && ::kill(-pid_, 0) != 0) return true;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return false;
  };
  for (int sig : {SIGTERM, SIGKILL}) {
    ::kill(-pid_, sig);
    if (!reaped) ::kill(pid_, sig);
    if (gone_within(milliseconds(sig == SIGTERM ? 3000 : 5000))) break;
  }
  pid_ = -1;
}

Status ChromiumBrowser::read_one(Clock::time_point deadline) {
  Connection& c = *conn_;
  if (c.broken) return Status::unavailable("DevTools connection lost; chromium log: " + log_path());
  if (!c.reading && !c.read_done) {
    c.reading = true;
    c.ws.async_read(c.buffer, [cp = &c](beast::error_code ec, std::size_t) {
      cp->read_ec = ec, cp->reading = false, cp->read_done = true;
    });
  }
  if (!run_until(c.ioc, c.read_done, deadline)) return Status::timeout("no DevTools message");
  c.read_done = false;
  if (c.read_ec) {
    c.broken = true;
    return Status::unavailable("DevTools connection lost (" + c.read_ec.message() +
                               "); chromium log: " + log_path());
  }
  json message = json::parse(beast::buffers_to_string(c.buffer.data()), nullptr, false);
  c.buffer.consume(c.buffer.size());
  if (!message.is_object()) return Status();
  if (!message.contains("id")) {
    on_event(message);
  } else if (message["id"] == awaited_id_) {
    last_reply_ = std::move(message);
  }  // else a late reply to a call that timed out
  return Status();
}

Result<json> ChromiumBrowser::call(const std::string& method, const json& params,
                                   milliseconds timeout) {
  Connection& c = *conn_;
  if (c.broken) return Status::unavailable(method + ": DevTools connection lost");
  const auto deadline = Clock::now() + timeout;
  const int id = next_id_++;
  c.out = json{{"id", id}, {"method", method}, {"params", params}}.dump();
  c.write_done = false;
  c.ws.async_write(asio::buffer(c.out), [cp = &c](beast::error_code ec, std::size_t) {
    cp->write_ec = ec, cp->write_done = true;
  });
  // A write still pending makes the next one illegal, so a write gets at least 2 s even
  // under a shorter timeout, and one hung beyond that ends the connection.
  if (!run_until(c.ioc, c.write_done, std::max(deadline, Clock::now() + milliseconds(2000))) ||
      c.write_ec) {
    c.broken = true;
    return Status::unavailable(method + ": cannot send to DevTools; chromium log: " + log_path());
  }
  awaited_id_ = id;
  last_reply_ = nullptr;
  while (last_reply_.is_null()) {
    Status s = read_one(deadline);
    if (s.is(Status::Code::timeout)) {
      return Status::timeout(method + ": no reply within " + ms(timeout));
    }
    if (!s.ok()) return s.with_context(method);
  }
  json reply = std::move(last_reply_);
  last_reply_ = nullptr, awaited_id_ = 0;
  if (reply.contains("error")) {
    const json& e = reply["error"];
    std::string text = e.value("message", e.dump());
    if (e.contains("data")) text += " (" + describe({{"value", e["data"]}}) + ")";
    return Status::internal(method + ": " + text);
  }
  return reply.value("result", json::object());
}

void ChromiumBrowser::on_event(const json& message) {
  const std::string method = message.value("method", "");
  const json params = message.value("params", json::object());
  if (method == "Page.loadEventFired") {
    loaded_ = true;
  } else if (method == "Runtime.consoleAPICalled") {
    const std::string type = params.value("type", "");
    if (type != "error" && type != "assert") return;
    std::string line = "console." + type + ":";
    for (const json& arg : params.value("args", json::array())) line += " " + describe(arg);
    errors_.push_back(one_line(line));
  } else if (method == "Runtime.exceptionThrown") {
    const json d = params.value("exceptionDetails", json::object());
    std::string text = exception_text(d);
    if (!d.value("url", "").empty()) {
      text += " at " + d.value("url", "") + ":" + std::to_string(d.value("lineNumber", 0) + 1);
    }
    errors_.push_back(one_line("uncaught exception: " + text));
  } else if (method == "Log.entryAdded") {
    const json entry = params.value("entry", json::object());
    if (entry.value("level", "") != "error") return;
    std::string line = "browser log (" + entry.value("source", "?") + "): ";
    line += entry.value("text", "");
    if (!entry.value("url", "").empty()) line += " [" + entry.value("url", "") + "]";
    errors_.push_back(one_line(line));
  }
}

Status ChromiumBrowser::navigate(const std::string& url, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  loaded_ = false;
  auto r = call("Page.navigate", {{"url", url}}, timeout);
  if (!r.ok()) return r.status().with_context("navigate to " + url);
  const std::string error = r->value("errorText", "");
  if (!error.empty()) return Status::unavailable("navigate to " + url + ": " + error);
  if (!r->contains("loaderId")) return Status();  // same document: no load event comes
  while (!loaded_) {
    Status s = read_one(deadline);
    if (s.is(Status::Code::timeout)) {
      return Status::timeout("no load event of " + url + " within " + ms(timeout));
    }
    if (!s.ok()) return s.with_context("navigate to " + url);
  }
  return Status();
}

Result<json> ChromiumBrowser::evaluate(const std::string& expression, milliseconds timeout) {
  auto r = call("Runtime.evaluate",
                {{"expression", expression}, {"returnByValue", true}, {"awaitPromise", true}},
                timeout);
  if (!r.ok()) return r.status().with_context("evaluate " + quoted(expression));
  if (r->contains("exceptionDetails")) {
    return Status::failed_precondition(quoted(expression) + " threw: " +
                                       one_line(exception_text((*r)["exceptionDetails"])));
  }
  return r->value("result", json::object()).value("value", json(nullptr));
}

Result<json> ChromiumBrowser::wait_for(const std::string& expression, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string last = "never evaluated";
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now());
    if (left <= milliseconds(0)) break;
    auto r = evaluate(expression, left);
    if (r.ok() && truthy(*r)) return r;
    if (r.status().is(Status::Code::unavailable)) return r.status();
    last = r.ok() ? "last value " + r->dump() : "last error: " + r.status().to_string();
    if (Clock::now() + milliseconds(100) >= deadline) break;
    std::this_thread::sleep_for(milliseconds(100));
  }
  return Status::timeout(quoted(expression) + " not truthy within " + ms(timeout) + "; " + last);
}

std::vector<std::string> ChromiumBrowser::console_errors() {
  // A round trip through the renderer: its reply comes after every event it sent before.
  (void)call("Runtime.evaluate", {{"expression", "0"}}, milliseconds(2000));
  return errors_;
}

Result<std::string> ChromiumBrowser::screenshot(bool full_page) {
  json params = {{"format", "png"}};
  if (full_page) {
    auto m = call("Page.getLayoutMetrics", json::object(), milliseconds(10000));
    if (!m.ok()) return m.status();
    const json size = m->value("cssContentSize", m->value("contentSize", json::object()));
    params["captureBeyondViewport"] = true;
    params["clip"] = {{"x", 0}, {"y", 0}, {"scale", 1},
                      {"width", std::ceil(size.value("width", 1.0))},
                      {"height", std::ceil(size.value("height", 1.0))}};
  }
  auto r = call("Page.captureScreenshot", params, milliseconds(30000));
  if (!r.ok()) return r.status();
  const std::string data = r->value("data", "");
  namespace base64 = beast::detail::base64;
  std::string png(base64::decoded_size(data.size()), '\0');
  const auto [written, used] = base64::decode(png.data(), data.data(), data.size());
  // decode() stops at the '=' padding, so it must have used everything before that.
  if (data.empty() || used != data.find_last_not_of('=') + 1) {
    return Status::corruption("Page.captureScreenshot: data is not base64");
  }
  png.resize(written);
  return png;
}

}  // namespace shoal::test
