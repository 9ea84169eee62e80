#include "node/artifacts/archive.h"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstring>

#include "tests/node/artifacts/artifact_test_util.h"

namespace shoal::node {
namespace {

using test::read_file;
using test::TarWriter;
using test::TempDir;
using test::write_file;
namespace fs = std::filesystem;

mode_t mode_of(const fs::path& p) {
  struct stat st;
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

TEST_CASE("pack and extract round-trip files, modes and inside symlinks", "[artifacts]") {
  TempDir t;
  const fs::path src = t / "src";
  write_file(src / "app.py", "print('hi')\n");
  write_file(src / "bin/run", "#!/bin/sh\necho run\n", 0755);
  write_file(src / "deep/a/b/c.txt", "deep");
  write_file(src / std::string(120, 'n'), "long name");  // needs a pax header
  write_file(src / "suid", "x", 04755);
  fs::create_directories(src / "empty");
  fs::create_symlink("bin/run", src / "run-link");
  fs::create_symlink("../../deep", src / "deep/a/up");         // deep/a/up -> deep: inside
  fs::create_symlink("/etc/passwd", src / "abs-link");          // leaves: skipped
  fs::create_symlink("../outside", src / "out-link");           // leaves: skipped
  REQUIRE(::mkfifo((src / "fifo").c_str(), 0644) == 0);        // not packable: skipped
  write_file(src / ".git/HEAD", "ref: refs/heads/main\n");

  PackStats stats;
  const fs::path tgz = t / "out.tar.gz";
  REQUIRE(pack_directory(src, tgz, &stats).ok());
  CHECK(stats.files == 5);
  CHECK(stats.symlinks == 2);
  CHECK(stats.dirs == 5);  // bin deep deep/a deep/a/b empty
  CHECK(stats.ignored == 1);  // .git
  CHECK(stats.skipped.size() == 3);
  CHECK(detect_kind(tgz).value() == ArtifactKind::tar_gz);

  const fs::path dest = t / "dest";
  Status s = extract_archive(tgz, dest);
  INFO(s.to_string());
  REQUIRE(s.ok());
  CHECK(read_file(dest / "app.py") == "print('hi')\n");
  CHECK(read_file(dest / "deep/a/b/c.txt") == "deep");
  CHECK(read_file(dest / std::string(120, 'n')) == "long name");
  CHECK(mode_of(dest) == 0755);  // not mkdtemp's 0700: the app's own user reads it
  CHECK(mode_of(dest / "bin/run") == 0755);
  CHECK(mode_of(dest / "app.py") == 0644);
  CHECK(mode_of(dest / "suid") == 0755);  // setuid dropped
  CHECK(fs::is_directory(dest / "empty"));
  CHECK(fs::read_symlink(dest / "run-link") == "bin/run");
  CHECK(read_file(dest / "run-link") == "#!/bin/sh\necho run\n");
  CHECK(fs::read_symlink(dest / "deep/a/up") == "../../deep");
  CHECK_FALSE(fs::exists(fs::symlink_status(dest / "abs-link")));
  CHECK_FALSE(fs::exists(fs::symlink_status(dest / "out-link")));
  CHECK_FALSE(fs::exists(dest / "fifo"));
  CHECK_FALSE(fs::exists(dest / ".git"));
  // No temporary directory is left next to dest.
  size_t siblings = 0;
  for (const auto& e : fs::directory_iterator(t.path())) siblings += e.path().filename().string()[0] == '.';
  CHECK(siblings == 0);

  SECTION("a second extraction to an existing dest is refused") {
    CHECK(extract_archive(tgz, dest).is(Status::Code::already_exists));
  }
}

TEST_CASE("packing is deterministic: same tree, same bytes, whatever the mtimes", "[artifacts]") {
  TempDir t;
  write_file(t / "src/b.txt", "b");
  write_file(t / "src/a/z.txt", "z");
  write_file(t / "src/a/y.txt", "y");
  REQUIRE(pack_directory(t / "src", t / "1.tar.gz").ok());
  fs::last_write_time(t / "src/b.txt", fs::file_time_type::clock::now() - std::chrono::hours(5));
  REQUIRE(pack_directory(t / "src", t / "2.tar.gz").ok());
  const std::string one = read_file(t / "1.tar.gz"), two = read_file(t / "2.tar.gz");
  CHECK(one == two);
  REQUIRE(one.size() > 8);
  CHECK(std::memcmp(one.data() + 4, "\0\0\0\0", 4) == 0);  // no gzip timestamp
}

TEST_CASE(".shoalignore leaves out what it names", "[artifacts]") {
  TempDir t;
  const fs::path src = t / "src";
  write_file(src / ".shoalignore",
             "# comment\n\n*.pyc\nnode_modules/\n/build\ndocs/tmp\n!keep.pyc\nlogs\n");
  write_file(src / "app.py", "x");
  write_file(src / "app.pyc", "x");
  write_file(src / "pkg/mod.pyc", "x");
  write_file(src / "keep.pyc", "x");
  write_file(src / "node_modules/a/index.js", "x");
  write_file(src / "sub/node_modules/b.js", "x");
  write_file(src / "node_modules_file", "x");  // not a dir: the dir-only rule misses it
  write_file(src / "build/out.o", "x");
  write_file(src / "sub/build/kept.o", "x");   // /build is anchored at the root
  write_file(src / "docs/tmp/x", "x");
  write_file(src / "docs/readme", "x");
  write_file(src / "logs", "x");               // a file named logs
  write_file(src / "sub/logs/today", "x");     // and a dir named logs, anywhere
  PackStats stats;
  REQUIRE(pack_directory(src, t / "o.tar.gz", &stats).ok());
  REQUIRE(extract_archive(t / "o.tar.gz", t / "d").ok());
  const fs::path d = t / "d";
  CHECK(fs::exists(d / "app.py"));
  CHECK(fs::exists(d / ".shoalignore"));
  CHECK_FALSE(fs::exists(d / "app.pyc"));
  CHECK_FALSE(fs::exists(d / "pkg/mod.pyc"));
  CHECK(fs::exists(d / "keep.pyc"));
  CHECK_FALSE(fs::exists(d / "node_modules"));
  CHECK_FALSE(fs::exists(d / "sub/node_modules"));
  CHECK(fs::exists(d / "node_modules_file"));
  CHECK_FALSE(fs::exists(d / "build"));
  CHECK(fs::exists(d / "sub/build/kept.o"));
  CHECK_FALSE(fs::exists(d / "docs/tmp"));
  CHECK(fs::exists(d / "docs/readme"));
  CHECK_FALSE(fs::exists(d / "logs"));
  CHECK_FALSE(fs::exists(d / "sub/logs"));

  SECTION("odd lines are harmless") {
    const auto rules = IgnoreRules::parse("!\n/\n**/\n!/\n   \r\n**/cache\n");
    CHECK(rules.size() == 1);
    CHECK(rules.ignored("a/cache", true));
    CHECK_FALSE(rules.ignored("a/b", false));
  }
  SECTION("the builder packs everything") {
    PackOptions all;
    all.honour_ignore_file = false;
    REQUIRE(pack_directory(src, t / "all.tar.gz", nullptr, all).ok());
    REQUIRE(extract_archive(t / "all.tar.gz", t / "all").ok());
    CHECK(fs::exists(t / "all/app.pyc"));
    CHECK(fs::exists(t / "all/build/out.o"));
  }
}

// Extracts `tgz` expecting a refusal that names `entry` and says `why`; checks that
// nothing is left at dest or beside it.
void expect_refused(const TempDir& t, const fs::path& tgz, const std::string& entry,
                    const std::string& why, const ExtractLimits& limits = {}) {
  const fs::path dest = t / "dest";
  Status s = extract_archive(tgz, dest, limits);
  INFO(s.to_string());
  CHECK(s.is(Status::Code::invalid_argument));
  CHECK(s.message().find("'" + entry + "'") != std::string::npos);
  CHECK(s.message().find(why) != std::string::npos);
  CHECK_FALSE(fs::exists(fs::symlink_status(dest)));
  for (const auto& e : fs::directory_iterator(t.path())) {
    CHECK(e.path().filename().string().find(".tmp-") == std::string::npos);
  }
  CHECK_FALSE(fs::exists(fs::symlink_status(t / "x")));
  CHECK_FALSE(fs::exists(fs::symlink_status(t / "escaped")));
}

TEST_CASE("hostile archives are refused, naming the entry, leaving nothing", "[artifacts]") {
  TempDir t;
  const fs::path tgz = t / "evil.tar.gz";
  SECTION("a .. component") {
    TarWriter(tgz).file("ok.txt", "fine").file("../x", "escape").close();
    expect_refused(t, tgz, "../x", "'..'");
  }
  SECTION("a .. in the middle") {
    TarWriter(tgz).file("a/../../x", "escape").close();
    expect_refused(t, tgz, "a/../../x", "'..'");
  }
  SECTION("an absolute path") {
    TarWriter(tgz).file("/etc/x", "escape").close();
    expect_refused(t, tgz, "/etc/x", "absolute");
  }
  SECTION("a symlink out, then a file through it") {
    TarWriter(tgz).symlink("l", "../../etc").file("l/x", "escape").close();
    expect_refused(t, tgz, "l", "leaves the archive root");
  }
  SECTION("an absolute symlink") {
    TarWriter(tgz).symlink("l", "/etc").close();
    expect_refused(t, tgz, "l", "absolute path '/etc'");
  }
  SECTION("a file through an inside symlink") {
    TarWriter(tgz).dir("sub").symlink("l", "sub").file("l/x", "x").close();
    expect_refused(t, tgz, "l/x", "not a directory");
  }
  SECTION("a hardlink out") {
    TarWriter(tgz).hardlink("h", "../../etc/passwd").close();
    expect_refused(t, tgz, "h", "leaves the root");
  }
  SECTION("a hardlink to an absolute path") {
    TarWriter(tgz).hardlink("h", "/etc/passwd").close();
    expect_refused(t, tgz, "h", "leaves the root");
  }
  SECTION("a hardlink to something not extracted") {
    TarWriter(tgz).hardlink("h", "nothing").close();
    expect_refused(t, tgz, "h", "not a file extracted before");
  }
  SECTION("a device") {
    TarWriter(tgz).special("dev/sda", AE_IFBLK).close();
    expect_refused(t, tgz, "dev/sda", "block device");
  }
  SECTION("a fifo") {
    TarWriter(tgz).special("f", AE_IFIFO).close();
    expect_refused(t, tgz, "f", "fifo");
  }
  SECTION("the same file twice") {
    TarWriter(tgz).file("a", "1").file("a", "2").close();
    expect_refused(t, tgz, "a", "appears twice");
  }
  SECTION("past the size limit") {
    const std::string mib(1 << 20, '\0');
    TarWriter(tgz).file("z1", mib).file("z2", mib).file("z3", mib).close();
    ExtractLimits limits;
    limits.max_total_bytes = 2 * (1 << 20) + 100;
    expect_refused(t, tgz, "z3", "limit of", limits);
  }
  SECTION("too many entries") {
    {
      TarWriter w(tgz);
      for (int i = 0; i < 50; ++i) w.file("f" + std::to_string(i), "x");
      w.close();
    }
    ExtractLimits limits;
    limits.max_entries = 20;
    Status s = extract_archive(tgz, t / "dest", limits);
    CHECK(s.is(Status::Code::invalid_argument));
    CHECK(s.message().find("more than 20 entries") != std::string::npos);
    CHECK_FALSE(fs::exists(t / "dest"));
  }
}

// A ustar header whose size field claims 3 GiB, followed by a few bytes: a bomb that is
// refused from its header, before anything is written (default 2 GiB limit).
TEST_CASE("a 3 GiB entry is refused from its header", "[artifacts]") {
  TempDir t;
  const fs::path tar = t / "bomb.tar";
  TarWriter(tar, /*gzip=*/false).file("bomb", std::string(1024, '\0')).close();
  std::string bytes = read_file(tar);
  REQUIRE(bytes.size() >= 1536);
  std::memcpy(&bytes[124], "30000000000", 12);  // 3 GiB in octal, NUL-terminated
  std::memset(&bytes[148], ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; ++i) sum += static_cast<unsigned char>(bytes[i]);
  std::snprintf(&bytes[148], 8, "%06o", sum);
  write_file(tar, bytes.substr(0, 2048));
  expect_refused(t, tar, "bomb", "limit of 2147483648 bytes");
}

TEST_CASE("a truncated or foreign stream is corruption", "[artifacts]") {
  TempDir t;
  write_file(t / "src/a", std::string(100000, 'a'));
  REQUIRE(pack_directory(t / "src", t / "ok.tar.gz").ok());
  const std::string whole = read_file(t / "ok.tar.gz");
  write_file(t / "cut.tar.gz", whole.substr(0, whole.size() / 2));
  CHECK(extract_archive(t / "cut.tar.gz", t / "d1").is(Status::Code::corruption));
  CHECK_FALSE(fs::exists(t / "d1"));
  write_file(t / "junk", "just some text, not an archive at all\n");
  CHECK(extract_archive(t / "junk", t / "d2").is(Status::Code::corruption));
  CHECK_FALSE(fs::exists(t / "d2"));
}

TEST_CASE("detect_kind tells tarballs, executables and the rest apart", "[artifacts]") {
  TempDir t;
  write_file(t / "script", "#!/bin/sh\necho hi\n", 0755);
  CHECK(detect_kind(t / "script").value() == ArtifactKind::executable);
  CHECK(detect_kind("/bin/sh").value() == ArtifactKind::executable);  // ELF
  write_file(t / "text", "hello");
  auto text = detect_kind(t / "text");
  REQUIRE_FALSE(text.ok());
  CHECK(text.status().is(Status::Code::invalid_argument));
  CHECK(text.status().message().find("neither a tar.gz nor an executable") != std::string::npos);
  CHECK(text.status().message().find("68 65 6c 6c 6f") != std::string::npos);
  write_file(t / "empty", "");
  CHECK(detect_kind(t / "empty").status().message().find("empty") != std::string::npos);
  CHECK(detect_kind(t / "missing").status().is(Status::Code::not_found));
  write_file(t / "g", std::string("\x1f\x8b", 2) + "garbage garbage");
  CHECK(detect_kind(t / "g").status().message().find("gzip data but not a tar") != std::string::npos);
}

}  // namespace
}  // namespace shoal::node
