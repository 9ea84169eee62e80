#include "cli/known_hosts.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include "node/unique_fd.h"

namespace shoal::cli {

namespace fs = std::filesystem;

namespace {

struct Pin {
  std::string fingerprint;
  int line = 0;
};

// The line for `where`, if any. Lines that do not parse are skipped: a hand edit gone
// wrong must not stop the CLI from reaching every other agent.
std::optional<Pin> find_pin(const fs::path& file, const std::string& where) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n) {
    std::istringstream fields(line);
    std::string host, print;
    if (!(fields >> host >> print) || host.starts_with("#")) continue;
    if (host == where) return Pin{print, n};
  }
  return std::nullopt;
}

Status append_pin(const fs::path& file, const std::string& where, const std::string& print) {
  std::error_code ec;
  fs::create_directories(file.parent_path(), ec);
  if (ec) {
    return Status::io_error("cannot create " + file.parent_path().string() + ": " + ec.message());
  }
  // One write with O_APPEND: two CLIs pinning at once each add a whole line.
  node::UniqueFd fd(::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    return Status::io_error("cannot write " + file.string() + ": " + std::strerror(errno));
  }
  const std::string line = where + " " + print + "\n";
  if (::write(fd.get(), line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
    return Status::io_error("cannot write " + file.string() + ": " + std::strerror(errno));
  }
  return Status();
}

}  // namespace

fs::path known_hosts_file() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) {
    return fs::path(xdg) / "shoal" / "known_hosts";
  }
  const char* home = std::getenv("HOME");
  return fs::path(home && *home ? home : ".") / ".config" / "shoal" / "known_hosts";
}

Status judge_server(const TrustSettings& settings, const std::string& where,
                    const node::TlsPeer& peer) {
  if (!settings.expected_fingerprint.empty()) {
    if (peer.fingerprint == settings.expected_fingerprint) return Status();
    return Status::permission_denied("the agent at " + where + " presents the TLS key " +
                                     peer.fingerprint + ", not the " +
                                     settings.expected_fingerprint +
                                     " that --tls-fingerprint expects");
  }
  if (peer.verified) return Status();
  if (auto pin = find_pin(settings.known_hosts, where)) {
    if (pin->fingerprint == peer.fingerprint) return Status();
    return Status::permission_denied(
        "the TLS key of the agent at " + where + " has changed: " +
        settings.known_hosts.string() + " line " + std::to_string(pin->line) + " pins " +
        pin->fingerprint + ", it now presents " + peer.fingerprint +
        ". If its certificate was replaced on purpose (compare with the fingerprint the "
        "agent printed at start), delete that line; otherwise someone may be in the middle");
  }
  SHOAL_RETURN_IF_ERROR(append_pin(settings.known_hosts, where, peer.fingerprint));
  if (settings.notices) {
    std::fprintf(settings.notices,
                 "shoal: first TLS connection to %s; its certificate is not signed by a trusted "
                 "CA (%s), so its key %s is now pinned in %s. Compare it with the fingerprint "
                 "the agent printed at start.\n",
                 where.c_str(), peer.verify_error.c_str(), peer.fingerprint.c_str(),
                 settings.known_hosts.c_str());
  }
  return Status();
}

}  // namespace shoal::cli
