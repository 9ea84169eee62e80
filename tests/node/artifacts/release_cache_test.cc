#include "node/artifacts/release_cache.h"

#include <sys/stat.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <thread>

#include "node/artifacts/builder.h"
#include "node/artifacts/http_artifacts.h"
#include "node/http_server.h"
#include "tests/node/artifacts/artifact_test_util.h"

namespace shoal::node {
namespace {

using test::read_file;
using test::TarWriter;
using test::TempDir;
using test::write_file;
namespace fs = std::filesystem;

std::unique_ptr<ArtifactStore> open_store(const fs::path& dir) {
  auto s = ArtifactStore::open(dir);
  REQUIRE(s.ok());
  return std::move(*s);
}

ReleaseCacheOptions test_options(const TempDir& t) {
  ReleaseCacheOptions o;
  o.packages_lock = t / "packages.lock";
  return o;
}

std::string pack_into(ArtifactStore& store, const TempDir& t, const fs::path& dir) {
  const fs::path tgz = t / "packed.tar.gz";
  REQUIRE(pack_directory(dir, tgz).ok());
  auto d = store.put_file(tgz, /*move=*/true);
  REQUIRE(d.ok());
  return *d;
}

TEST_CASE("release cache: four threads prepare one release, it is fetched and unpacked once",
          "[artifacts]") {
  TempDir t;
  auto origin = open_store(t / "origin");
  auto local = open_store(t / "data/artifacts");
  write_file(t / "app/server.py", "print('serving')\n");
  write_file(t / "app/Procfile", "web: python3 server.py\n");
  const std::string d = pack_into(*origin, t, t / "app");
  HttpRouter router;
  std::atomic<int> gets{0};
  router.add("GET", "/v1/internal/artifacts/{digest}",
             [&](const HttpRequest& req, std::shared_ptr<HttpResponder> r) {
               ++gets;
               serve_artifact(req, *r, *origin);
             });
  auto server = HttpServer::start(*gossip::Address::parse("127.0.0.1", 0), std::move(router));
  REQUIRE(server.ok());
  const std::string peer = "127.0.0.1:" + std::to_string((*server)->address().port);

  ReleaseCache cache(t / "data", *local, test_options(t));
  std::vector<std::thread> threads;
  std::vector<Result<fs::path>> results(4, Status::internal("not run"));
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&, i] { results[i] = cache.prepare("hello", 3, d, {peer}); });
  }
  for (auto& th : threads) th.join();
  for (auto& r : results) {
    INFO(r.status().to_string());
    REQUIRE(r.ok());
    CHECK(*r == t / "data/releases/hello" / d);
  }
  CHECK(cache.unpacks() == 1);
  CHECK(gets == 1);
  CHECK(read_file(t / "data/releases/hello" / d / "server.py") == "print('serving')\n");
  // Again: already there, nothing done.
  REQUIRE(cache.prepare("hello", 4, d, {}).ok());
  CHECK(cache.unpacks() == 1);

  SECTION("remove_unused keeps what it is told to") {
    write_file(t / "app2/x", "other");
    const std::string d2 = pack_into(*local, t, t / "app2");
    REQUIRE(cache.prepare("hello", 5, d2, {}).ok());
    REQUIRE(cache.remove_unused("hello", {d2}).ok());
    CHECK_FALSE(fs::exists(t / "data/releases/hello" / d));
    CHECK(fs::exists(t / "data/releases/hello" / d2 / "x"));
  }
}

