// node/exposition.h
//
// The Prometheus text exposition format (0.0.4) read back: what an app serves at its
// metrics path (docs/reporting.md, "Apps' own metrics"), parsed so the node can re-expose it
// with the labels that say whose it is. An app is not trusted: its text is checked line by
// line, bounded, and refused whole with the first problem named.
//
// Contract: pure. parse_exposition() accepts what the format allows (HELP and TYPE lines,
// samples with or without labels and timestamps, NaN and ±Inf, escapes in label values and
// help) and groups samples into families: histogram and summary samples (_bucket, _sum,
// _count) join their family; a sample no TYPE line names is its own untyped family. Errors are
// invalid_argument "line N: ...". Timestamps are dropped: the node's scrape is the time.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace shoal::node {

struct ExposedSample {
  std::string name;  // the family's, or it plus _bucket / _sum / _count
  std::vector<std::pair<std::string, std::string>> labels;  // in the order given, unescaped
  std::string value;  // as written: "12", "1.5e-3", "NaN", "+Inf"
};

struct ExposedFamily {
  std::string name;
  std::string help;              // unescaped
  std::string type = "untyped";  // counter | gauge | histogram | summary | untyped
  std::vector<ExposedSample> samples;
};

struct ExpositionLimits {
  size_t max_bytes = 4 << 20;
  size_t max_samples = 10000;
  size_t max_labels = 32;  // per sample
};

Result<std::vector<ExposedFamily>> parse_exposition(std::string_view text,
                                                    const ExpositionLimits& limits = {});

// Writers: a label value or help text escaped as the format wants.
std::string escape_label_value(std::string_view v);
std::string escape_help(std::string_view v);

}  // namespace shoal::node
