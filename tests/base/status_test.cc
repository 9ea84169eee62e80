#include "base/status.h"

#include <catch2/catch.hpp>

namespace shoal {
namespace {

Result<int> parse_digit(char c) {
  if (c < '0' || c > '9') return Status::invalid_argument(std::string("not a digit: ") + c);
  return c - '0';
}

TEST_CASE("an ok status carries nothing", "[base]") {
  Status s;
  CHECK(s.ok());
  CHECK(s.to_string() == "ok");
}

TEST_CASE("an error status names its code and message", "[base]") {
  Status s = Status::corruption("truncated ping");
  CHECK_FALSE(s.ok());
  CHECK(s.is(Status::Code::corruption));
  CHECK(s.to_string() == "corruption: truncated ping");
  CHECK(s.with_context("packet from 127.0.0.1:7946").to_string() ==
        "corruption: packet from 127.0.0.1:7946: truncated ping");
  Status copy = s;
  CHECK(copy.message() == "truncated ping");
}

TEST_CASE("a result holds a value or an error", "[base]") {
  auto good = parse_digit('7');
  REQUIRE(good.ok());
  CHECK(*good == 7);
  auto bad = parse_digit('x');
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().is(Status::Code::invalid_argument));
}

}  // namespace
}  // namespace shoal
