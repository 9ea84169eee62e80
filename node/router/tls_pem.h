// node/router/tls_pem.h
//
// TlsPem: the certificate chain and private key a user attached to a custom domain, as
// PEM text: what the catalog stores and the route table carries to the router, which
// turns it into an OpenSSL context (node/router/tls.h).
#pragma once

#include <string>

namespace shoal::node::router {

struct TlsPem {
  std::string cert;  // PEM certificate chain, leaf first
  std::string key;   // PEM private key, unencrypted
  bool operator==(const TlsPem&) const = default;
};

}  // namespace shoal::node::router