TEST_CASE("release cache: a single executable becomes DIR/app, mode 0755", "[artifacts]") {
  TempDir t;
  auto store = open_store(t / "data/artifacts");
  const std::string d = store->put_bytes("#!/bin/sh\necho hi\n").value();
  ReleaseCache cache(t / "data", *store, test_options(t));
  auto dir = cache.prepare("bin-app", 1, d, {});
  INFO(dir.status().to_string());
  REQUIRE(dir.ok());
  const fs::path exe = *dir / kExecutableName;
  CHECK(read_file(exe) == "#!/bin/sh\necho hi\n");
  struct stat st;
  REQUIRE(::stat(exe.c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0755);
}

TEST_CASE("release cache: bad input is refused and leaves nothing", "[artifacts]") {
  TempDir t;
  auto store = open_store(t / "data/artifacts");
  ReleaseCache cache(t / "data", *store, test_options(t));
  const std::string d = store->put_bytes("x").value();
  CHECK(cache.prepare("../etc", 1, d, {}).status().is(Status::Code::invalid_argument));
  CHECK(cache.prepare("Hello", 1, d, {}).status().is(Status::Code::invalid_argument));
  CHECK(cache.prepare("ok", 1, "../../x", {}).status().is(Status::Code::invalid_argument));
  auto unknown = cache.prepare("ok", 1, d, {});  // "x" is neither tarball nor executable
  CHECK(unknown.status().message().find("neither a tar.gz nor an executable") != std::string::npos);
  CHECK(unknown.status().message().find("release v1 of ok") != std::string::npos);

  TarWriter(t / "evil.tar.gz").file("ok", "fine").file("../escape", "x").close();
  const std::string evil = store->put_file(t / "evil.tar.gz").value();
  auto refused = cache.prepare("ok", 2, evil, {});
  CHECK(refused.status().message().find("'../escape'") != std::string::npos);
  CHECK_FALSE(fs::exists(t / "data/releases/ok" / evil));
  CHECK_FALSE(fs::exists(t / "data/releases/escape"));
  CHECK(fs::is_empty(t / "data/releases/ok"));

  auto absent = cache.prepare("ok", 3, std::string(64, 'e'), {});
  CHECK(absent.status().is(Status::Code::unavailable));
}

TEST_CASE("ensure_packages: installed is a no-op, a missing name is named", "[artifacts]") {
  TempDir t;
  auto store = open_store(t / "data/artifacts");
  ReleaseCache cache(t / "data", *store, test_options(t));
  CHECK(cache.ensure_packages({}).ok());
  Status installed = cache.ensure_packages({"coreutils", "dpkg"});
  INFO(installed.to_string());
  CHECK(installed.ok());
  Status missing = cache.ensure_packages({"coreutils", "shoal-no-such-package-zz"});
  CHECK(missing.is(Status::Code::invalid_argument));
  CHECK(missing.message() ==
        "package 'shoal-no-such-package-zz' does not exist in the apt sources");
  Status option = cache.ensure_packages({"-oAPT::Foo=1"});
  CHECK(option.is(Status::Code::invalid_argument));
  CHECK(option.message().find("not a Debian package name") != std::string::npos);
  CHECK(cache.ensure_packages({"a;rm -rf /"}).is(Status::Code::invalid_argument));
  CHECK(is_valid_package_name("libc6:amd64"));
  CHECK(is_valid_package_name("g++"));
  CHECK_FALSE(is_valid_package_name("A"));
}

TEST_CASE("build_slug: success streams lines and stores the slug", "[artifacts]") {
  TempDir t;
  auto store = open_store(t / "artifacts");
  write_file(t / "src/.shoalignore", "cache/\n");
  write_file(t / "src/in.txt", "source");
  const std::string source = pack_into(*store, t, t / "src");
  std::vector<std::string> lines;
  auto r = build_slug(*store, source,
                      "echo building; echo to-stderr >&2; mkdir cache; echo built > cache/out; "
                      "printf 'no newline at the end'",
                      {{"BUILD_VAR", "v"}}, t / "work",
                      [&](std::string_view l) { lines.emplace_back(l); }, std::chrono::seconds(20));
  INFO(r.status().to_string());
  REQUIRE(r.ok());
  CHECK(r->built);
  CHECK(r->slug_digest != source);
  CHECK(lines == std::vector<std::string>{"building", "to-stderr", "no newline at the end"});
  CHECK(r->output_lines == 3);
  REQUIRE(extract_archive(store->path(r->slug_digest), t / "slug").ok());
  CHECK(read_file(t / "slug/in.txt") == "source");
  CHECK(read_file(t / "slug/cache/out") == "built\n");  // .shoalignore does not apply
  CHECK(fs::is_empty(t / "work"));

  SECTION("the environment reaches the command") {
    std::vector<std::string> env_lines;
    auto e = build_slug(*store, source, "echo \"$BUILD_VAR\"", {{"BUILD_VAR", "from-env"}},
                        t / "work", [&](std::string_view l) { env_lines.emplace_back(l); },
                        std::chrono::seconds(20));
    REQUIRE(e.ok());
    CHECK(env_lines == std::vector<std::string>{"from-env"});
  }
  SECTION("no build command: the slug is the source") {
    auto same = build_slug(*store, source, "", {}, t / "work", nullptr, std::chrono::seconds(5));
    REQUIRE(same.ok());
    CHECK_FALSE(same->built);
    CHECK(same->slug_digest == source);
  }
}

TEST_CASE("build_slug: failure names the exit code and keeps nothing", "[artifacts]") {
  TempDir t;
  auto store = open_store(t / "artifacts");
  write_file(t / "src/in.txt", "source");
  const std::string source = pack_into(*store, t, t / "src");
  const auto blobs_before = store->list();
  std::vector<std::string> lines;
  auto r = build_slug(*store, source, "echo about to fail; exit 3", {}, t / "work",
                      [&](std::string_view l) { lines.emplace_back(l); }, std::chrono::seconds(20));
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().is(Status::Code::failed_precondition));
  CHECK(r.status().message().rfind("build command failed with exit code 3", 0) == 0);
  CHECK(r.status().message().find("about to fail") != std::string::npos);
  CHECK(lines == std::vector<std::string>{"about to fail"});
  CHECK(store->list() == blobs_before);
  CHECK(fs::is_empty(t / "work"));

  SECTION("past the timeout it is killed") {
    auto slow = build_slug(*store, source, "sleep 30", {}, t / "work", nullptr,
                           std::chrono::milliseconds(300));
    REQUIRE_FALSE(slow.ok());
    CHECK(slow.status().message().find("timed out") != std::string::npos);
    CHECK(fs::is_empty(t / "work"));
  }
  SECTION("a source not in the store") {
    CHECK(build_slug(*store, std::string(64, 'c'), "true", {}, t / "work", nullptr,
                     std::chrono::seconds(5))
              .status()
              .is(Status::Code::not_found));
  }
}

}  // namespace
}  // namespace shoal::node
