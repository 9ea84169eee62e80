// tests/integration/chromium_browser.h
//
// ChromiumBrowser: a headless Chromium driven over the Chrome DevTools Protocol, for the
// integration tests that check what a browser sees of a page (UI, scripts, CSP, console).
//
// Contract:
//  - One browser per object: its own process group (killed with SIGTERM, then SIGKILL after
//    3 s, by the destructor) and a fresh profile in a temp dir, removed unless
//    SHOAL_KEEP_TEST_DIRS is set. Only loopback is used; runs as root (--no-sandbox).
//  - Synchronous and not thread-safe: one test thread drives it. Each call sends one or a few
//    commands and reads the socket until their replies arrive, recording the events that
//    come meanwhile (page errors, load events). Every wait is bounded by a timeout.
//  - Errors: unavailable if the browser cannot be started or the DevTools connection is
//    lost; timeout if no answer in time; internal for a CDP error reply (naming the method);
//    failed_precondition for an exception thrown by evaluated JavaScript (naming its text).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "base/status.h"

namespace shoal::test {

class ChromiumBrowser {
 public:
  // Starts headless Chromium with a fresh profile and connects to its about:blank page, whose
  // viewport is then exactly width x height CSS px (scale 1). Unavailable, naming the step
  // that failed and the log, if chromium is not on PATH or does not come up within 20 s.
  static Result<std::unique_ptr<ChromiumBrowser>> launch(int width = 1400, int height = 1000);
  ~ChromiumBrowser();

  ChromiumBrowser(const ChromiumBrowser&) = delete;
  ChromiumBrowser& operator=(const ChromiumBrowser&) = delete;

  // Navigates the page and waits for its load event (a same-document navigation, e.g. a new
  // #fragment, has none and returns at once). A failed load (refused, DNS) is unavailable.
  Status navigate(const std::string& url, std::chrono::milliseconds timeout);

  // Runtime.evaluate of `expression` in the page, awaiting a returned promise. The value as
  // JSON: null for undefined and for what JSON cannot hold (NaN, Infinity, bigint); DOM
  // nodes come back as {}.
  Result<nlohmann::json> evaluate(const std::string& expression,
                                  std::chrono::milliseconds timeout = std::chrono::seconds(10));

  // Evaluates `expression` every 100 ms until its value is truthy (not null, false, 0 or "")
  // and returns that value. Exceptions and CDP errors count as "not yet" (the page may be
  // mid-navigation or not rendered yet); a lost connection ends the wait. Timeout naming
  // the expression and its last value or error otherwise.
  Result<nlohmann::json> wait_for(const std::string& expression,
                                  std::chrono::milliseconds timeout);

  // Every error the page reported so far, one line each, oldest first: console.error and
  // console.assert calls, uncaught exceptions, and browser log entries of level "error"
  // (failed requests, CSP violations). Reads the events still in flight first.
  std::vector<std::string> console_errors();

  // PNG bytes of the page. full_page: the whole content, beyond the viewport.
  Result<std::string> screenshot(bool full_page = false);

  // Chromium's stdout and stderr, for an INFO when a test fails.
  std::string log_path() const;

 private:
  struct Connection;  // the WebSocket and its io_context, in the .cc
  ChromiumBrowser();

  Result<nlohmann::json> call(const std::string& method, const nlohmann::json& params,
                              std::chrono::milliseconds timeout);
  Status read_one(std::chrono::steady_clock::time_point deadline);
  void on_event(const nlohmann::json& message);
  void stop_process();

  std::filesystem::path dir_;  // holds profile/ and chromium.log
  pid_t pid_ = -1;             // also the process group id (the child calls setsid)
  std::unique_ptr<Connection> conn_;
  int next_id_ = 1;
  nlohmann::json last_reply_;  // set by read_one when a reply with id awaited_id_ arrives
  int awaited_id_ = 0;
  bool loaded_ = false;  // a Page.loadEventFired was seen since the last navigate()
  std::vector<std::string> errors_;
};

}  // namespace shoal::test
