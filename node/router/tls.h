// node/router/tls.h
//
// TLS termination for the router (docs/router.md, "HTTPS"): the certificate and key a user
// attached to a custom domain (`shoal domains add APP HOST --cert F --key F`), turned into
// the OpenSSL contexts the router's --router-tls listener picks from by SNI.
//
// Contract:
//  - inspect_tls() checks a pair the way the API does before it stores one: the PEM
//    certificate chain parses, the PEM key parses, the key belongs to the certificate, and
//    (when `host` is given) the certificate names that host (wildcards as X509_check_host
//    takes them). Each failure is invalid_argument naming the problem.
//  - TlsContexts::build() makes one server context per domain, reusing the previous set's
//    context for a domain whose PEM is unchanged (a route change must not re-parse every
//    key). A pair that fails is left out and named in `errors`, never thrown.
//  - The listener context (make_listener_context) holds no certificate: its SNI callback
//    switches each connection to its domain's context, found through the TlsContexts the
//    connection was given (attach()). A client without SNI, or naming a domain with no
//    certificate, fails the handshake with an unrecognized_name alert.
#pragma once

#include <boost/asio/ssl/context.hpp>

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "node/router/tls_pem.h"

namespace shoal::node::router {

struct TlsCertInfo {
  std::vector<std::string> names;  // subjectAltName DNS names, else the subject CN
  std::string not_after;           // "2027-01-31T12:00:00Z"
  bool expired = false;
};

Result<TlsCertInfo> inspect_tls(const TlsPem& pem, std::string_view host = {});

class TlsContexts {
 public:
  using Context = boost::asio::ssl::context;

  static std::shared_ptr<const TlsContexts> build(const std::map<std::string, TlsPem>& pems,
                                                  const TlsContexts* previous,
                                                  std::vector<std::string>* errors);

  // The context for an SNI name (lower case, exact), or nullptr.
  Context* find(std::string_view server_name) const;
  size_t size() const { return by_domain_.size(); }

 private:
  struct Entry {
    TlsPem pem;
    std::shared_ptr<Context> context;
  };
  std::map<std::string, Entry, std::less<>> by_domain_;
};

// A server context holding one certificate chain and its key (the API's TLS listener and
// each domain's); invalid_argument naming what does not load.
Result<std::shared_ptr<boost::asio::ssl::context>> make_server_context(const TlsPem& pem);

// The context every TLS connection starts on; see the contract above.
Result<std::shared_ptr<boost::asio::ssl::context>> make_listener_context();

// Gives a new connection's SSL object the TlsContexts its SNI name is looked up in. The
// caller keeps `contexts` alive until the handshake is over.
void attach(SSL* ssl, const TlsContexts* contexts);

}  // namespace shoal::node::router
