#include "base/status.h"

namespace shoal {

const std::string& Status::message() const {
  static const std::string kEmpty;
  return rep_ ? rep_->message : kEmpty;
}

std::string_view Status::code_name(Code c) {
  switch (c) {
    case Code::ok: return "ok";
    case Code::not_found: return "not found";
    case Code::corruption: return "corruption";
    case Code::invalid_argument: return "invalid argument";
    case Code::io_error: return "io error";
    case Code::unavailable: return "unavailable";
    case Code::already_exists: return "already exists";
    case Code::failed_precondition: return "failed precondition";
    case Code::permission_denied: return "permission denied";
    case Code::unauthenticated: return "unauthenticated";
    case Code::timeout: return "timeout";
    case Code::resource_exhausted: return "resource exhausted";
    case Code::internal: return "internal";
  }
  return "unknown";
}

std::string Status::to_string() const {
  if (ok()) return "ok";
  std::string out(code_name(rep_->code));
  out += ": ";
  out += rep_->message;
  return out;
}

Status Status::with_context(std::string_view context) const {
  if (ok()) return Status();
  std::string msg(context);
  msg += ": ";
  msg += rep_->message;
  return Status(rep_->code, msg);
}

}  // namespace shoal
