// Packets and streams: decoding what arrives (each layer of framing checked), answering
// pings, relaying indirect probes, and framing what we send. The rules about members live
// in memberlist_state.cc; this file only carries messages to and from them.
#include <spdlog/spdlog.h>

#include "gossip/memberlist.h"
#include "gossip/lzw.h"
#include "gossip/wire.h"

namespace shoal::gossip {

namespace {
constexpr int kMaxNesting = 4;  // compound-in-compress-in-... deeper than this is hostile
constexpr size_t kMaxDecompressed = 10 * 1024 * 1024;
}  // namespace

void Memberlist::drop(std::string_view reason, const Address& from, const Status& why) {
  ++counters_.dropped;
  ++counters_.drop_reasons[std::string(reason)];
  spdlog::debug("memberlist: dropped input from {}: {}: {}", from.to_string(), reason,
                why.to_string());
}

void Memberlist::count_decrypt_failure(DecryptFailure why, const Address& from,
                                       const Status& status) {
  ++counters_.decrypt_failures;
  const std::string reason(to_string(why));
  const uint64_t n = ++counters_.drop_reasons[reason];
  ++counters_.dropped;
  // Logged at 1, 2, 4, 8, ... per reason: a peer with the wrong key must not flood the log.
  if ((n & (n - 1)) == 0) {
    spdlog::warn("gossip-decrypt-failed from={} reason=\"{}\" count={} error=\"{}\"",
                 from.to_string(), reason, n, status.message());
  }
}

void Memberlist::handle_packet(const Address& from, ByteView data, TimePoint now) {
  ++counters_.packets_received;
  counters_.bytes_received += data.size();
  if (data.empty()) {
    drop("empty packet", from, Status::corruption("zero bytes"));
    return;
  }
  Decrypted decrypted;
  if (keyring().enabled()) {
    DecryptFailure why = DecryptFailure::none;
    auto plain = decrypt_payload(keyring(), data, {}, &why);
    if (plain.ok()) {
      if (replay_guard_.seen(plain->nonce)) {
        ++counters_.replays;
        drop("replayed packet", from, Status::corruption("nonce seen before"));
        return;
      }
      decrypted = std::move(*plain);
      data = decrypted.plain;
      if (data.empty()) {
        drop("empty packet", from, Status::corruption("zero bytes once decrypted"));
        return;
      }
    } else if (opt_.config.verify_incoming) {
      count_decrypt_failure(why, from, plain.status());
      return;
    }
    // else: upshifting a running cluster to encryption, plaintext is still welcome.
  }
  auto inner = check_crc(data);
  if (!inner.ok()) {
    drop("bad checksum", from, inner.status());
    return;
  }
  handle_command(from, *inner, now, 0);
}

void Memberlist::handle_command(const Address& from, ByteView buf, TimePoint now, int depth) {
  if (buf.empty()) {
    drop("empty message", from, Status::corruption("no type byte"));
    return;
  }
  if (depth > kMaxNesting) {
    drop("nesting too deep", from, Status::corruption("framing nested past 4 levels"));
    return;
  }
  const auto type = static_cast<MessageType>(buf[0]);
  const ByteView body = buf.subspan(1);
  switch (type) {
    case MessageType::compound: {
      auto parts = split_compound(body);
      if (!parts.ok()) {
        drop("bad compound", from, parts.status());
        return;
      }
      for (ByteView part : *parts) handle_command(from, part, now, depth + 1);
      return;
    }
    case MessageType::compress: {
      auto plain = decode_compress(body, kMaxDecompressed);
      if (!plain.ok()) {
        drop("bad compression", from, plain.status());
        return;
      }
      handle_command(from, *plain, now, depth + 1);
      return;
    }
    case MessageType::ping: return handle_ping(from, body);
    case MessageType::indirect_ping: return handle_indirect_ping(from, body, now);
    case MessageType::ack: return handle_ack(body, now);
    case MessageType::nack: return handle_nack(body);
    case MessageType::suspect: {
      auto s = decode_suspect(body);
      if (!s.ok()) return drop("bad suspect", from, s.status());
      return suspect_node(*s, now);
    }
    case MessageType::alive: {
      auto a = decode_alive(body);
      if (!a.ok()) return drop("bad alive", from, a.status());
      // Protocol 1 peers omit the port; they use ours.
      if (a->port == 0) a->port = opt_.advertise.port;
      return alive_node(*a, false, now);
    }
    case MessageType::dead: {
      auto d = decode_dead(body);
      if (!d.ok()) return drop("bad dead", from, d.status());
      return dead_node(*d, now);
    }
    case MessageType::user:
      delegate_->notify_msg(body, now);
      return;
    default:
      drop("unknown message type", from,
           Status::corruption(fmt::format("type {} is not a packet message", buf[0])));
  }
}

void Memberlist::handle_ping(const Address& from, ByteView body) {
  auto p = decode_ping(body);
  if (!p.ok()) return drop("bad ping", from, p.status());
  if (!p->node.empty() && p->node != opt_.name) {
    // A ping meant for whoever had our address before us (a restart under a new name).
    drop("ping for another node", from, Status::invalid_argument(p->node));
    return;
  }
  Address reply_to = from;
  if (!p->source_addr.empty() && p->source_port > 0) {
    if (auto a = Address::from_bytes(p->source_addr, p->source_port); a.ok()) reply_to = *a;
  }
  send_msg(reply_to, encode(Ack{p->seq_no, delegate_->ack_payload()}));
}

void Memberlist::handle_indirect_ping(const Address& from, ByteView body, TimePoint now) {
  auto ind = decode_indirect_ping(body);
  if (!ind.ok()) return drop("bad indirect ping", from, ind.status());
  if (ind->port == 0) ind->port = opt_.advertise.port;
  auto target = Address::from_bytes(ind->target, ind->port);
  if (!target.ok()) return drop("bad indirect ping target", from, target.status());
  Address requester = from;
  if (!ind->source_addr.empty() && ind->source_port > 0) {
    if (auto a = Address::from_bytes(ind->source_addr, ind->source_port); a.ok()) requester = *a;
  }
  const uint32_t seq = next_seq();
  relays_[seq] = Relay{ind->seq_no, requester, ind->nack, now + opt_.config.probe_timeout};
  Ping ping{seq, ind->node, opt_.advertise.ip_vector(), opt_.advertise.port, opt_.name};
  send_msg(*target, encode(ping));
}

void Memberlist::handle_ack(ByteView body, TimePoint now) {
  auto ack = decode_ack(body);
  if (!ack.ok()) return drop("bad ack", Address{}, ack.status());
  if (auto it = relays_.find(ack->seq_no); it != relays_.end()) {
    // The target answered our relayed ping: pass the good news to whoever asked.
    send_msg(it->second.requester, encode(Ack{it->second.their_seq, {}}));
    relays_.erase(it);
    return;
  }
  if (probe_ && probe_->seq == ack->seq_no) {
    if (NodeState* n = find(probe_->node)) {
      delegate_->notify_ping_complete(*n, now - probe_->sent, ack->payload);
    }
    probe_finish(true, now);
  }
  // Anything else is a late ack for a probe that already concluded: harmless.
}

void Memberlist::handle_nack(ByteView body) {
  auto nack = decode_nack(body);
  if (!nack.ok()) return drop("bad nack", Address{}, nack.status());
  if (probe_ && probe_->seq == nack->seq_no) ++probe_->nacks;
}

std::vector<Bytes> Memberlist::get_broadcasts(size_t overhead, size_t limit, size_t max_count) {
  std::vector<Bytes> out;
  size_t used = 0;
  auto add_user = [&](std::vector<Bytes> msgs) {
    for (auto& msg : msgs) {
      Bytes framed;
      framed.reserve(msg.size() + 1);
      framed.push_back(static_cast<uint8_t>(MessageType::user));
      framed.insert(framed.end(), msg.begin(), msg.end());
      used += framed.size() + overhead;
      out.push_back(std::move(framed));
    }
  };
  // The delegate's urgent messages (user events, queries) go first, in at most half the
  // space: while a join storm's alive messages fill every packet, an event queued behind
  // them waited up to a second at each hop (simulations/scenarios/user_events.toml). Half
  // leaves membership its room when events come in floods.
  if (limit / 2 > overhead + kUserMsgOverhead) {
    add_user(delegate_->get_urgent_broadcasts(overhead + kUserMsgOverhead, limit / 2, max_count));
  }
  const int transmit_limit = retransmit_limit(opt_.config.retransmit_mult, nodes_.size());
  if (used < limit && out.size() < max_count) {
    for (auto& m : broadcasts_.take(overhead, limit - used, transmit_limit, max_count - out.size())) {
      used += m.size() + overhead;
      out.push_back(std::move(m));
    }
  }
  if (limit > used && limit - used > overhead + kUserMsgOverhead && out.size() < max_count) {
    add_user(delegate_->get_broadcasts(overhead + kUserMsgOverhead, limit - used,
                                       max_count - out.size()));
  }
  return out;
}

void Memberlist::send_msg(const Address& to, Bytes msg, const NodeState* node) {
  if (msg.size() + kCompoundHeaderOverhead >= opt_.config.udp_buffer_size) {
    send_raw(to, std::move(msg), node);
    return;
  }
  size_t avail = opt_.config.udp_buffer_size - msg.size() - kCompoundHeaderOverhead;
  if (encrypting()) {
    const size_t overhead = encrypt_overhead(encryption_version_for(opt_.protocol_version));
    avail = avail > overhead ? avail - overhead : 0;
  }
  auto extra = get_broadcasts(kCompoundOverhead, avail, kMaxCompoundParts - 1);
  if (extra.empty()) {
    send_raw(to, std::move(msg), node);
    return;
  }
  extra.insert(extra.begin(), std::move(msg));
  send_raw(to, make_compound(extra), node);
}

void Memberlist::send_raw(const Address& to, Bytes msg, const NodeState* node) {
  if (opt_.config.enable_compression) {
    Bytes packed = encode_compress(msg);
    if (packed.size() < msg.size()) msg = std::move(packed);
  }
  if (node != nullptr && node->pmax() >= 5) msg = add_crc(msg);
  if (encrypting()) {
    msg = encrypt_payload(encryption_version_for(opt_.protocol_version), keyring().primary(),
                          msg, {}, random_nonce());
  }
  ++counters_.packets_sent;
  counters_.bytes_sent += msg.size();
  out_->push_back(SendPacket{to, std::move(msg)});
}

void Memberlist::send_user_packet(const Address& to, ByteView msg) {
  Bytes framed;
  framed.reserve(msg.size() + 1);
  framed.push_back(static_cast<uint8_t>(MessageType::user));
  framed.insert(framed.end(), msg.begin(), msg.end());
  send_raw(to, std::move(framed), nullptr);
}

uint64_t Memberlist::open_stream(const Address& to, Bytes data, bool expect_reply,
                                 PendingStream pending, Duration timeout) {
  const uint64_t id = ++next_stream_id_;
  if (expect_reply) streams_.emplace(id, std::move(pending));
  out_->push_back(StreamRequest{id, to, wrap_stream(std::move(data)), expect_reply, timeout});
  return id;
}

Bytes Memberlist::wrap_stream(Bytes message) const {
  if (!encrypting()) return message;
  return encrypt_stream(encryption_version_for(opt_.protocol_version), keyring().primary(),
                        message, random_nonce());
}

Result<Bytes> Memberlist::unwrap_stream(ByteView message, DecryptFailure* why) {
  if (message.empty()) return Status::corruption("empty stream message");
  Bytes decrypted;
  if (message[0] == static_cast<uint8_t>(MessageType::encrypt)) {
    if (!keyring().enabled()) {
      *why = DecryptFailure::encryption_disabled;
      return Status::failed_precondition(
          "remote state is encrypted and encryption is not configured");
    }
    auto plain = decrypt_stream(keyring(), message, why);
    if (!plain.ok()) return plain.status();
    if (replay_guard_.seen(plain->nonce)) {
      ++counters_.replays;
      return Status::corruption("replayed stream message (nonce seen before)");
    }
    if (plain->plain.empty()) return Status::corruption("empty decrypted stream message");
    decrypted = std::move(plain->plain);
    message = decrypted;
  } else if (keyring().enabled() && opt_.config.verify_incoming) {
    *why = DecryptFailure::not_encrypted;
    return Status::failed_precondition(
        "encryption is configured but remote state is not encrypted");
  }
  if (message[0] == static_cast<uint8_t>(MessageType::compress)) {
    auto plain = decode_compress(message.subspan(1), kMaxPushStateBytes);
    if (!plain.ok()) return plain.status();
    if (plain->empty()) return Status::corruption("empty compressed stream message");
    return std::move(*plain);
  }
  if (!decrypted.empty()) return decrypted;
  return Bytes(message.begin(), message.end());
}

std::optional<Bytes> Memberlist::handle_stream(const Address& from, ByteView message,
                                               TimePoint now) {
  auto reply = handle_plain_stream(from, message, now);
  if (reply) return wrap_stream(std::move(*reply));
  return std::nullopt;
}

std::optional<Bytes> Memberlist::handle_plain_stream(const Address& from, ByteView message,
                                                     TimePoint now) {
  ++counters_.streams_received;
  DecryptFailure why = DecryptFailure::none;
  auto plain = unwrap_stream(message, &why);
  if (!plain.ok()) {
    if (why != DecryptFailure::none) {
      count_decrypt_failure(why, from, plain.status());
    } else {
      drop("bad stream", from, plain.status());
    }
    return encode(ErrResp{plain.status().message()});
  }
  const ByteView buf = *plain;
  const ByteView body = buf.subspan(1);
  switch (static_cast<MessageType>(buf[0])) {
    case MessageType::push_pull: {
      // Answer with our state first, as memberlist does, then merge theirs.
      auto pp = decode_push_pull(body);
      if (!pp.ok()) {
        drop("bad push-pull", from, pp.status());
        return encode(ErrResp{pp.status().message()});
      }
      Bytes reply = local_push_pull(pp->join);
      if (Status s = verify_protocol(pp->nodes); !s.ok()) {
        spdlog::error("memberlist: push-pull from {} refused: {}", from.to_string(),
                      s.to_string());
        return reply;
      }
      merge_state(pp->nodes, now);
      if (!pp->user_state.empty()) delegate_->merge_remote_state(pp->user_state, pp->join, now);
      return reply;
    }
    case MessageType::ping: {
      auto p = decode_ping(body);
      if (!p.ok()) {
        drop("bad stream ping", from, p.status());
        return std::nullopt;
      }
      if (!p->node.empty() && p->node != opt_.name) {
        drop("stream ping for another node", from, Status::invalid_argument(p->node));
        return std::nullopt;
      }
      return encode(Ack{p->seq_no, {}});
    }
    case MessageType::user: {
      auto payload = decode_user_stream(body);
      if (!payload.ok()) {
        drop("bad stream user message", from, payload.status());
        return std::nullopt;
      }
      if (!payload->empty()) delegate_->notify_msg(*payload, now);
      return std::nullopt;
    }
    default:
      drop("unexpected stream message", from,
           Status::corruption(fmt::format("type {} is not a stream message", buf[0])));
      return encode(ErrResp{fmt::format("received invalid msgType ({})", buf[0])});
  }
}

bool Memberlist::handle_stream_reply(uint64_t id, const Result<Bytes>& reply, TimePoint now) {
  auto it = streams_.find(id);
  if (it == streams_.end()) return false;
  PendingStream pending = std::move(it->second);
  streams_.erase(it);

  Status result;
  Bytes plain_storage;
  DecryptFailure why = DecryptFailure::none;
  Result<Bytes> plain = reply.ok() ? unwrap_stream(*reply, &why) : Result<Bytes>(reply.status());
  if (!plain.ok()) {
    result = plain.status();
    if (why == DecryptFailure::not_encrypted && !reply->empty() &&
        (*reply)[0] == static_cast<uint8_t>(MessageType::err)) {
      // A plaintext peer refusing our encrypted stream: its reason is the useful part.
      auto e = decode_err(ByteView(*reply).subspan(1));
      if (e.ok()) result = Status::failed_precondition("remote error: " + e->error);
    } else if (why == DecryptFailure::no_key) {
      result = Status::permission_denied(
          "the reply could not be decrypted with any installed key: the peer uses a different "
          "encryption key");
    }
    if (why != DecryptFailure::none) count_decrypt_failure(why, Address{}, plain.status());
  } else {
    plain_storage = std::move(*plain);
    const ByteView buf = plain_storage;
    const auto type = static_cast<MessageType>(buf[0]);
    if (type == MessageType::err) {
      auto e = decode_err(buf.subspan(1));
      result = Status::unavailable("remote error: " + (e.ok() ? e->error : "(undecodable)"));
    } else if (pending.kind == StreamKind::tcp_ping) {
      if (type != MessageType::ack) {
        result = Status::corruption("unexpected reply to TCP ping");
      } else if (auto ack = decode_ack(buf.subspan(1)); !ack.ok()) {
        result = ack.status();
      } else if (probe_ && probe_->tcp_stream == id && ack->seq_no == probe_->seq) {
        probe_->tcp_ok = true;
      }
    } else if (type != MessageType::push_pull) {
      result = Status::corruption(fmt::format("expected push-pull reply, got type {}", buf[0]));
    } else {
      result = merge_remote_push_pull(buf.subspan(1), pending.kind == StreamKind::join_push_pull,
                                      now);
    }
  }

  if (!result.ok() && pending.kind != StreamKind::tcp_ping) {
    spdlog::warn("memberlist: push/pull with {} failed: {}", pending.address, result.to_string());
  }
  if (pending.kind == StreamKind::join_push_pull) {
    finish_join_stream(pending.join_op, pending.address, result);
  }
  return true;
}

}  // namespace shoal::gossip
