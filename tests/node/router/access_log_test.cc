// The router's access log (node/router/access_log.h): lines reach the file on flush, in
// whole batches, stamped with the UTC time; past max_bytes the file moves to PATH.1 and
// starts anew; a path that cannot be opened is an error naming it.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>

#include "node/router/access_log.h"
#include "tests/support/process.h"

namespace shoal::test::router {

using node::router::AccessLog;
using node::router::AccessLogFile;

TEST_CASE("access log: lines are written on flush, stamped, and rotated past max_bytes",
          "[router]") {
  const auto dir = make_temp_dir("shoal-access-log");
  const auto path = (dir / "access.log").string();
  auto file = AccessLogFile::open(path, 1000);
  REQUIRE(file.ok());
  {
    AccessLog log(*file);
    REQUIRE(log.on());
    log.add({.app = "alpha",
             .instance = "web.1",
             .method = "GET",
             .path = "/a b\x01" "c",
             .status = 200,
             .bytes_in = 0,
             .bytes_out = 13,
             .seconds = 0.01234,
             .request_id = "n1-00000001-1",
             .client = "127.0.0.1",
             .host = ""});
    CHECK(read_file(path).empty());  // buffered until a flush
    log.flush();
    const std::string first = read_file(path);
    const std::string fields =
        "app=alpha instance=web.1 method=GET path=/a_b_c status=200 bytes_in=0 bytes_out=13 "
        "ms=12.3 request_id=n1-00000001-1 client=127.0.0.1 host=-\n";
    REQUIRE(first.size() == std::string("2026-12-07T00:06:45.181Z ").size() + fields.size());
    CHECK(first[4] == '-');
    CHECK(first[10] == 'T');
    CHECK(first.find("Z " + fields) == 23);

    // 20 lines in batches of 5: the file turns over once it would pass 1000 bytes.
    for (int batch = 0; batch < 4; ++batch) {
      for (int i = 0; i < 5; ++i) {
        log.add({.app = "n" + std::to_string(batch * 5 + i), .status = 200});
      }
      log.flush();
    }
  }  // the destructor flushes what is left (nothing here)
  const std::string current = read_file(path);
  const std::string previous = read_file(path + ".1");
  CHECK(current.size() <= 1000);
  CHECK(previous.size() <= 1000);
  CHECK_FALSE(previous.empty());
  CHECK(current.find("app=n19 ") != std::string::npos);  // the newest line is in the file
  CHECK(previous.find("app=n19 ") == std::string::npos);
  std::filesystem::remove_all(dir);
}

TEST_CASE("access log: the destructor flushes, a bad path is an error naming it", "[router]") {
  const auto dir = make_temp_dir("shoal-access-log");
  const auto path = (dir / "access.log").string();
  {
    auto file = AccessLogFile::open(path, 1 << 20);
    REQUIRE(file.ok());
    AccessLog log(*file);
    log.add({.app = "last", .host = "words"});
  }
  CHECK(read_file(path).find("app=last ") != std::string::npos);
  CHECK(read_file(path).find("host=words\n") != std::string::npos);

  auto bad = AccessLogFile::open((dir / "missing" / "access.log").string(), 1 << 20);
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message().find("missing/access.log") != std::string::npos);
  std::filesystem::remove_all(dir);

  AccessLog off(nullptr);
  CHECK_FALSE(off.on());
  off.flush();  // nothing to do, nowhere to write
}

}  // namespace shoal::test::router
