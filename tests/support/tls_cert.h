// tests/support/tls_cert.h
//
// make_self_signed(): a fresh P-256 key and a self-signed certificate for the given DNS
// names, as PEM, for the router's TLS tests. The certificate is its own trust anchor, so a
// client can verify the router against it. `valid_for` may be negative: an expired one.
#pragma once

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "node/router/tls_pem.h"

namespace shoal::test {

inline std::string pem_of_bio(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(n));
}

inline node::router::TlsPem make_self_signed(
    const std::vector<std::string>& names,
    std::chrono::hours valid_for = std::chrono::hours(24 * 30)) {
  auto check = [](bool ok, const char* what) {
    if (!ok) throw std::runtime_error(std::string("make_self_signed: ") + what);
  };
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(EVP_EC_gen("P-256"), EVP_PKEY_free);
  check(key != nullptr, "EVP_EC_gen");
  std::unique_ptr<X509, decltype(&X509_free)> cert(X509_new(), X509_free);
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  static long serial = 1;
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), serial++);
  const long seconds = static_cast<long>(valid_for.count()) * 3600;
  if (seconds > 0) {
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), seconds);
  } else {
    X509_gmtime_adj(X509_getm_notBefore(cert.get()), seconds - 7200);
    X509_gmtime_adj(X509_getm_notAfter(cert.get()), seconds == 0 ? -3600 : seconds);
  }
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>(names.at(0).c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), subject);
  std::string san;
  for (const auto& n : names) san += (san.empty() ? "DNS:" : ",DNS:") + n;
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, cert.get(), cert.get(), nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, NID_subject_alt_name, san.c_str());
  check(ext != nullptr, "subjectAltName");
  X509_add_ext(cert.get(), ext, -1);
  X509_EXTENSION_free(ext);
  X509_EXTENSION* ca = X509V3_EXT_conf_nid(nullptr, &v3, NID_basic_constraints, "critical,CA:TRUE");
  check(ca != nullptr, "basicConstraints");
  X509_add_ext(cert.get(), ca, -1);
  X509_EXTENSION_free(ca);
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "X509_sign");

  std::unique_ptr<BIO, decltype(&BIO_free)> cert_bio(BIO_new(BIO_s_mem()), BIO_free);
  std::unique_ptr<BIO, decltype(&BIO_free)> key_bio(BIO_new(BIO_s_mem()), BIO_free);
  check(PEM_write_bio_X509(cert_bio.get(), cert.get()) == 1, "PEM_write_bio_X509");
  check(PEM_write_bio_PrivateKey(key_bio.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                 nullptr) == 1,
        "PEM_write_bio_PrivateKey");
  return {pem_of_bio(cert_bio.get()), pem_of_bio(key_bio.get())};
}

}  // namespace shoal::test
