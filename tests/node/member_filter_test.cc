// Tests of node/member_filter: serf-style filters (whole-value regexes, all must hold).
#include <catch2/catch.hpp>

#include "node/member_filter.h"

using namespace shoal;
using namespace shoal::node;

namespace {

gossip::Member member(std::string name, gossip::MemberStatus status,
                      std::map<std::string, std::string> tags) {
  gossip::Member m;
  m.name = std::move(name);
  m.status = status;
  m.tags = std::move(tags);
  return m;
}

}  // namespace

TEST_CASE("member filter: status, tag and name", "[node][filter]") {
  const std::vector<gossip::Member> all = {
      member("web-1", gossip::MemberStatus::alive, {{"role", "web"}}),
      member("web-2", gossip::MemberStatus::failed, {{"role", "web"}}),
      member("db-1", gossip::MemberStatus::alive, {{"role", "db"}, {"zone", "a"}}),
      member("cache", gossip::MemberStatus::left, {}),
  };
  auto names = [&](const MemberFilter& f) {
    std::vector<std::string> out;
    for (const auto& m : f.apply(all)) out.push_back(m.name);
    return out;
  };
  auto f = [](std::optional<std::string> s, std::vector<std::string> t,
              std::optional<std::string> n) {
    auto r = MemberFilter::create(s, t, n);
    REQUIRE(r.ok());
    return *r;
  };
  CHECK(names(f({}, {}, {})).size() == 4);
  CHECK(names(f("alive", {}, {})) == std::vector<std::string>{"web-1", "db-1"});
  CHECK(names(f({}, {"role=web"}, {})) == std::vector<std::string>{"web-1", "web-2"});
  CHECK(names(f({}, {"role=w.*"}, {})) == std::vector<std::string>{"web-1", "web-2"});
  CHECK(names(f({}, {"role=we"}, {})).empty());  // the whole value must match
  CHECK(names(f({}, {"zone=.*"}, {})) == std::vector<std::string>{"db-1"});  // tag required
  CHECK(names(f("alive", {"role=web|db"}, "web.*")) == std::vector<std::string>{"web-1"});
  CHECK(names(f({}, {}, "db-\\d")) == std::vector<std::string>{"db-1"});
}

TEST_CASE("member filter: bad input is named", "[node][filter]") {
  auto bad_status = MemberFilter::create("dead", {}, {});
  REQUIRE_FALSE(bad_status.ok());
  CHECK_THAT(bad_status.status().message(), Catch::Contains("'dead'"));
  auto bad_regex = MemberFilter::create({}, {"role=(web"}, {});
  REQUIRE_FALSE(bad_regex.ok());
  CHECK_THAT(bad_regex.status().message(), Catch::Contains("tag 'role'"));
  auto bad_tag = MemberFilter::create({}, {"role"}, {});
  REQUIRE_FALSE(bad_tag.ok());
  auto bad_name = MemberFilter::create({}, {}, std::string("[a"));
  REQUIRE_FALSE(bad_name.ok());
  CHECK_THAT(bad_name.status().message(), Catch::Contains("name pattern"));
}
