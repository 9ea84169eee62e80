#include "node/apps/json_fields.h"

#include <fmt/format.h>

namespace shoal::node::apps {
namespace {
const nlohmann::json kNull;
}  // namespace

std::optional<int64_t> json_int(const nlohmann::json& v, int64_t min, int64_t max) {
  int64_t n = 0;
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    n = static_cast<int64_t>(u);
  } else if (v.is_number_integer()) {
    n = v.get<int64_t>();
  } else {
    return std::nullopt;
  }
  if (n < min || n > max) return std::nullopt;
  return n;
}

JsonFields::JsonFields(const nlohmann::json& object, std::string what)
    : object_(object), what_(std::move(what)) {
  if (!object_.is_object()) fail("not a JSON object");
}

void JsonFields::fail(std::string_view message) {
  if (error_.empty())
    error_ = what_.empty() ? std::string(message) : what_ + ": " + std::string(message);
}

const nlohmann::json* JsonFields::opt(std::string_view key) const {
  if (!object_.is_object()) return nullptr;
  auto it = object_.find(key);
  if (it == object_.end() || it->is_null()) return nullptr;
  return &*it;
}

bool JsonFields::has(std::string_view key) const { return opt(key) != nullptr; }

const nlohmann::json* JsonFields::need(std::string_view key) {
  if (!ok()) return nullptr;
  const nlohmann::json* v = opt(key);
  if (v == nullptr) fail(fmt::format("'{}' is missing", key));
  return v;
}

void JsonFields::type_error(std::string_view key, std::string_view expected) {
  fail(fmt::format("'{}' must be {}", key, expected));
}

std::string JsonFields::str(std::string_view key, size_t max_bytes) {
  const nlohmann::json* v = need(key);
  if (v == nullptr) return {};
  if (!v->is_string()) return type_error(key, "a string"), std::string();
  const auto& s = v->get_ref<const std::string&>();
  if (s.size() > max_bytes) {
    return type_error(key, fmt::format("at most {} bytes long", max_bytes)), std::string();
  }
  return s;
}

std::optional<std::string> JsonFields::opt_str(std::string_view key, size_t max_bytes) {
  if (!ok() || !has(key)) return std::nullopt;
  std::string s = str(key, max_bytes);
  if (!ok()) return std::nullopt;
  return s;
}

int64_t JsonFields::int64(std::string_view key, int64_t min, int64_t max) {
  const nlohmann::json* v = need(key);
  if (v == nullptr) return 0;
  auto n = json_int(*v, min, max);
  if (!n) {
    if (min == std::numeric_limits<int64_t>::min() && max == std::numeric_limits<int64_t>::max()) {
      type_error(key, "an integer");
    } else {
      type_error(key, fmt::format("an integer from {} to {}", min, max));
    }
    return 0;
  }
  return *n;
}

std::optional<int64_t> JsonFields::opt_int64(std::string_view key, int64_t min, int64_t max) {
  if (!ok() || !has(key)) return std::nullopt;
  int64_t n = int64(key, min, max);
  if (!ok()) return std::nullopt;
  return n;
}

uint64_t JsonFields::uint64(std::string_view key) {
  const nlohmann::json* v = need(key);
  if (v == nullptr) return 0;
  if (!v->is_number_unsigned()) return type_error(key, "an unsigned integer"), 0;
  return v->get<uint64_t>();
}

bool JsonFields::boolean(std::string_view key) {
  const nlohmann::json* v = need(key);
  if (v == nullptr) return false;
  if (!v->is_boolean()) return type_error(key, "true or false"), false;
  return v->get<bool>();
}

std::optional<bool> JsonFields::opt_boolean(std::string_view key) {
  if (!ok() || !has(key)) return std::nullopt;
  bool b = boolean(key);
  if (!ok()) return std::nullopt;
  return b;
}

std::vector<std::string> JsonFields::strings(std::string_view key, size_t max_items) {
  std::vector<std::string> out;
  const nlohmann::json& a = array(key);
  if (!ok()) return out;
  if (a.size() > max_items) return type_error(key, fmt::format("at most {} items", max_items)), out;
  for (const auto& item : a) {
    if (!item.is_string()) return type_error(key, "a list of strings"), std::vector<std::string>();
    out.push_back(item.get<std::string>());
  }
  return out;
}

std::map<std::string, std::string> JsonFields::string_map(std::string_view key,
                                                          size_t max_value_bytes) {
  std::map<std::string, std::string> out;
  const nlohmann::json& o = object(key);
  if (!ok()) return out;
  for (const auto& [k, v] : o.items()) {
    if (!v.is_string() || v.get_ref<const std::string&>().size() > max_value_bytes) {
      type_error(key, fmt::format("an object of strings (at most {} bytes each)", max_value_bytes));
      return {};
    }
    out.emplace(k, v.get<std::string>());
  }
  return out;
}

const nlohmann::json& JsonFields::object(std::string_view key) {
  const nlohmann::json* v = need(key);
  if (v == nullptr) return kNull;
  if (!v->is_object()) return type_error(key, "an object"), kNull;
  return *v;
}

const nlohmann::json& JsonFields::array(std::string_view key) {
  const nlohmann::json* v = need(key);
  if (v == nullptr) return kNull;
  if (!v->is_array()) return type_error(key, "a list"), kNull;
  return *v;
}

}  // namespace shoal::node::apps
