#include "node/apps/names.h"

#include <string>

namespace shoal::node::apps {
namespace {

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

Status validate_dns_label(std::string_view what, std::string_view name) {
  const std::string rule =
      " must be a DNS label: 1 to 63 characters of a-z, 0-9 and '-', not starting or ending "
      "with '-'";
  if (name.empty()) return Status::invalid_argument(std::string(what) + " is empty: it" + rule);
  bool ok = name.size() <= 63 && name.front() != '-' && name.back() != '-';
  for (char c : name) ok = ok && (is_lower_alnum(c) || c == '-');
  if (!ok) return Status::invalid_argument(std::string(what) + " " + quoted(name) + rule);
  return Status();
}

}  // namespace

Status validate_app_name(std::string_view name) { return validate_dns_label("app name", name); }

Status validate_service_name(std::string_view name) {
  return validate_dns_label("service name", name);
}

Status validate_process_type(std::string_view type) {
  bool ok = !type.empty() && type.size() <= 30 && type.front() >= 'a' && type.front() <= 'z';
  for (char c : type) ok = ok && (is_lower_alnum(c) || c == '_' || c == '-');
  if (!ok) {
    return Status::invalid_argument(
        "process type " + quoted(type) +
        " must start with a-z and hold only a-z, 0-9, '_' and '-' (at most 30 characters)");
  }
  return Status();
}

Status validate_config_key(std::string_view key) {
  bool ok = !key.empty() && key.size() <= 255 && (is_alpha(key.front()) || key.front() == '_');
  for (char c : key) ok = ok && (is_alpha(c) || is_digit(c) || c == '_');
  if (!ok) {
    return Status::invalid_argument("config var " + quoted(key) +
                                    " must match [A-Za-z_][A-Za-z0-9_]* (at most 255 characters)");
  }
  if (key.starts_with("SHOAL_") || key == "PORT") {
    return Status::invalid_argument("config var " + quoted(key) +
                                    " is reserved: Shoal sets PORT and SHOAL_* itself");
  }
  return Status();
}

Status validate_node_name(std::string_view node) {
  bool ok = !node.empty() && node.size() <= 128 && node != "." && node != "..";
  for (char c : node) ok = ok && c != '/' && static_cast<unsigned char>(c) >= 0x20 && c != 0x7f;
  if (!ok) {
    return Status::invalid_argument("node name " + quoted(node) +
                                    " must be 1 to 128 bytes with no '/' or control characters");
  }
  return Status();
}

Status validate_package_name(std::string_view package) {
  bool ok = package.size() >= 2 && package.size() <= 128 && is_lower_alnum(package.front());
  for (char c : package) ok = ok && (is_lower_alnum(c) || c == '+' || c == '-' || c == '.');
  if (!ok) {
    return Status::invalid_argument(
        "package " + quoted(package) +
        " is not a Debian package name: at least 2 characters of a-z, 0-9, '+', '-' and '.', "
        "starting with a letter or digit");
  }
  return Status();
}

Status validate_domain(std::string_view host) {
  if (host.empty()) return Status::invalid_argument("domain is empty: give a host name");
  if (host.size() > 253) {
    return Status::invalid_argument("domain " + quoted(host.substr(0, 40)) + "... is " +
                                    std::to_string(host.size()) +
                                    " characters long: a host name has at most 253");
  }
  const std::string rule =
      " is not a host name: dot-separated labels of a-z, 0-9 and '-' (1 to 63 each, not "
      "starting or ending with '-')";
  bool ok = true;
  size_t start = 0;
  std::string_view last;
  while (ok && start <= host.size()) {
    size_t dot = host.find('.', start);
    if (dot == std::string_view::npos) dot = host.size();
    last = host.substr(start, dot - start);
    ok = !last.empty() && last.size() <= 63 && last.front() != '-' && last.back() != '-';
    for (char c : last) ok = ok && (is_lower_alnum(c) || c == '-');
    start = dot + 1;
  }
  if (!ok) return Status::invalid_argument("domain " + quoted(host) + rule);
  // No top-level domain is all digits: "10.0.0.1" (or "1234") is an address, which the
  // router would never see as a Host to route by name.
  bool numeric = true;
  for (char c : last) numeric = numeric && is_digit(c);
  if (numeric) {
    return Status::invalid_argument("domain " + quoted(host) +
                                    " looks like an IP address: give a host name");
  }
  return Status();
}

Result<std::string> normalize_domain(std::string_view host) {
  std::string h(host);
  for (char& c : h) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  if (!h.empty() && h.back() == '.') h.pop_back();
  SHOAL_RETURN_IF_ERROR(validate_domain(h));
  return h;
}

}  // namespace shoal::node::apps
