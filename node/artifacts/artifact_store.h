// node/artifacts/artifact_store.h
//
// ArtifactStore: this node's content-addressed blobs (release sources and slugs), named by
// the SHA-256 of their bytes in lowercase hex, and fetched from peers that hold them.
//
// Layout under DIR: blobs/DIGEST (whole, verified, read-only 0444), tmp/ (puts in
// progress, and DIGEST.part: a fetch to resume).
//
// Contract:
//  - A digest is 64 lowercase hex characters; anything else is invalid_argument and never
//    becomes a path (path() returns an empty path for it, has() false).
//  - A blob is never visible half-written: puts and fetches write under tmp/, fsync, check
//    the digest, then rename into blobs/ (and fsync the directory). A blob that exists is
//    whole and matches its name.
//  - fetch() asks each peer in turn (HTTP GET /v1/internal/artifacts/DIGEST, the route of
//    http_artifacts.h); a partial download is kept as tmp/DIGEST.part and resumed with
//    `Range: bytes=N-` from the same or the next peer. Bytes that do not hash to the
//    digest are dropped (corruption, naming the peer) and the next peer is tried. Success
//    at once if the blob is here. Errors: unavailable (no peer had it whole), naming each
//    peer's failure.
//  - Thread-safe. Concurrent fetches of one digest share one download: the others wait for
//    it and then see the blob. A per-digest flock on the .part keeps two stores on the same
//    directory (two processes) from interleaving writes too.
//  - gc(keep, min_age) removes blobs not in `keep` whose mtime is older than `min_age`, and
//    such .part/.lock files of digests not being fetched. A blob's mtime is when it entered
//    the store, refreshed when a put finds it already here or a fetch finds it present, so
//    a deploy in flight (upload stored, release not yet committed) is never collected
//    within the grace. Callers decide what is referenced (node/apps/artifact_gc.h).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "base/time.h"

namespace shoal::node {

// True for 64 lowercase hex characters.
bool is_valid_digest(std::string_view digest);
// invalid_argument naming the text when it is not a digest.
Status check_digest(std::string_view digest);

// SHA-256 (lowercase hex) of a file, streamed.
Result<std::string> sha256_file(const std::filesystem::path& file);
std::string sha256_hex(std::string_view bytes);

// (received so far, total or 0 when not known yet). Called from the fetching thread once
// per piece received (tens of KiB): throttle before reporting it anywhere.
using FetchProgress = std::function<void(uint64_t received, uint64_t total)>;

// What one gc() did: blobs removed, bytes freed (blobs and stale partial fetches), blobs
// left in the store.
struct GcStats {
  uint64_t removed = 0;
  uint64_t bytes = 0;
  uint64_t kept = 0;
};

struct ArtifactStoreOptions {
  // Per piece of a download: a peer silent this long is given up on (and the next tried).
  Duration fetch_idle_timeout = std::chrono::seconds(30);
  // A peer that sends more than this is cut off (a blob larger than any deploy accepts).
  uint64_t max_blob_bytes = 8ull << 30;
};

class ArtifactStore {
 public:
  // Creates DIR, DIR/blobs and DIR/tmp as needed; stale put temporaries are removed.
  static Result<std::unique_ptr<ArtifactStore>> open(const std::filesystem::path& dir,
                                                     ArtifactStoreOptions options = {});

  // Copies `src` in (or, with move = true, renames it in when on the same filesystem and
  // copies otherwise, then removes `src`); returns its digest. An existing blob is kept.
  Result<std::string> put_file(const std::filesystem::path& src, bool move = false);
  // The same for bytes in memory (an upload the HTTP server holds whole).
  Result<std::string> put_bytes(std::string_view bytes);

  bool has(std::string_view digest) const;
  // DIR/blobs/DIGEST (whether or not it exists); empty for an invalid digest.
  std::filesystem::path path(std::string_view digest) const;
  Result<uint64_t> size(std::string_view digest) const;

  Status fetch(const std::string& digest, const std::vector<std::string>& peer_addrs,
               FetchProgress progress = nullptr);

  // invalid_argument (and nothing removed) if `keep` holds a bad digest; io_error naming
  // the first file that could not be removed (the others are still removed).
  Result<GcStats> gc(const std::set<std::string>& keep, Duration min_age = Duration::zero());
  // Every blob here, sorted.
  std::vector<std::string> list() const;

  const std::filesystem::path& dir() const { return dir_; }
  // Where a fetch of `digest` keeps its partial bytes (for tests and diagnostics).
  std::filesystem::path part_path(std::string_view digest) const;

 private:
  ArtifactStore(std::filesystem::path dir, ArtifactStoreOptions options)
      : dir_(std::move(dir)), options_(options) {}

  // Renames a complete temporary file whose digest is known into blobs/.
  Status publish(const std::filesystem::path& tmp, const std::string& digest);
  Status fetch_locked(const std::string& digest, const std::vector<std::string>& peers,
                      const FetchProgress& progress);
  // One attempt at one peer. `sync_time`: how long making the bytes durable took (fsync),
  // logged apart from the transfer so a slow disk is not taken for a slow network.
  Status fetch_from(const std::string& digest, const std::string& peer,
                    const FetchProgress& progress, Duration& sync_time);

  std::filesystem::path dir_;
  ArtifactStoreOptions options_;

  std::mutex mu_;
  // Digests being fetched, each with the mutex its fetchers queue on.
  std::map<std::string, std::shared_ptr<std::mutex>> in_flight_;
};

}  // namespace shoal::node
