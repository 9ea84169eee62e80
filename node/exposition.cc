#include "node/exposition.h"

#include <fmt/format.h>

#include <charconv>
#include <map>
#include <optional>

namespace shoal::node {
namespace {

bool name_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':'; }
bool name_char(char c) { return name_start(c) || (c >= '0' && c <= '9'); }
bool label_start(char c) { return name_start(c) && c != ':'; }
bool label_char(char c) { return label_start(c) || (c >= '0' && c <= '9'); }

// Reads a line's tokens left to right; every method says what it wanted when it fails.
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  void blanks() {
    while (!done() && (s_[i_] == ' ' || s_[i_] == '\t')) ++i_;
  }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  std::string_view word() {  // up to the next blank
    const size_t start = i_;
    while (!done() && s_[i_] != ' ' && s_[i_] != '\t') ++i_;
    return s_.substr(start, i_ - start);
  }
  std::string_view rest() { return s_.substr(std::min(i_, s_.size())); }
  std::optional<std::string> name(bool label) {
    const size_t start = i_;
    if (done() || !(label ? label_start(s_[i_]) : name_start(s_[i_]))) return std::nullopt;
    while (!done() && (label ? label_char(s_[i_]) : name_char(s_[i_]))) ++i_;
    return std::string(s_.substr(start, i_ - start));
  }
  // A quoted label value, unescaped (\\, \", \n).
  std::optional<std::string> quoted() {
    if (!eat('"')) return std::nullopt;
    std::string out;
    while (!done()) {
      const char c = s_[i_++];
      if (c == '"') return out;
      if (c != '\\') {
        out += c;
        continue;
      }
      if (done()) return std::nullopt;
      const char e = s_[i_++];
      if (e == 'n') {
        out += '\n';
      } else if (e == '\\' || e == '"') {
        out += e;
      } else {
        return std::nullopt;
      }
    }
    return std::nullopt;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

bool valid_value(std::string_view v) {
  if (v == "NaN" || v == "+Inf" || v == "-Inf" || v == "Inf") return true;
  double d = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), d);
  return ec == std::errc() && end == v.data() + v.size();
}

bool valid_timestamp(std::string_view t) {
  int64_t ms = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), ms);
  return ec == std::errc() && end == t.data() + t.size();
}

std::string unescape_help(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'n' || s[i + 1] == '\\')) {
      out += s[i + 1] == 'n' ? '\n' : '\\';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

bool known_type(std::string_view t) {
  return t == "counter" || t == "gauge" || t == "histogram" || t == "summary" || t == "untyped";
}

// Families in the order first seen, found by name.
class Families {
 public:
  ExposedFamily& get(const std::string& name) {
    auto [it, fresh] = index_.try_emplace(name, list_.size());
    if (fresh) {
      list_.emplace_back();
      list_.back().name = name;
    }
    return list_[it->second];
  }
  ExposedFamily* find(const std::string& name) {
    auto it = index_.find(name);
    return it == index_.end() ? nullptr : &list_[it->second];
  }
  // The family a sample belongs to: its own name's, or that of the histogram or summary
  // its suffix points at.
  ExposedFamily& owner(const std::string& sample) {
    for (std::string_view suffix : {"_bucket", "_sum", "_count"}) {
      if (sample.size() <= suffix.size() || !sample.ends_with(suffix)) continue;
      ExposedFamily* f = find(sample.substr(0, sample.size() - suffix.size()));
      if (f && (f->type == "histogram" || (f->type == "summary" && suffix != "_bucket"))) return *f;
    }
    return get(sample);
  }
  std::vector<ExposedFamily> take() { return std::move(list_); }

 private:
  std::map<std::string, size_t> index_;
  std::vector<ExposedFamily> list_;
};

}  // namespace

Result<std::vector<ExposedFamily>> parse_exposition(std::string_view text,
                                                    const ExpositionLimits& limits) {
  if (text.size() > limits.max_bytes) {
    return Status::invalid_argument(fmt::format("more than {} bytes", limits.max_bytes));
  }
  Families families;
  size_t samples = 0;
  size_t line_no = 0;
  size_t at = 0;
  while (at < text.size()) {
    size_t nl = text.find('\n', at);
    if (nl == std::string_view::npos) nl = text.size();
    std::string_view line = text.substr(at, nl - at);
    at = nl + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    auto bad = [line_no](const std::string& why) {
      return Status::invalid_argument(fmt::format("line {}: {}", line_no, why));
    };
    Cursor c(line);
    c.blanks();
    if (c.done()) continue;
    if (c.eat('#')) {
      c.blanks();
      const std::string_view keyword = c.word();
      if (keyword != "HELP" && keyword != "TYPE") continue;  // any other comment
      c.blanks();
      auto name = c.name(false);
      if (!name || !(c.done() || c.peek() == ' ' || c.peek() == '\t')) {
        return bad(fmt::format("# {} without a valid metric name", keyword));
      }
      c.blanks();
      ExposedFamily& f = families.get(*name);
      if (keyword == "HELP") {
        f.help = unescape_help(c.rest());
        continue;
      }
      const std::string type(c.word());
      if (!known_type(type)) return bad(fmt::format("unknown metric type '{}'", type));
      if (!f.samples.empty()) return bad(fmt::format("# TYPE for {} after its samples", *name));
      f.type = type;
      continue;
    }
    ExposedSample s;
    auto name = c.name(false);
    if (!name) return bad("a sample must start with a metric name");
    s.name = *name;
    if (c.eat('{')) {
      for (;;) {
        c.blanks();
        if (c.eat('}')) break;
        auto label = c.name(true);
        if (!label) return bad(fmt::format("a bad label name in {}", s.name));
        c.blanks();
        if (!c.eat('=')) return bad(fmt::format("label {} of {} has no '='", *label, s.name));
        c.blanks();
        auto value = c.quoted();
        if (!value) return bad(fmt::format("label {} of {} has no quoted value", *label, s.name));
        for (const auto& [k, v] : s.labels) {
          if (k == *label) return bad(fmt::format("label {} twice in {}", *label, s.name));
        }
        s.labels.emplace_back(std::move(*label), std::move(*value));
        if (s.labels.size() > limits.max_labels) {
          return bad(fmt::format("more than {} labels in {}", limits.max_labels, s.name));
        }
        c.blanks();
        if (c.eat(',')) continue;
        if (c.eat('}')) break;
        return bad(fmt::format("labels of {} are not closed", s.name));
      }
    }
    if (c.peek() != ' ' && c.peek() != '\t') return bad(fmt::format("{} has no value", s.name));
    c.blanks();
    s.value = std::string(c.word());
    if (!valid_value(s.value)) return bad(fmt::format("'{}' is not a number", s.value));
    c.blanks();
    if (!c.done()) {
      const std::string_view ts = c.word();
      if (!valid_timestamp(ts)) return bad(fmt::format("'{}' is not a timestamp", ts));
      c.blanks();
      if (!c.done()) return bad("more after the timestamp");
    }
    if (++samples > limits.max_samples) {
      return bad(fmt::format("more than {} samples", limits.max_samples));
    }
    families.owner(s.name).samples.push_back(std::move(s));
  }
  return families.take();
}

std::string escape_label_value(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string escape_help(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace shoal::node
