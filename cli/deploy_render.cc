#include "cli/deploy_render.h"

#include "cli/human_units.h"

namespace shoal::cli {
namespace {

using nlohmann::json;

std::string text_of(const json& event, const char* key) {
  auto it = event.find(key);
  if (it == event.end() || it->is_null()) return "";
  return it->is_string() ? it->get<std::string>() : it->dump();
}

std::string short_digest(const json& event) {
  return text_of(event, "digest").substr(0, 12);
}

constexpr const char* kStep = "-----> ";
constexpr const char* kDetail = "       ";

}  // namespace

std::string render_deploy_event(const json& event) {
  const std::string kind = text_of(event, "event");
  if (kind == "received") {
    uint64_t bytes = 0;
    if (auto it = event.find("bytes"); it != event.end() && it->is_number_unsigned()) {
      bytes = it->get<uint64_t>();
    }
    return kStep + std::string("Received ") + format_bytes(bytes) + " (sha256 " +
           short_digest(event) + ")";
  }
  if (kind == "app_created") {
    return kStep + std::string("Created app ") + text_of(event, "app") + " (group " +
           text_of(event, "group") + ")";
  }
  if (kind == "build") {
    std::string out = kDetail;
    for (char c : text_of(event, "line")) {
      out += c;
      if (c == '\n') out += kDetail;  // a line with line breaks stays indented
    }
    return out;
  }
  if (kind == "release") {
    return kStep + std::string("Release v") + text_of(event, "version") + " (sha256 " +
           short_digest(event) + ")";
  }
  if (kind == "instance") {
    const std::string health = text_of(event, "health");
    return kDetail + text_of(event, "id") + " on " + text_of(event, "node") + ": " +
           text_of(event, "state") + (health.empty() ? "" : " (" + health + ")");
  }
  if (kind == "done") {
    const std::string n = text_of(event, "instances");
    return kStep + std::string("Done: v") + text_of(event, "release") + " is live with " + n +
           (n == "1" ? " instance" : " instances");
  }
  if (kind == "rollback") {
    return kStep + std::string("Rolled back: v") + text_of(event, "release") + " is the " +
           text_of(event, "description");
  }
  if (kind == "error") return "error: " + text_of(event, "message");
  return "";
}

bool DeployStream::feed(std::string_view piece, const Show& show) {
  if (ended_) return false;
  lines_.feed(piece, [&](std::string_view line) { return on_line(line, show); });
  return !ended_;
}

bool DeployStream::on_line(std::string_view line, const Show& show) {
  json event = json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!event.is_object() || !event.contains("event") || !event["event"].is_string()) {
    // A plain {"error": ...} is how the agent refuses before streaming; keep its words.
    if (event.is_object() && event.contains("error") && event["error"].is_string()) {
      outcome_ = Status::failed_precondition(event["error"].get<std::string>());
    } else {
      constexpr size_t kQuoteMax = 200;
      outcome_ = Status::corruption("the agent sent a line that is not a deploy event: " +
                                    std::string(line.substr(0, kQuoteMax)));
    }
    ended_ = true;
    return false;
  }
  const std::string kind = event["event"].get<std::string>();
  if (kind == "error") {
    outcome_ = Status::failed_precondition(text_of(event, "message"));
    ended_ = true;
    show(kind, line, "");  // the message is the outcome; the caller prints it as the error
    return false;
  }
  show(kind, line, render_deploy_event(event));
  if (kind == "done") {
    outcome_ = Status();
    ended_ = true;
    return false;
  }
  return true;
}

Status DeployStream::outcome() const { return outcome_; }

}  // namespace shoal::cli
