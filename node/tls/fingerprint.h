// node/tls/fingerprint.h
//
// The fingerprint by which a TLS server is pinned (docs/security.md, "TLS on the API"):
// "SHA256:" and the unpadded base64 of the SHA-256 of the certificate's
// SubjectPublicKeyInfo, the form `ssh-keygen -l` gives a host key. It names the key, not
// the certificate, so a certificate renewed over the same key keeps its pin.
#pragma once

#include <string>
#include <string_view>

#include "base/status.h"

typedef struct x509_st X509;

namespace shoal::node::tls {

std::string fingerprint(X509* cert);
// The leaf (first) certificate of a PEM chain; invalid_argument if none parses.
Result<std::string> fingerprint_of_pem(std::string_view cert_pem);

}  // namespace shoal::node::tls
