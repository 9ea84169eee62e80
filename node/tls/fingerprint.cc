#include "node/tls/fingerprint.h"

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sodium.h>

#include <memory>
#include <vector>

namespace shoal::node::tls {

std::string fingerprint(X509* cert) {
  const int size = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), nullptr);
  if (size <= 0) return {};
  std::vector<unsigned char> der(static_cast<size_t>(size));
  unsigned char* out = der.data();
  i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &out);
  unsigned char hash[crypto_hash_sha256_BYTES];
  crypto_hash_sha256(hash, der.data(), der.size());
  constexpr int kVariant = sodium_base64_VARIANT_ORIGINAL_NO_PADDING;
  std::string text(sodium_base64_ENCODED_LEN(sizeof hash, kVariant), '\0');
  sodium_bin2base64(text.data(), text.size(), hash, sizeof hash, kVariant);
  text.resize(text.find('\0'));
  return "SHA256:" + text;
}

Result<std::string> fingerprint_of_pem(std::string_view cert_pem) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(
      BIO_new_mem_buf(cert_pem.data(), static_cast<int>(cert_pem.size())), BIO_free);
  std::unique_ptr<X509, decltype(&X509_free)> cert(
      PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr), X509_free);
  ERR_clear_error();
  if (!cert) return Status::invalid_argument("no PEM certificate to take a fingerprint of");
  return fingerprint(cert.get());
}

}  // namespace shoal::node::tls
