#include "node/apps/command_result.h"

#include <fmt/format.h>

namespace shoal::node::apps {

std::string_view error_code_name(ErrorCode code) {
  switch (code) {
    case ErrorCode::exists:
      return "exists";
    case ErrorCode::not_found:
      return "not_found";
    case ErrorCode::invalid:
      return "invalid";
    case ErrorCode::conflict:
      return "conflict";
  }
  return "invalid";
}

Bytes encode_command(const nlohmann::json& command) { return nlohmann::json::to_msgpack(command); }

Result<nlohmann::json> decode_command(ByteView data) {
  if (data.empty()) return Status::invalid_argument("empty command");
  if (data.size() > kMaxCommandBytes) {
    return Status::invalid_argument(
        fmt::format("command of {} bytes is over the limit of {}", data.size(), kMaxCommandBytes));
  }
  nlohmann::json j = nlohmann::json::from_msgpack(data.begin(), data.end(), /*strict=*/true,
                                                  /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::invalid_argument("command is not valid msgpack");
  if (!j.is_object()) return Status::invalid_argument("command is not a msgpack map");
  return j;
}

Bytes ok_result(nlohmann::json fields) {
  nlohmann::json body = nlohmann::json::object();
  if (fields.is_object()) body = std::move(fields);
  body["ok"] = true;
  return nlohmann::json::to_msgpack(body);
}

Bytes error_result(ErrorCode code, std::string_view message) {
  return nlohmann::json::to_msgpack(
      nlohmann::json{{"error", message}, {"code", error_code_name(code)}});
}

Bytes error_result(const Status& status) {
  ErrorCode code = ErrorCode::invalid;
  if (status.is(Status::Code::already_exists)) code = ErrorCode::exists;
  if (status.is(Status::Code::not_found)) code = ErrorCode::not_found;
  if (status.is(Status::Code::failed_precondition)) code = ErrorCode::conflict;
  return error_result(code, status.message());
}

CommandResult decode_result(ByteView data) {
  CommandResult r;
  if (data.empty()) {
    r.status =
        Status::corruption("empty result (the entry was not applied by an apps state machine)");
    return r;
  }
  nlohmann::json j = nlohmann::json::from_msgpack(data.begin(), data.end(), true, false);
  if (j.is_discarded() || !j.is_object()) {
    r.status = Status::corruption("result is not a msgpack map");
    return r;
  }
  auto ok = j.find("ok");
  if (ok != j.end() && ok->is_boolean() && ok->get<bool>()) {
    r.body = std::move(j);
    return r;
  }
  auto err = j.find("error");
  auto code = j.find("code");
  if (err == j.end() || !err->is_string() || code == j.end() || !code->is_string()) {
    r.status = Status::corruption("result has neither \"ok\": true nor an error and its code");
    return r;
  }
  const std::string& msg = err->get_ref<const std::string&>();
  const std::string& c = code->get_ref<const std::string&>();
  if (c == "exists") {
    r.status = Status::already_exists(msg);
  } else if (c == "not_found") {
    r.status = Status::not_found(msg);
  } else if (c == "conflict") {
    r.status = Status::failed_precondition(msg);
  } else if (c == "invalid") {
    r.status = Status::invalid_argument(msg);
  } else {
    r.status = Status::corruption("result has unknown error code '" + c + "': " + msg);
  }
  r.body = std::move(j);
  return r;
}

}  // namespace shoal::node::apps
