// Tests of node/supervisor/isolation: the uid mapping, exact directory modes whatever the
// umask, no symlink followed, the sealing of the data dir, private files, and an instance's
// environment. None needs root.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "node/supervisor/assignment.h"
#include "node/supervisor/isolation.h"
#include "tests/support/process.h"

using namespace shoal;
using namespace shoal::node::supervisor;
namespace fs = std::filesystem;

namespace {

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

// Sets the umask for one test and puts the old one back.
struct Umask {
  explicit Umask(mode_t m) : old(::umask(m)) {}
  ~Umask() { ::umask(old); }
  mode_t old;
};

struct TempDir {
  fs::path path = shoal::test::make_temp_dir("shoal-iso");
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

TEST_CASE("isolation: each app's uid comes from its group's seq, wrapping at 4000",
          "[supervisor][isolation]") {
  CHECK(app_uid(kAppGroupBase + 3) == 61003);
  CHECK(app_uid(kAppGroupBase + 0) == 61000);
  CHECK(app_uid(kAppGroupBase + 3999) == 64999);
  CHECK(app_uid(kAppGroupBase + 4003) == 61003);
  CHECK(app_uid(0) == 61000);  // no assignment yet
}

TEST_CASE("isolation: make_dir gives exactly the mode asked, whatever the umask",
          "[supervisor][isolation]") {
  TempDir t;
  SECTION("a permissive umask does not widen it") {
    Umask u(0);
    REQUIRE(make_dir(t.path / "a", kAppDirMode).ok());
    CHECK(mode_of(t.path / "a") == 0710);
  }
  SECTION("a strict umask does not narrow it") {
    Umask u(077);
    REQUIRE(make_dir(t.path / "a", kTraverseDirMode).ok());
    CHECK(mode_of(t.path / "a") == 0711);
  }
  SECTION("an existing directory is set to the mode, not left as it was") {
    fs::create_directory(t.path / "a");
    ::chmod((t.path / "a").c_str(), 0777);
    REQUIRE(make_dir(t.path / "a", kPrivateDirMode).ok());
    CHECK(mode_of(t.path / "a") == 0700);
  }
  SECTION("a missing parent is an error, not created") {
    CHECK_FALSE(make_dir(t.path / "no" / "a", kPrivateDirMode).ok());
    CHECK_FALSE(fs::exists(t.path / "no"));
  }
}

TEST_CASE("isolation: make_dir never follows a symlink an app left in its place",
          "[supervisor][isolation]") {
  TempDir t;
  // What an app might point its HOME/tmp at, hoping for a chmod or chown of it.
  const fs::path target = t.path / "target";
  fs::create_directory(target);
  ::chmod(target.c_str(), 0755);
  fs::create_directory_symlink(target, t.path / "tmp");
  Status s = make_dir(t.path / "tmp", kPrivateDirMode, static_cast<int>(::geteuid()),
                      static_cast<int>(::getegid()));
  CHECK(s.is(Status::Code::failed_precondition));
  CHECK(s.message().find("symlink") != std::string::npos);
  CHECK(mode_of(target) == 0755);

  std::ofstream(t.path / "file") << "x";
  CHECK(make_dir(t.path / "file", kPrivateDirMode).is(Status::Code::failed_precondition));
}

TEST_CASE("isolation: sealing the data dir closes every entry but the apps' ways in",
          "[supervisor][isolation]") {
  TempDir t;
  Umask u(0);
  const fs::path data = t.path / "data";
  fs::create_directory(data);
  for (const char* d : {"raft", "agent", "supervisor", "releases"}) {
    fs::create_directory(data / d);
    ::chmod((data / d).c_str(), 0755);
  }
  ::chmod((data / "supervisor").c_str(), 0711);
  std::ofstream(data / "keyring.json") << "[\"key\"]";
  ::chmod((data / "keyring.json").c_str(), 0644);
  std::ofstream(data / "node-id") << "id";
  ::chmod((data / "node-id").c_str(), 0600);
  // A symlink is not followed: what it points at keeps its mode.
  const fs::path outside = t.path / "outside";
  std::ofstream(outside) << "x";
  ::chmod(outside.c_str(), 0644);
  fs::create_symlink(outside, data / "link");

  auto sealed = seal_data_dir(data, {"supervisor", "releases"});
  REQUIRE(sealed.ok());
  std::vector<std::string> names = *sealed;
  std::sort(names.begin(), names.end());
  CHECK(names == std::vector<std::string>{"agent", "keyring.json", "raft"});
  CHECK(mode_of(data / "raft") == 0700);
  CHECK(mode_of(data / "agent") == 0700);
  CHECK(mode_of(data / "keyring.json") == 0600);
  CHECK(mode_of(data / "node-id") == 0600);
  CHECK(mode_of(data / "supervisor") == 0711);
  CHECK(mode_of(data / "releases") == 0755);
  CHECK(mode_of(outside) == 0644);

  // Idempotent: a second pass finds nothing to do.
  auto again = seal_data_dir(data, {"supervisor", "releases"});
  REQUIRE(again.ok());
  CHECK(again->empty());
  CHECK_FALSE(seal_data_dir(t.path / "missing", {}).ok());
}

TEST_CASE("isolation: a private file is 0600 from the start and replaced whole",
          "[supervisor][isolation]") {
  TempDir t;
  Umask u(0);
  const fs::path p = t.path / "spec.json";
  // A temp file an older agent left with a wider mode does not pass it on.
  std::ofstream(p.string() + ".tmp") << "old";
  ::chmod((p.string() + ".tmp").c_str(), 0644);
  REQUIRE(write_private_file(p, "{\"env\": {\"SECRET\": \"s3cr3t\"}}").ok());
  CHECK(mode_of(p) == 0600);
  CHECK(shoal::test::read_file(p) == "{\"env\": {\"SECRET\": \"s3cr3t\"}}");
  CHECK_FALSE(fs::exists(p.string() + ".tmp"));
  REQUIRE(write_private_file(p, "new").ok());
  CHECK(shoal::test::read_file(p) == "new");
  CHECK(mode_of(p) == 0600);
}

TEST_CASE("isolation: an instance's environment is its own and the platform's, nothing else",
          "[supervisor][isolation]") {
  // The agent's own environment has no way in: the result is built from the arguments only.
  ::setenv("SHOAL_TEST_AGENT_ONLY", "agent-secret", 1);
  InstanceIdentity who{"web-app", "web.2", "web", 7, 20001, "/data/supervisor/instances/web-app/web.2/home"};
  const std::map<std::string, std::string> app_env = {
      {"DATABASE_URL", "postgres://u:pw@db/x"}, {"GREETING", "hi"},
      // An app cannot pass itself off as another, nor move its home or port.
      {"PORT", "1"}, {"HOME", "/root"}, {"TMPDIR", "/tmp"}, {"SHOAL_APP", "other"},
      {"SHOAL_RELEASE", "1"}, {"SHOAL_INSTANCE", "x.1"}, {"SHOAL_PROCESS_TYPE", "x"}};
  const auto env = instance_environment(who, app_env);
  ::unsetenv("SHOAL_TEST_AGENT_ONLY");

  const std::map<std::string, std::string> want = {
      {"PATH", kDefaultPath},
      {"DATABASE_URL", "postgres://u:pw@db/x"},
      {"GREETING", "hi"},
      {"PORT", "20001"},
      {"HOME", "/data/supervisor/instances/web-app/web.2/home"},
      {"TMPDIR", "/data/supervisor/instances/web-app/web.2/home/tmp"},
      {"SHOAL_APP", "web-app"},
      {"SHOAL_RELEASE", "7"},
      {"SHOAL_INSTANCE", "web.2"},
      {"SHOAL_PROCESS_TYPE", "web"}};
  CHECK(env == want);
  for (const auto& name : platform_env_names()) CHECK(env.count(name) == 1);

  // PATH is a default the app may replace.
  const auto own_path = instance_environment(who, {{"PATH", "/app/bin:/usr/bin"}});
  CHECK(own_path.at("PATH") == "/app/bin:/usr/bin");
}

TEST_CASE("isolation: remove_tree removes symlinks inside, never what they point at",
          "[supervisor][isolation]") {
  TempDir t;
  const fs::path keep = t.path / "keep";
  fs::create_directories(keep / "inner");
  std::ofstream(keep / "inner" / "file") << "precious";
  const fs::path home = t.path / "home";
  fs::create_directories(home / "a" / "b" / "c");
  std::ofstream(home / "a" / "b" / "c" / "f") << "x";
  std::ofstream(home / "top") << "x";
  fs::create_directory_symlink(keep, home / "a" / "link-dir");
  fs::create_symlink(keep / "inner" / "file", home / "link-file");
  // An app's read-only directory does not stop root (without root it would).
  if (::geteuid() == 0) ::chmod((home / "a" / "b").c_str(), 0500);

  REQUIRE(remove_tree(home).ok());
  CHECK(fs::symlink_status(home).type() == fs::file_type::not_found);
  CHECK(shoal::test::read_file(keep / "inner" / "file") == "precious");

  // Missing is fine; a symlink given as the tree itself is removed, not followed.
  CHECK(remove_tree(home).ok());
  fs::create_directory_symlink(keep, t.path / "home-link");
  REQUIRE(remove_tree(t.path / "home-link").ok());
  CHECK(fs::symlink_status(t.path / "home-link").type() == fs::file_type::not_found);
  CHECK(shoal::test::read_file(keep / "inner" / "file") == "precious");
}
