// cli/known_hosts.h
//
// How the CLI trusts an agent's API over https (docs/security.md, "TLS on the API"), first
// rule that applies wins:
//   1. --tls-fingerprint FP (or SHOAL_TLS_FINGERPRINT): the server's key must be FP;
//   2. a certificate that verifies against the trusted CAs (--ca-cert / SHOAL_CA_CERT, else
//      the system's) and names the host is trusted;
//   3. otherwise the key is pinned on first use, as SSH pins host keys: the known_hosts file
//      beside the credentials ($XDG_CONFIG_HOME/shoal/known_hosts, else
//      ~/.config/shoal/known_hosts) holds one "HOST:PORT FINGERPRINT" line per agent. An
//      agent not in it is added, and the CLI says so on stderr; one whose key differs from
//      its line is refused (permission_denied naming the file and line), since either its
//      certificate was replaced or someone is in the middle.
// Fingerprints are node/tls/fingerprint.h's "SHA256:..." form, which the agent prints at
// start and /v1/agent/self shows.
#pragma once

#include <cstdio>
#include <filesystem>
#include <string>

#include "base/status.h"
#include "node/http_client.h"

namespace shoal::cli {

std::filesystem::path known_hosts_file();

struct TrustSettings {
  std::string expected_fingerprint;  // rule 1 when set
  std::filesystem::path known_hosts;  // rule 3's file
  std::FILE* notices = stderr;        // where a new pin is announced (null: nowhere)
};

// Judges the server at `where` ("HOST:PORT") by the rules above.
Status judge_server(const TrustSettings& settings, const std::string& where,
                    const node::TlsPeer& peer);

}  // namespace shoal::cli
