// Tests of node/data_dir: creation, the lock, and the node id.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

#include "node/data_dir.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::node;

namespace {

struct TempDir {
  TempDir() : path(test::make_temp_dir("shoal-datadir")) {}
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::filesystem::path path;
};

}  // namespace

TEST_CASE("data dir: created 0700 with a stable node id", "[node][datadir]") {
  TempDir tmp;
  const auto dir = tmp.path / "a" / "b";
  std::string id;
  {
    auto d = DataDir::open(dir);
    REQUIRE(d.ok());
    id = (*d)->node_id();
    CHECK(id.size() == 32);
    struct stat st {};
    REQUIRE(::stat(dir.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
  }
  auto again = DataDir::open(dir);
  REQUIRE(again.ok());
  CHECK((*again)->node_id() == id);
}

TEST_CASE("data dir: a second holder is refused, naming the holder", "[node][datadir]") {
  TempDir tmp;
  auto first = DataDir::open(tmp.path);
  REQUIRE(first.ok());
  auto second = DataDir::open(tmp.path);
  REQUIRE_FALSE(second.ok());
  CHECK(second.status().code() == Status::Code::failed_precondition);
  CHECK_THAT(second.status().message(),
             Catch::Contains("in use by another agent") &&
                 Catch::Contains("pid " + std::to_string(::getpid())));
  first->reset();  // releasing the lock lets the next one in
  CHECK(DataDir::open(tmp.path).ok());
}

TEST_CASE("data dir: a damaged node-id file is corruption, not a new id", "[node][datadir]") {
  TempDir tmp;
  std::ofstream(tmp.path / "node-id") << "not-an-id\n";
  auto d = DataDir::open(tmp.path);
  REQUIRE_FALSE(d.ok());
  CHECK(d.status().code() == Status::Code::corruption);
  CHECK_THAT(d.status().message(), Catch::Contains("node-id"));
}

TEST_CASE("data dir: a path that is a file is refused", "[node][datadir]") {
  TempDir tmp;
  std::ofstream(tmp.path / "file") << "x";
  auto d = DataDir::open(tmp.path / "file");
  REQUIRE_FALSE(d.ok());
  CHECK_THAT(d.status().message(), Catch::Contains("file"));
}
