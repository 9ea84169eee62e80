// cli/ndjson_lines.h
//
// NdjsonLines: cuts a streamed answer (deploy progress, logs) into its lines as pieces
// arrive, whatever the piece boundaries.
//
// Contract: on_line gets each complete line without its "\n" (and a "\r" before it), empty
// lines skipped; a line longer than kLineMax is handed over cut at kLineMax, so a peer that
// never sends a newline cannot grow memory without bound. Not thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace shoal::cli {

class NdjsonLines {
 public:
  static constexpr size_t kLineMax = 1 << 20;

  // Returns false as soon as on_line does (the rest of the piece is dropped).
  template <typename OnLine>
  bool feed(std::string_view piece, OnLine&& on_line) {
    pending_.append(piece);
    size_t start = 0;
    bool go_on = true;
    for (size_t nl; go_on && (nl = pending_.find('\n', start)) != std::string::npos; start = nl + 1) {
      go_on = emit(std::string_view(pending_).substr(start, nl - start), on_line);
    }
    pending_.erase(0, start);
    while (go_on && pending_.size() >= kLineMax) {
      go_on = emit(std::string_view(pending_).substr(0, kLineMax), on_line);
      pending_.erase(0, kLineMax);
    }
    if (!go_on) pending_.clear();
    return go_on;
  }

  // What came after the last newline: a stream cut mid-line.
  const std::string& rest() const { return pending_; }

 private:
  template <typename OnLine>
  static bool emit(std::string_view line, OnLine& on_line) {
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    return line.empty() || on_line(line);
  }
  std::string pending_;
};

}  // namespace shoal::cli
