// Simulated clients, and the shell's side of their requests: what the host will do when it
// serves a key-value API on top of a group.
#include <fmt/format.h>

#include "simulations/raft/raft_cluster.h"

namespace shoal::sim {

namespace {
int64_t ns(TimePoint t) { return (t - kTimeZero).count(); }
}  // namespace

void RaftCluster::client_next(uint32_t c) {
  Client& cl = clients_[c];
  cl.busy = true;
  cl.put = rng_.uniform01() >= p_.read_fraction;
  cl.cmd = KvCommand{};
  cl.cmd.client = c + 1;  // 0 is nobody
  cl.cmd.key = fmt::format("k{}", rng_.uniform(uint64_t(p_.keys)));
  lincheck::KvOp op;
  op.client = c;
  op.key = cl.cmd.key;
  op.call = ns(now_);
  if (cl.put) {
    cl.cmd.seq = ++cl.seq;
    cl.cmd.value = fmt::format("c{}.{}", c, cl.cmd.seq);
    op.kind = lincheck::OpKind::put;
    op.value = cl.cmd.value;
  }
  cl.op = history_.size();
  history_.push_back(std::move(op));
  abandoned_.push_back(0);
  cl.deadline = now_ + p_.client_timeout;
  push(Ev{cl.deadline, 0, Kind::client_timeout, c, 0, cl.op, nullptr});
  client_send(c);
}

void RaftCluster::client_send(uint32_t c) {
  Client& cl = clients_[c];
  ClientRequest r;
  r.client = c;
  r.req = ++cl.req;
  r.put = cl.put;
  r.cmd = cl.cmd;
  const size_t bytes = 32 + r.cmd.key.size() + r.cmd.value.size();
  send(n_ + c, cl.target, std::move(r), bytes);
  // A request or reply the network lost: ask again after a while, same command.
  push(Ev{now_ + p_.client_timeout / 4, 0, Kind::client_retry, c, 0, cl.req, nullptr});
}

void RaftCluster::client_reply(uint32_t c, const ClientReply& r) {
  Client& cl = clients_[c];
  if (!cl.busy || r.req != cl.req) return;  // an answer to an attempt it gave up on
  switch (r.kind) {
    case ClientReply::Kind::ok: {
      lincheck::KvOp& op = history_[cl.op];
      op.ret = ns(now_);
      if (cl.put) {
        ++writes_ok_;
        if (quiet_) ++writes_after_quiet_;
      } else {
        op.value = r.value;
        ++reads_ok_;
      }
      cl.busy = false;
      const auto think = uint64_t(std::max<Duration::rep>(1, p_.think.count()));
      push(Ev{now_ + Duration(rng_.uniform(think)), 0, Kind::client_next, c, 0, 0, nullptr});
      return;
    }
    case ClientReply::Kind::not_leader: {
      const size_t hint = index_of(r.leader);
      cl.target = hint != SIZE_MAX ? uint32_t(hint) : uint32_t(rng_.uniform(n_));
      break;
    }
    case ClientReply::Kind::failed:
      break;
  }
  ++cl.req;  // the retry scheduled by client_send for the old attempt is now stale
  push(Ev{now_ + p_.retry, 0, Kind::client_retry, c, 0, cl.req, nullptr});
}

void RaftCluster::client_timeout(uint32_t c, uint64_t op) {
  Client& cl = clients_[c];
  if (!cl.busy || cl.op != op) return;
  if (cl.put) {
    ++writes_unknown_;  // it may yet take effect: the history keeps it pending
  } else {
    ++reads_abandoned_;
    abandoned_[op] = 1;
  }
  cl.busy = false;
  cl.target = uint32_t(rng_.uniform(n_));
  client_next(c);
}

void RaftCluster::reply(size_t i, uint32_t client, ClientReply r) {
  const size_t bytes = 32 + r.value.size();
  send(i, n_ + client, std::move(r), bytes);
}

void RaftCluster::on_request(size_t i, const ClientRequest& r) {
  Node& n = nodes_[i];
  const raft::Core& core = *n.core;
  if (!r.put && p_.stale_reads) {
    return reply(i, r.client, {r.req, ClientReply::Kind::ok, n.kv.get(r.cmd.key), ""});
  }
  if (core.role() != raft::Role::leader) {
    return reply(i, r.client, {r.req, ClientReply::Kind::not_leader, "", core.leader()});
  }
  if (!r.put) {
    const uint64_t id = n.next_read_id++;
    n.reads[id] = WaitingRead{r.client, r.req, r.cmd.key, 0};
    step(i, raft::ReadIndex{id});
    return;
  }
  if (n.kv.applied(r.cmd.client, r.cmd.seq)) {
    // A retry of a command this (committed) machine already holds.
    return reply(i, r.client, {r.req, ClientReply::Kind::ok, "", ""});
  }
  proposing_ = WaitingWrite{0, r.client, r.req};
  StepResult res = step(i, raft::Propose{encode_kv_command(r.cmd)});
  proposing_.reset();
  if (!res.status.ok()) {
    reply(i, r.client, {r.req, ClientReply::Kind::not_leader, "", n.up ? n.core->leader() : ""});
  }
}

void RaftCluster::after_apply(size_t i) {
  Node& n = nodes_[i];
  std::erase_if(n.confirmed_reads, [&](const WaitingRead& r) {
    if (r.index > n.kv.index()) return false;
    reply(i, r.client, {r.req, ClientReply::Kind::ok, n.kv.get(r.key), ""});
    return true;
  });
}

}  // namespace shoal::sim
