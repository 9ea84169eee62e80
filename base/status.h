// base/status.h
//
// Status: the one error type of every Shoal layer, and Result<T>: a value or a Status.
//
// Contract:
//  - An OK Status carries nothing and costs a null check; an error carries a code and a
//    message that names what was wrong (the input, the field, the limit), fit for a user.
//  - Functions that can fail return Status or Result<T>; exceptions never cross a module
//    boundary. A Result holding an error must not be dereferenced (asserted).
//  - Cheap to move; copying an error copies its message.
#pragma once

#include <cassert>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace shoal {

class Status {
 public:
  enum class Code : unsigned char {
    ok = 0,
    not_found,
    corruption,        // bytes that cannot be trusted: bad checksum, truncated, malformed
    invalid_argument,  // a caller (user, peer, config) asked for something that cannot be
    io_error,
    unavailable,       // try again later: no leader, peer unreachable, shutting down
    already_exists,
    failed_precondition,
    permission_denied,
    unauthenticated,   // no credentials, or ones nobody issued (HTTP 401)
    timeout,
    internal,
    resource_exhausted,  // a limit was reached; try again later (HTTP 429)
  };

  Status() = default;
  static Status ok_status() { return Status(); }
  static Status not_found(std::string_view msg) { return {Code::not_found, msg}; }
  static Status corruption(std::string_view msg) { return {Code::corruption, msg}; }
  static Status invalid_argument(std::string_view msg) { return {Code::invalid_argument, msg}; }
  static Status io_error(std::string_view msg) { return {Code::io_error, msg}; }
  static Status unavailable(std::string_view msg) { return {Code::unavailable, msg}; }
  static Status already_exists(std::string_view msg) { return {Code::already_exists, msg}; }
  static Status failed_precondition(std::string_view msg) {
    return {Code::failed_precondition, msg};
  }
  static Status permission_denied(std::string_view msg) {
    return {Code::permission_denied, msg};
  }
  static Status unauthenticated(std::string_view msg) { return {Code::unauthenticated, msg}; }
  static Status timeout(std::string_view msg) { return {Code::timeout, msg}; }
  static Status resource_exhausted(std::string_view msg) {
    return {Code::resource_exhausted, msg};
  }
  static Status internal(std::string_view msg) { return {Code::internal, msg}; }

  bool ok() const { return rep_ == nullptr; }
  Code code() const { return rep_ ? rep_->code : Code::ok; }
  const std::string& message() const;
  bool is(Code c) const { return code() == c; }

  // "corruption: truncated ping message" — for logs and CLI output.
  std::string to_string() const;
  static std::string_view code_name(Code c);

  // Prefixes the message with context, keeping the code: "push-pull from 1.2.3.4: ...".
  Status with_context(std::string_view context) const;

  Status(const Status& other)
      : rep_(other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr) {}
  Status& operator=(const Status& other) {
    if (this != &other) rep_ = other.rep_ ? std::make_unique<Rep>(*other.rep_) : nullptr;
    return *this;
  }
  Status(Status&&) noexcept = default;
  Status& operator=(Status&&) noexcept = default;

 private:
  struct Rep {
    Code code;
    std::string message;
  };
  Status(Code code, std::string_view msg)
      : rep_(std::make_unique<Rep>(Rep{code, std::string(msg)})) {}
  std::unique_ptr<Rep> rep_;  // null when ok
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Status status) : v_(std::move(status)) {  // NOLINT(google-explicit-constructor)
    assert(!std::get<Status>(v_).ok() && "a Result needs a value or an error");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  explicit operator bool() const { return ok(); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }

  T& value() & { assert(ok()); return std::get<T>(v_); }
  const T& value() const& { assert(ok()); return std::get<T>(v_); }
  T&& value() && { assert(ok()); return std::get<T>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace shoal

// Returns early from the enclosing function with the error of a Status expression.
#define SHOAL_RETURN_IF_ERROR(expr)              \
  do {                                           \
    ::shoal::Status shoal_status_ = (expr);      \
    if (!shoal_status_.ok()) return shoal_status_; \
  } while (0)
