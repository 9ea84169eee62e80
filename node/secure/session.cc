#include "node/secure/session.h"

#include <openssl/evp.h>

#include <algorithm>

#include "base/check.h"

namespace shoal::node::secure {

namespace {

constexpr uint32_t kFinalBit = 0x80000000u;
constexpr size_t kMaxCipher = kMaxRecordPlain + kRecordTagBytes;
constexpr size_t kNonceBytes = 12;

using Nonce = std::array<unsigned char, kNonceBytes>;

Nonce nonce_for(uint64_t n) {
  Nonce out{};
  for (int i = 0; i < 8; ++i) out[4 + i] = static_cast<unsigned char>(n >> (56 - 8 * i));
  return out;
}

void put_header(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

struct Header {
  size_t cipher_len = 0;
  bool final = false;
};

// The header at `p`, checked before any of its ciphertext is waited for, so a forged length
// cannot make us buffer more than one record.
Result<Header> parse_header(const uint8_t* p) {
  const uint32_t v = (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
  Header h{v & ~kFinalBit, (v & kFinalBit) != 0};
  if (h.cipher_len < kRecordTagBytes || h.cipher_len > kMaxCipher) {
    return Status::corruption("record length " + std::to_string(h.cipher_len) + " out of range");
  }
  return h;
}

EVP_CIPHER_CTX* new_context(const DirectionKey& key, bool encrypt) {
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  SHOAL_CHECK(ctx != nullptr, "out of memory for a cipher context");
  const int ok = encrypt ? EVP_EncryptInit_ex(ctx, EVP_chacha20_poly1305(), nullptr, key.data(), nullptr)
                         : EVP_DecryptInit_ex(ctx, EVP_chacha20_poly1305(), nullptr, key.data(), nullptr);
  SHOAL_CHECK(ok == 1, "ChaCha20-Poly1305 is not available from OpenSSL");
  return ctx;
}

}  // namespace

Sealer::Sealer(const DirectionKey& key) : ctx_(new_context(key, true)) {}

Sealer::~Sealer() { EVP_CIPHER_CTX_free(ctx_); }  // which cleanses the key schedule

void Sealer::seal_one(ByteView plain, bool final, Bytes& out) {
  // 2^64 records of this direction would wrap the nonce; no connection lives that long.
  SHOAL_CHECK(next_ != UINT64_MAX, "a channel direction ran out of record numbers");
  const size_t clen = plain.size() + kRecordTagBytes;
  const size_t at = out.size();
  out.resize(at + kRecordHeaderBytes + clen);
  uint8_t* header = out.data() + at;
  put_header(header, static_cast<uint32_t>(clen) | (final ? kFinalBit : 0));
  const Nonce nonce = nonce_for(next_++);
  int n = 0, fin = 0;
  const bool ok =
      EVP_EncryptInit_ex(ctx_, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
      EVP_EncryptUpdate(ctx_, nullptr, &n, header, kRecordHeaderBytes) == 1 &&
      // No update for an empty record: a null output would make it more additional data.
      (plain.empty() || EVP_EncryptUpdate(ctx_, header + kRecordHeaderBytes, &n, plain.data(),
                                          static_cast<int>(plain.size())) == 1) &&
      EVP_EncryptFinal_ex(ctx_, header + kRecordHeaderBytes + plain.size(), &fin) == 1 &&
      EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_GET_TAG, kRecordTagBytes,
                          header + kRecordHeaderBytes + plain.size()) == 1;
  SHOAL_CHECK(ok, "ChaCha20-Poly1305 sealing failed");
}

void Sealer::seal(ByteView plain, Bytes& out) {
  if (closed_) return;
  out.reserve(out.size() + plain.size() + (plain.size() / kMaxRecordPlain + 1) * kRecordOverhead);
  while (!plain.empty()) {
    const size_t n = std::min(plain.size(), kMaxRecordPlain);
    seal_one(plain.first(n), false, out);
    plain = plain.subspan(n);
  }
}

void Sealer::close(Bytes& out) {
  if (closed_) return;
  seal_one({}, true, out);
  closed_ = true;
}

Opener::Opener(const DirectionKey& key) : ctx_(new_context(key, false)) {}

Opener::~Opener() { EVP_CIPHER_CTX_free(ctx_); }

Status Opener::feed(ByteView in, Bytes& plain) {
  if (!error_.ok()) return error_;
  if (!pending_.empty()) {
    // Complete the record begun earlier, taking only the bytes it still lacks.
    auto take = [&](size_t want) {
      const size_t n = std::min(want - std::min(want, pending_.size()), in.size());
      pending_.insert(pending_.end(), in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
      in = in.subspan(n);
    };
    take(kRecordHeaderBytes);
    if (pending_.size() < kRecordHeaderBytes) return Status();
    auto header = parse_header(pending_.data());
    if (!header.ok()) return error_ = header.status();
    take(kRecordHeaderBytes + header->cipher_len);
    if (pending_.size() < kRecordHeaderBytes + header->cipher_len) return Status();
    size_t used = 0;
    error_ = open_records(pending_, used, plain);
    pending_.clear();
    if (!error_.ok()) return error_;
  }
  if (finished_) {
    if (!in.empty()) error_ = Status::corruption("bytes after the final record");
    return error_;
  }
  size_t used = 0;
  error_ = open_records(in, used, plain);
  if (!error_.ok()) return error_;
  if (finished_ && used != in.size()) return error_ = Status::corruption("bytes after the final record");
  pending_.assign(in.begin() + static_cast<std::ptrdiff_t>(used), in.end());
  return Status();
}

Status Opener::open_records(ByteView in, size_t& used, Bytes& plain) {
  while (!finished_ && in.size() - used >= kRecordHeaderBytes) {
    const uint8_t* record = in.data() + used;
    auto header = parse_header(record);
    if (!header.ok()) return header.status();
    if (in.size() - used - kRecordHeaderBytes < header->cipher_len) break;
    const size_t mlen = header->cipher_len - kRecordTagBytes;
    const uint8_t* cipher = record + kRecordHeaderBytes;
    const size_t at = plain.size();
    plain.resize(at + mlen);
    const Nonce nonce = nonce_for(next_);
    int n = 0, fin = 0;
    // The tag is set before Final, which checks it; a context left mid-record by a failure
    // is reinitialized by the next record's DecryptInit, though none follows a failure.
    const bool ok =
        EVP_DecryptInit_ex(ctx_, nullptr, nullptr, nullptr, nonce.data()) == 1 &&
        EVP_DecryptUpdate(ctx_, nullptr, &n, record, kRecordHeaderBytes) == 1 &&
        (mlen == 0 ||
         EVP_DecryptUpdate(ctx_, plain.data() + at, &n, cipher, static_cast<int>(mlen)) == 1) &&
        EVP_CIPHER_CTX_ctrl(ctx_, EVP_CTRL_AEAD_SET_TAG, kRecordTagBytes,
                            const_cast<uint8_t*>(cipher + mlen)) == 1 &&
        EVP_DecryptFinal_ex(ctx_, plain.data() + at + mlen, &fin) == 1;
    if (!ok) {
      plain.resize(at);
      return Status::corruption("a record failed authentication (forged, replayed or reordered)");
    }
    ++next_;
    used += kRecordHeaderBytes + header->cipher_len;
    finished_ = header->final;
  }
  return Status();
}

Status Opener::end_of_input() const {
  if (!error_.ok()) return error_;
  if (finished_) return Status();
  return Status::corruption("truncated: the stream ended without its final record");
}

}  // namespace shoal::node::secure
