// cli/deploy_render.h
//
// DeployStream: follows the NDJSON progress stream of POST /v1/apps/{app}/deploy
// (docs/apps.md, "Deploy progress stream") and says what to print for each event and how
// the deploy ended.
//
// Contract:
//  - feed() takes the answer's body piece by piece; for each event it calls `show` with the
//    event's name, the raw line and the text for people ("" for nothing to print, e.g. an
//    event this CLI does not know yet, so newer agents still work; "" for `error`, whose
//    message is the outcome). It returns false once the stream is over:
//    after `done`, after `error`, or at a line that is not a JSON object with a string
//    "event" (then outcome() is corruption naming the line).
//  - outcome(): ok after `done`; failed_precondition with the agent's message after
//    `error`; unavailable while neither arrived (a stream that ended early).
//  - Not thread-safe; pure apart from calling `show`.
#pragma once

#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/status.h"
#include "cli/ndjson_lines.h"

namespace shoal::cli {

class DeployStream {
 public:
  using Show = std::function<void(const std::string& event, std::string_view raw_line,
                                  const std::string& text)>;

  bool feed(std::string_view piece, const Show& show);
  Status outcome() const;
  bool ended() const { return ended_; }

 private:
  bool on_line(std::string_view line, const Show& show);
  NdjsonLines lines_;
  bool ended_ = false;
  Status outcome_ = Status::unavailable("the agent closed the deploy stream before it said done or error");
};

// The text for one event object ("" for an event this CLI does not show). Lines after the
// first of a multi-line text are indented alike.
std::string render_deploy_event(const nlohmann::json& event);

}  // namespace shoal::cli
