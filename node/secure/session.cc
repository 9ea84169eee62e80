#include "node/secure/session.h"

#include <algorithm>

namespace shoal::node::secure {

namespace {
constexpr size_t kMaxCipher = kMaxRecordPlain + crypto_secretstream_xchacha20poly1305_ABYTES;

void put_u32(Bytes& out, uint32_t v) {
  out.push_back(static_cast<uint8_t>(v >> 24));
  out.push_back(static_cast<uint8_t>(v >> 16));
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}

void seal_one(crypto_secretstream_xchacha20poly1305_state& st, ByteView plain, unsigned char tag,
              Bytes& out) {
  const size_t clen = plain.size() + crypto_secretstream_xchacha20poly1305_ABYTES;
  put_u32(out, static_cast<uint32_t>(clen));
  const size_t at = out.size();
  out.resize(at + clen);
  crypto_secretstream_xchacha20poly1305_push(&st, out.data() + at, nullptr, plain.data(),
                                             plain.size(), nullptr, 0, tag);
}
}  // namespace

Sealer::Sealer(const DirectionKey& key) {
  crypto_secretstream_xchacha20poly1305_init_push(&st_, header_.data(), key.data());
}

Sealer::~Sealer() { sodium_memzero(&st_, sizeof st_); }

void Sealer::header_once(Bytes& out) {
  if (header_sent_) return;
  header_sent_ = true;
  out.insert(out.end(), header_.begin(), header_.end());
}

void Sealer::seal(ByteView plain, Bytes& out) {
  if (closed_) return;
  header_once(out);
  out.reserve(out.size() + plain.size() +
              (plain.size() / kMaxRecordPlain + 1) * kRecordOverhead);
  while (!plain.empty()) {
    const size_t n = std::min(plain.size(), kMaxRecordPlain);
    seal_one(st_, plain.first(n), crypto_secretstream_xchacha20poly1305_TAG_MESSAGE, out);
    plain = plain.subspan(n);
  }
}

void Sealer::close(Bytes& out) {
  if (closed_) return;
  header_once(out);
  seal_one(st_, {}, crypto_secretstream_xchacha20poly1305_TAG_FINAL, out);
  closed_ = true;
}

Opener::Opener(const DirectionKey& key) : key_(key) {}

Opener::~Opener() {
  sodium_memzero(&st_, sizeof st_);
  sodium_memzero(key_.data(), key_.size());
}

Status Opener::feed(ByteView in, Bytes& plain) {
  if (!error_.ok()) return error_;
  if (finished_) {
    if (in.empty()) return Status();
    error_ = Status::corruption("bytes after the final record");
    return error_;
  }
  pending_.insert(pending_.end(), in.begin(), in.end());
  error_ = open_records(plain);
  // Keep the unread tail only: a long-lived channel must not grow its buffer.
  if (consumed_ > 0) {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(consumed_));
    consumed_ = 0;
  }
  return error_;
}

Status Opener::open_records(Bytes& plain) {
  if (!have_header_) {
    if (pending_.size() < kStreamHeaderBytes) return Status();
    if (crypto_secretstream_xchacha20poly1305_init_pull(&st_, pending_.data(), key_.data()) != 0) {
      return Status::corruption("bad stream header");
    }
    sodium_memzero(key_.data(), key_.size());
    have_header_ = true;
    consumed_ = kStreamHeaderBytes;
  }
  while (pending_.size() - consumed_ >= 4) {
    const uint8_t* p = pending_.data() + consumed_;
    const size_t clen = (size_t{p[0]} << 24) | (size_t{p[1]} << 16) | (size_t{p[2]} << 8) | p[3];
    if (clen < crypto_secretstream_xchacha20poly1305_ABYTES || clen > kMaxCipher) {
      return Status::corruption("record length " + std::to_string(clen) + " out of range");
    }
    if (pending_.size() - consumed_ - 4 < clen) break;
    const size_t at = plain.size();
    plain.resize(at + clen - crypto_secretstream_xchacha20poly1305_ABYTES);
    unsigned long long mlen = 0;
    unsigned char tag = 0;
    if (crypto_secretstream_xchacha20poly1305_pull(&st_, plain.data() + at, &mlen, &tag, p + 4,
                                                   clen, nullptr, 0) != 0) {
      plain.resize(at);
      return Status::corruption("a record failed authentication (forged, replayed or reordered)");
    }
    plain.resize(at + mlen);
    consumed_ += 4 + clen;
    if (tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL) {
      finished_ = true;
      if (consumed_ != pending_.size()) return Status::corruption("bytes after the final record");
      return Status();
    }
    if (tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
      return Status::corruption("a record with an unexpected tag");
    }
  }
  return Status();
}

Status Opener::end_of_input() const {
  if (!error_.ok()) return error_;
  if (finished_) return Status();
  return Status::corruption("truncated: the stream ended without its final record");
}

}  // namespace shoal::node::secure
