// cli/progress.h
//
// The upload progress of `shoal deploy` on stderr. On a terminal, one line redrawn in
// place (at most 10 times a second) with a bar, size, percent, rate and ETA:
//   hello.tar.gz [=========>          ]  45%  18.0 MiB / 40.0 MiB  6.02 MiB/s  ETA 3s
// Elsewhere (a log, a CI job) nothing until finish(), which prints one summary line:
//   Uploaded hello.tar.gz: 40.0 MiB in 7s (5.71 MiB/s)
//
// Contract: render_* are pure. UploadProgress takes the time from `now` (steady clock by
// default) so tests can drive it; it writes only to the FILE* it was given. Not thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace shoal::cli {

std::string render_progress(const std::string& label, uint64_t sent, uint64_t total,
                            double elapsed_s);
std::string render_upload_summary(const std::string& label, uint64_t total, double elapsed_s);

class UploadProgress {
 public:
  using Now = std::function<std::chrono::steady_clock::time_point()>;

  UploadProgress(std::FILE* out, bool terminal, std::string label, uint64_t total,
                 Now now = &std::chrono::steady_clock::now);
  void update(uint64_t sent);
  // Idempotent. Ends the redrawn line (or prints the summary) with a newline.
  void finish();

 private:
  double elapsed_s() const;
  std::FILE* out_;
  bool terminal_;
  std::string label_;
  uint64_t total_;
  uint64_t sent_ = 0;
  Now now_;
  std::chrono::steady_clock::time_point start_;
  std::chrono::steady_clock::time_point last_draw_{};
  bool drawn_ = false;
  bool finished_ = false;
};

}  // namespace shoal::cli
