// node/router/tls.cc
#include "node/router/tls.h"

#include <boost/asio/buffer.hpp>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cctype>
#include <ctime>

namespace shoal::node::router {

namespace net = boost::asio;
namespace ssl = net::ssl;

namespace {

struct BioFree {
  void operator()(BIO* b) const { BIO_free(b); }
};
struct X509Free {
  void operator()(X509* x) const { X509_free(x); }
};
struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};

// The newest OpenSSL error as text ("no start line"), and the queue emptied.
std::string openssl_error() {
  unsigned long code = ERR_get_error();
  std::string out;
  if (code != 0) {
    const char* reason = ERR_reason_error_string(code);
    out = reason ? reason : "error " + std::to_string(code);
  }
  ERR_clear_error();
  return out.empty() ? std::string("unknown error") : out;
}

std::unique_ptr<BIO, BioFree> bio_of(const std::string& text) {
  return std::unique_ptr<BIO, BioFree>(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::vector<std::string> names_of(X509* x) {
  std::vector<std::string> names;
  auto* sans = static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (sans) {
    for (int i = 0; i < sk_GENERAL_NAME_num(sans); ++i) {
      const GENERAL_NAME* n = sk_GENERAL_NAME_value(sans, i);
      if (n->type != GEN_DNS) continue;
      const auto* s = n->d.dNSName;
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    }
    GENERAL_NAMES_free(sans);
  }
  if (names.empty()) {
    X509_NAME* subject = X509_get_subject_name(x);
    int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (at >= 0) {
      const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at));
      names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                         static_cast<size_t>(ASN1_STRING_length(s)));
    }
  }
  return names;
}

std::string iso_time(const ASN1_TIME* t) {
  std::tm tm{};
  if (ASN1_TIME_to_tm(t, &tm) != 1) return "?";
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

void set_server_options(ssl::context& ctx) {
  ctx.set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                  ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1 |
                  ssl::context::single_dh_use);
  SSL_CTX_set_options(ctx.native_handle(), SSL_OP_NO_RENEGOTIATION);
}

}  // namespace

Result<std::shared_ptr<ssl::context>> make_server_context(const TlsPem& pem) {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  set_server_options(*ctx);
  boost::system::error_code ec;
  ctx->use_certificate_chain(net::buffer(pem.cert), ec);
  if (ec) {
    return Status::invalid_argument("the certificate is not a PEM certificate chain: " +
                                    ec.message());
  }
  ctx->use_private_key(net::buffer(pem.key), ssl::context::pem, ec);
  if (ec) return Status::invalid_argument("the key does not fit the certificate: " + ec.message());
  if (SSL_CTX_check_private_key(ctx->native_handle()) != 1) {
    return Status::invalid_argument("the key does not belong to the certificate: " +
                                    openssl_error());
  }
  return ctx;
}

namespace {

int sni_index() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int on_server_name(SSL* ssl, int* alert, void*) {
  const char* name = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
  const auto* contexts = static_cast<const TlsContexts*>(SSL_get_ex_data(ssl, sni_index()));
  ssl::context* ctx = nullptr;
  if (name != nullptr && contexts != nullptr) {
    std::string lower(name);
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    ctx = contexts->find(lower);
  }
  if (ctx == nullptr) {
    *alert = SSL_AD_UNRECOGNIZED_NAME;
    return SSL_TLSEXT_ERR_ALERT_FATAL;
  }
  SSL_set_SSL_CTX(ssl, ctx->native_handle());
  return SSL_TLSEXT_ERR_OK;
}

}  // namespace

Result<TlsCertInfo> inspect_tls(const TlsPem& pem, std::string_view host) {
  ERR_clear_error();
  auto cert_bio = bio_of(pem.cert);
  std::unique_ptr<X509, X509Free> cert(
      PEM_read_bio_X509(cert_bio.get(), nullptr, nullptr, nullptr));
  if (!cert) {
    return Status::invalid_argument("the certificate is not a PEM certificate: " + openssl_error());
  }
  auto key_bio = bio_of(pem.key);
  std::unique_ptr<EVP_PKEY, KeyFree> key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
  if (!key) {
    return Status::invalid_argument("the key is not an unencrypted PEM private key: " +
                                    openssl_error());
  }
  TlsCertInfo info;
  info.names = names_of(cert.get());
  info.not_after = iso_time(X509_get0_notAfter(cert.get()));
  info.expired = X509_cmp_current_time(X509_get0_notAfter(cert.get())) < 0;
  if (X509_check_private_key(cert.get(), key.get()) != 1) {
    ERR_clear_error();
    return Status::invalid_argument(
        "the key does not belong to the certificate (a mismatched pair)");
  }
  if (!host.empty() &&
      X509_check_host(cert.get(), host.data(), host.size(), 0, nullptr) != 1) {
    std::string names;
    for (const auto& n : info.names) names += (names.empty() ? "" : ", ") + n;
    return Status::invalid_argument("the certificate does not name " + std::string(host) +
                                    " (it names " + (names.empty() ? "nothing" : names) + ")");
  }
  // Whole chains, as the server will load them, must load too.
  auto ctx = make_server_context(pem);
  if (!ctx.ok()) return ctx.status();
  return info;
}

std::shared_ptr<const TlsContexts> TlsContexts::build(
    const std::map<std::string, TlsPem>& pems, const TlsContexts* previous,
    std::vector<std::string>* errors) {
  auto out = std::make_shared<TlsContexts>();
  for (const auto& [domain, pem] : pems) {
    if (previous) {
      auto it = previous->by_domain_.find(domain);
      if (it != previous->by_domain_.end() && it->second.pem == pem) {
        out->by_domain_.emplace(domain, it->second);
        continue;
      }
    }
    auto ctx = make_server_context(pem);
    if (!ctx.ok()) {
      if (errors) errors->push_back(domain + ": " + ctx.status().message());
      continue;
    }
    out->by_domain_.emplace(domain, Entry{pem, std::move(*ctx)});
  }
  return out;
}

TlsContexts::Context* TlsContexts::find(std::string_view server_name) const {
  auto it = by_domain_.find(server_name);
  return it == by_domain_.end() ? nullptr : it->second.context.get();
}

Result<std::shared_ptr<ssl::context>> make_listener_context() {
  auto ctx = std::make_shared<ssl::context>(ssl::context::tls_server);
  set_server_options(*ctx);
  if (sni_index() < 0) return Status::io_error("router: OpenSSL has no ex_data index left");
  SSL_CTX_set_tlsext_servername_callback(ctx->native_handle(), on_server_name);
  return ctx;
}

void attach(SSL* ssl, const TlsContexts* contexts) {
  SSL_set_ex_data(ssl, sni_index(), const_cast<TlsContexts*>(contexts));
}

}  // namespace shoal::node::router
