// node/apps/json_fields.h
//
// JsonFields: typed reads of the members of one JSON object, for the decoders of the apps
// layer (state-machine commands, snapshots, stored manifests). It never throws: a missing
// member or one of the wrong type records an error that names the member and what it should
// be, and every later read returns an empty value. Callers check ok() once at the end.
//
// Contract:
//  - Borrows `object`, which must outlive this reader. A non-object makes the first read fail.
//  - Only the first error is kept; `what` prefixes it ("create_app: 'name' must be a string").
//  - Integers must be JSON integers within [min, max]; msgpack's unsigned and signed
//    encodings are both accepted.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace shoal::node::apps {

class JsonFields {
 public:
  JsonFields(const nlohmann::json& object, std::string what);

  bool ok() const { return error_.empty(); }
  const std::string& error() const { return error_; }
  // Records `message` (prefixed with `what`) unless an error is already recorded.
  void fail(std::string_view message);

  bool has(std::string_view key) const;  // present and not null
  std::string str(std::string_view key, size_t max_bytes = 4096);
  std::optional<std::string> opt_str(std::string_view key, size_t max_bytes = 4096);
  int64_t int64(std::string_view key, int64_t min = std::numeric_limits<int64_t>::min(),
                int64_t max = std::numeric_limits<int64_t>::max());
  std::optional<int64_t> opt_int64(std::string_view key,
                                   int64_t min = std::numeric_limits<int64_t>::min(),
                                   int64_t max = std::numeric_limits<int64_t>::max());
  uint64_t uint64(std::string_view key);
  bool boolean(std::string_view key);
  std::optional<bool> opt_boolean(std::string_view key);
  std::vector<std::string> strings(std::string_view key, size_t max_items = 1024);
  std::map<std::string, std::string> string_map(std::string_view key,
                                                size_t max_value_bytes = 1 << 16);
  // A member that must be an object (or, for array(), an array); a null json on error.
  const nlohmann::json& object(std::string_view key);
  const nlohmann::json& array(std::string_view key);
  // The member as is, or nullptr when absent or null.
  const nlohmann::json* opt(std::string_view key) const;

 private:
  const nlohmann::json* need(std::string_view key);
  void type_error(std::string_view key, std::string_view expected);

  const nlohmann::json& object_;
  std::string what_;
  std::string error_;
};

// An integer JSON value within [min, max], or nullopt.
std::optional<int64_t> json_int(const nlohmann::json& v, int64_t min, int64_t max);

}  // namespace shoal::node::apps
