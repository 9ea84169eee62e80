#include "gossip/address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace shoal::gossip {

std::string Address::ip_string() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (ip_len == 4) {
    inet_ntop(AF_INET, ip.data(), buf, sizeof buf);
  } else if (ip_len == 16) {
    inet_ntop(AF_INET6, ip.data(), buf, sizeof buf);
  } else {
    return "<unset>";
  }
  return buf;
}

std::string Address::to_string() const {
  if (ip_len == 16) return "[" + ip_string() + "]:" + std::to_string(port);
  return ip_string() + ":" + std::to_string(port);
}

Result<Address> Address::from_bytes(ByteView raw, uint16_t port) {
  Address a;
  a.port = port;
  static constexpr uint8_t kV4Mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (raw.size() == 4) {
    std::memcpy(a.ip.data(), raw.data(), 4);
    a.ip_len = 4;
  } else if (raw.size() == 16 && std::memcmp(raw.data(), kV4Mapped, 12) == 0) {
    std::memcpy(a.ip.data(), raw.data() + 12, 4);
    a.ip_len = 4;
  } else if (raw.size() == 16) {
    std::memcpy(a.ip.data(), raw.data(), 16);
    a.ip_len = 16;
  } else {
    return Status::invalid_argument("IP address must be 4 or 16 bytes, got " +
                                    std::to_string(raw.size()));
  }
  return a;
}

Result<Address> Address::parse(std::string_view text, uint16_t default_port) {
  std::string host;
  std::string_view port_text;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos) {
      return Status::invalid_argument("address '" + std::string(text) + "': missing ']'");
    }
    host = std::string(text.substr(1, close - 1));
    auto rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') {
        return Status::invalid_argument("address '" + std::string(text) +
                                        "': expected ':' after ']'");
      }
      port_text = rest.substr(1);
    }
  } else if (auto colon = text.rfind(':'); colon != std::string_view::npos &&
                                            text.find(':') == colon) {
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
  } else {
    host = std::string(text);  // bare IPv4, or bare IPv6 without brackets
  }
  uint16_t port = default_port;
  if (!port_text.empty()) {
    unsigned value = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || ptr != port_text.data() + port_text.size() || value > 65535) {
      return Status::invalid_argument("address '" + std::string(text) + "': bad port '" +
                                      std::string(port_text) + "'");
    }
    port = static_cast<uint16_t>(value);
  }
  if (host == "localhost") host = "127.0.0.1";
  Address a;
  a.port = port;
  if (inet_pton(AF_INET, host.c_str(), a.ip.data()) == 1) {
    a.ip_len = 4;
  } else if (inet_pton(AF_INET6, host.c_str(), a.ip.data()) == 1) {
    return from_bytes(ByteView(a.ip.data(), 16), port);
  } else {
    return Status::invalid_argument("address '" + std::string(text) +
                                    "': not an IP address (names are not resolved)");
  }
  return a;
}

}  // namespace shoal::gossip
