#include "node/tls/api_cert.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <memory>

#include "node/private_file.h"
#include "node/router/tls.h"
#include "node/tls/fingerprint.h"

namespace shoal::node::tls {

namespace fs = std::filesystem;

namespace {

constexpr long kValiditySeconds = 10L * 365 * 24 * 3600;

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using KeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using BioPtr = std::unique_ptr<BIO, Deleter<BIO, BIO_free_all>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

Status openssl_failure(const std::string& what) {
  const unsigned long code = ERR_get_error();
  const char* reason = code != 0 ? ERR_reason_error_string(code) : nullptr;
  ERR_clear_error();
  return Status::internal(what + " failed" + (reason ? std::string(": ") + reason : ""));
}

std::string bio_text(BIO* bio) {
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  return std::string(data, n > 0 ? static_cast<size_t>(n) : 0);
}

bool is_ip_literal(const std::string& host) {
  ASN1_OCTET_STRING* ip = a2i_IPADDRESS(host.c_str());
  if (ip == nullptr) {
    ERR_clear_error();
    return false;
  }
  ASN1_OCTET_STRING_free(ip);
  return true;
}

Status add_extension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1) {
    return openssl_failure("adding the certificate extension '" + value + "'");
  }
  return Status();
}

Result<ApiCert> checked(router::TlsPem pem, fs::path cert_file, bool generated) {
  if (auto info = router::inspect_tls(pem); !info.ok()) {
    return Status::invalid_argument(cert_file.string() + ": " + info.status().message());
  }
  auto print = fingerprint_of_pem(pem.cert);
  if (!print.ok()) {
    return Status::invalid_argument(cert_file.string() + ": " + print.status().message());
  }
  return ApiCert{std::move(pem), std::move(*print), std::move(cert_file), generated};
}

}  // namespace

Result<router::TlsPem> make_self_signed(const std::string& common_name,
                                        const std::vector<std::string>& hosts) {
  KeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return openssl_failure("making an ECDSA P-256 key");
  X509Ptr cert(X509_new());
  if (!cert) return openssl_failure("allocating a certificate");
  X509_set_version(cert.get(), 2);  // v3, for the extensions
  // A random serial: clients that cache certificates by issuer and serial must not mix
  // two nodes' (or one node's remade) certificates up.
  std::unique_ptr<BIGNUM, Deleter<BIGNUM, BN_free>> serial(BN_new());
  if (!serial || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(cert.get())) == nullptr) {
    return openssl_failure("choosing a serial number");
  }
  // An hour into the past, for clients whose clock is a little behind.
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), kValiditySeconds);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  const std::string cn = common_name.empty() ? "shoal" : common_name.substr(0, 64);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>("Shoal node"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);  // self-signed
  std::string san;
  for (const auto& host : hosts) {
    if (host.empty() || host.find_first_of(",\n") != std::string::npos) continue;
    san += (san.empty() ? "" : ",") + std::string(is_ip_literal(host) ? "IP:" : "DNS:") + host;
  }
  if (!san.empty()) SHOAL_RETURN_IF_ERROR(add_extension(cert.get(), NID_subject_alt_name, san));
  SHOAL_RETURN_IF_ERROR(add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE"));
  SHOAL_RETURN_IF_ERROR(add_extension(cert.get(), NID_key_usage, "critical,digitalSignature"));
  SHOAL_RETURN_IF_ERROR(add_extension(cert.get(), NID_ext_key_usage, "serverAuth"));
  if (X509_sign(cert.get(), key.get(), EVP_sha256()) == 0) return openssl_failure("signing");

  BioPtr cert_out(BIO_new(BIO_s_mem()));
  BioPtr key_out(BIO_new(BIO_s_mem()));
  if (!cert_out || !key_out || PEM_write_bio_X509(cert_out.get(), cert.get()) != 1 ||
      PEM_write_bio_PrivateKey(key_out.get(), key.get(), nullptr, nullptr, 0, nullptr,
                               nullptr) != 1) {
    return openssl_failure("writing the certificate as PEM");
  }
  return router::TlsPem{bio_text(cert_out.get()), bio_text(key_out.get())};
}

Result<ApiCert> load_api_cert(const fs::path& cert_file, const fs::path& key_file) {
  auto cert = read_private_file(cert_file);
  if (!cert.ok()) return cert.status();
  auto key = read_private_file(key_file);
  if (!key.ok()) return key.status();
  return checked(router::TlsPem{std::move(*cert), std::move(*key)}, cert_file, false);
}

Result<ApiCert> ensure_api_cert(const fs::path& data_dir, const std::string& common_name,
                                const std::vector<std::string>& hosts) {
  const fs::path dir = data_dir / kApiTlsDir;
  const fs::path cert_file = dir / "cert.pem";
  const fs::path key_file = dir / "key.pem";
  std::error_code ec;
  // The certificate is written last, so a key without one is what a crash between the two
  // writes leaves: never served, so nobody pinned it, and it is made again.
  if (fs::exists(cert_file, ec)) {
    auto loaded = load_api_cert(cert_file, key_file);
    if (!loaded.ok()) {
      return Status::failed_precondition(
                    "the API's certificate in " + dir.string() + " does not load (" +
                        loaded.status().message() + "); remove the directory to make a new one, "
                        "and every CLI that pinned the old one will refuse the new one until "
                        "its known_hosts line is removed");
    }
    loaded->generated = true;
    return loaded;
  }
  auto pem = make_self_signed(common_name, hosts);
  if (!pem.ok()) return pem.status();
  fs::create_directories(dir, ec);
  if (ec) return Status::io_error("cannot create " + dir.string() + ": " + ec.message());
  fs::permissions(dir, fs::perms::owner_all, ec);
  // The key first: a certificate without its key would be half a pair at the next start.
  SHOAL_RETURN_IF_ERROR(write_private_file(key_file, pem->key, /*sync=*/true));
  SHOAL_RETURN_IF_ERROR(write_private_file(cert_file, pem->cert, /*sync=*/true));
  return checked(std::move(*pem), cert_file, true);
}

}  // namespace shoal::node::tls
