// node/artifacts/archive.h
//
// Release artifacts as files: pack a directory into a tar.gz, unpack an untrusted tar.gz
// safely, and tell a tarball from a single executable. Built on libarchive (every tar
// dialect: ustar, pax, GNU), which reads and writes; the path and type checks are ours.
//
// Contract:
//  - pack_directory writes regular files, directories and symlinks whose target stays
//    inside `dir`, in byte order of their paths, with mode bits (perm & 07777 minus
//    setuid/setgid), owner 0:0 and no names, a fixed mtime and a gzip header without a
//    timestamp: the same tree gives the same bytes (and so the same digest). Symlinks that
//    leave the tree, sockets, fifos and devices are skipped and listed in PackStats.
//    `.git/` is always skipped; `.shoalignore` at the root is honoured (see IgnoreRules).
//    `out_tar_gz` is written in place; on error it is removed.
//  - extract_archive never writes outside `dest`: it extracts into a fresh temporary
//    directory next to `dest` and renames it to `dest` at the end, so on any error nothing
//    is left at `dest` (which must not exist yet: already_exists otherwise). It refuses,
//    naming the entry and the reason (invalid_argument): absolute paths, `..` components,
//    symlinks whose target is absolute or leaves the root, hardlinks to anything but a file
//    extracted before, devices, fifos and sockets, paths through a symlink, a second entry
//    for the same file, more than `max_entries` entries, more than `max_total_bytes`
//    unpacked (counted from the entries' sizes, so a sparse bomb is caught before it is
//    written). setuid, setgid and sticky bits are dropped; directories stay u+rwx; owners
//    are the caller's; `dest` itself is 0755. A stream that is not a tar (or is truncated)
//    is corruption.
//  - Thread-safe: each call is independent. No global state (no chdir, no umask change).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"

namespace shoal::node {

struct PackStats {
  uint64_t files = 0;
  uint64_t dirs = 0;
  uint64_t symlinks = 0;
  uint64_t bytes = 0;    // file contents, before compression
  uint64_t ignored = 0;  // paths left out by .shoalignore or the .git rule
  // "path: reason" for what could not be packed (symlink leaving the tree, fifo, ...).
  std::vector<std::string> skipped;
};

struct PackOptions {
  // The slug of a build must hold every file the build made, so the builder packs with
  // this off; `shoal deploy DIR` packs with it on.
  bool honour_ignore_file = true;
};

inline constexpr const char* kIgnoreFileName = ".shoalignore";

Status pack_directory(const std::filesystem::path& dir, const std::filesystem::path& out_tar_gz,
                      PackStats* stats = nullptr, const PackOptions& options = {});

struct ExtractLimits {
  uint64_t max_total_bytes = 2ull << 30;  // 2 GiB unpacked
  uint64_t max_entries = 200'000;
};

Status extract_archive(const std::filesystem::path& tar_gz, const std::filesystem::path& dest,
                       const ExtractLimits& limits = {});

enum class ArtifactKind : uint8_t { tar_gz, executable };

// tar_gz: gzip magic and a tar header inside. executable: ELF magic or "#!". Anything
// else is invalid_argument saying what the file starts with; an unreadable file io_error.
Result<ArtifactKind> detect_kind(const std::filesystem::path& file);
const char* artifact_kind_name(ArtifactKind kind);

// .shoalignore, gitignore-like: one pattern a line; blank lines and `#` comments skipped;
// `name` or `*.pyc` (fnmatch globs) match a file or directory at any depth; a pattern with
// a `/` inside or at its start (`/build`, `docs/tmp`) is anchored at the root; a trailing
// `/` matches directories only; a leading `**/` means any depth; `!pattern` re-includes
// what an earlier line excluded (the last matching line wins). As in git, nothing inside
// an excluded directory can be re-included.
class IgnoreRules {
 public:
  static IgnoreRules parse(std::string_view text);
  // `rel`: a path relative to the root, '/'-separated, no leading "./".
  bool ignored(std::string_view rel, bool is_dir) const;
  size_t size() const { return rules_.size(); }

 private:
  struct Rule {
    std::string pattern;
    bool negated = false;
    bool dir_only = false;
    bool anchored = false;
  };
  std::vector<Rule> rules_;
};

}  // namespace shoal::node
