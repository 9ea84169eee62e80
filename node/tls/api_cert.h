// node/tls/api_cert.h
//
// The certificate the agent's API serves when it speaks TLS (docs/security.md, "TLS on the
// API"): the user's (--http-tls-cert with --http-tls-key), or, when the API binds off
// loopback without one, a certificate the node makes for itself at its first start and keeps
// in DATA_DIR/api-tls/, so that its fingerprint, which the CLI pins on first use, survives
// restarts.
//
// Contract:
//  - load_api_cert() reads a user's pair and checks it as the router checks a domain's (it
//    parses, the key belongs to the certificate, the chain loads); invalid_argument naming
//    the file and the problem.
//  - ensure_api_cert() reuses DATA_DIR/api-tls/{cert,key}.pem when the certificate exists,
//    and makes both when it does not: an ECDSA P-256 key and a self-signed certificate,
//    valid for ten years, naming `hosts` (IP literals as IP names, the rest as DNS names),
//    both written 0600. A pair that exists but does not load is an error and is left alone:
//    replacing it would change the key every CLI has pinned.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "base/status.h"
#include "node/router/tls_pem.h"

namespace shoal::node::tls {

inline constexpr const char* kApiTlsDir = "api-tls";

struct ApiCert {
  router::TlsPem pem;
  std::string fingerprint;          // node/tls/fingerprint.h
  std::filesystem::path cert_file;  // where it came from
  bool generated = false;           // made by this node (else the user's)
};

Result<ApiCert> load_api_cert(const std::filesystem::path& cert_file,
                              const std::filesystem::path& key_file);

Result<ApiCert> ensure_api_cert(const std::filesystem::path& data_dir,
                                const std::string& common_name,
                                const std::vector<std::string>& hosts);

// A new self-signed pair (what ensure_api_cert() writes), for it and for tests.
Result<router::TlsPem> make_self_signed(const std::string& common_name,
                                        const std::vector<std::string>& hosts);

}  // namespace shoal::node::tls
