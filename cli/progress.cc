#include "cli/progress.h"

#include <algorithm>

#include "cli/human_units.h"

namespace shoal::cli {
namespace {

constexpr int kBarWidth = 20;
constexpr auto kRedrawEvery = std::chrono::milliseconds(100);

std::string rate_text(uint64_t bytes, double elapsed_s) {
  if (elapsed_s <= 0) return "- /s";
  return format_bytes(static_cast<uint64_t>(static_cast<double>(bytes) / elapsed_s)) + "/s";
}

}  // namespace

std::string render_progress(const std::string& label, uint64_t sent, uint64_t total,
                            double elapsed_s) {
  sent = std::min(sent, total);
  const double fraction = total == 0 ? 1.0 : static_cast<double>(sent) / static_cast<double>(total);
  const int filled = static_cast<int>(fraction * kBarWidth);
  std::string bar(static_cast<size_t>(kBarWidth), ' ');
  for (int i = 0; i < filled; ++i) bar[static_cast<size_t>(i)] = '=';
  if (filled < kBarWidth) bar[static_cast<size_t>(filled)] = '>';
  char percent[8];
  std::snprintf(percent, sizeof percent, "%3d%%", static_cast<int>(fraction * 100));
  std::string eta = "-";
  if (sent == total) {
    eta = "0s";
  } else if (elapsed_s > 0 && sent > 0) {
    const double rate = static_cast<double>(sent) / elapsed_s;
    eta = format_seconds(static_cast<double>(total - sent) / rate);
  }
  return label + " [" + bar + "] " + percent + "  " + format_bytes(sent) + " / " +
         format_bytes(total) + "  " + rate_text(sent, elapsed_s) + "  ETA " + eta;
}

std::string render_upload_summary(const std::string& label, uint64_t total, double elapsed_s) {
  return "Uploaded " + label + ": " + format_bytes(total) + " in " + format_seconds(elapsed_s) +
         " (" + rate_text(total, elapsed_s) + ")";
}

UploadProgress::UploadProgress(std::FILE* out, bool terminal, std::string label, uint64_t total,
                               Now now)
    : out_(out), terminal_(terminal), label_(std::move(label)), total_(total),
      now_(std::move(now)), start_(now_()) {}

double UploadProgress::elapsed_s() const {
  return std::chrono::duration<double>(now_() - start_).count();
}

void UploadProgress::update(uint64_t sent) {
  sent_ = sent;
  if (!terminal_ || finished_) return;
  const auto t = now_();
  if (drawn_ && t - last_draw_ < kRedrawEvery && sent < total_) return;
  last_draw_ = t;
  drawn_ = true;
  // "\r" back to the start, "\x1b[K" clears what a longer previous line left.
  std::fprintf(out_, "\r%s\x1b[K", render_progress(label_, sent_, total_, elapsed_s()).c_str());
  std::fflush(out_);
}

void UploadProgress::finish() {
  if (finished_) return;
  finished_ = true;
  if (terminal_) {
    std::fprintf(out_, "\r%s\x1b[K\n", render_progress(label_, sent_, total_, elapsed_s()).c_str());
  } else {
    std::fprintf(out_, "%s\n", render_upload_summary(label_, sent_, elapsed_s()).c_str());
  }
  std::fflush(out_);
}

}  // namespace shoal::cli
