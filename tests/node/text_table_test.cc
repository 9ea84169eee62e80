// Tests of node/text_table: CLI tables whose columns line up.
#include <catch2/catch.hpp>

#include "node/text_table.h"

using namespace shoal::node;

TEST_CASE("render_table pads columns to the widest cell", "[node][cli]") {
  const auto out = render_table({"Name", "Address", "Status"},
                                {{"a", "127.0.0.1:7946", "alive"}, {"long-name", "x", "failed"}});
  CHECK(out ==
        "Name       Address         Status\n"
        "a          127.0.0.1:7946  alive\n"
        "long-name  x               failed\n");
}

TEST_CASE("render_table: no trailing spaces, short rows, UTF-8 widths", "[node][cli]") {
  const auto out = render_table({"A", "B"}, {{"é", "x"}, {"ab"}, {"abc", ""}});
  CHECK(out ==
        "A    B\n"
        "é    x\n"
        "ab\n"
        "abc\n");
}

TEST_CASE("format_members_table renders the API's member list", "[node][cli]") {
  auto members = nlohmann::json::parse(R"([
    {"name": "node-a", "addr": "127.0.0.1:7946", "status": "alive",
     "tags": {"role": "web", "dc": "x"}},
    {"name": "b", "addr": "127.0.0.1:17946", "status": "left", "tags": {}}
  ])");
  CHECK(format_members_table(members) ==
        "Name    Address          Status  Tags\n"
        "node-a  127.0.0.1:7946   alive   dc=x,role=web\n"
        "b       127.0.0.1:17946  left\n");
  CHECK(format_members_table(nlohmann::json::array()) == "Name  Address  Status  Tags\n");
}
