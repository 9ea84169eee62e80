#!/usr/bin/python3
"""bench/gossip: Shoal agents beside real serf agents, same profile, same run.

For each cluster size N it starts N serf agents, then N shoal agents (never both at once,
so they do not compete for the 2 cores), and measures for each kind:
  - convergence: from the first join request until every agent has seen N-1 joins;
  - failure detection after kill -9 of one agent: first agent to mark it failed, and all;
  - RSS per agent (median) after convergence, and idle CPU per agent over --idle seconds;
  - user event propagation: right after the joins are requested, a burst of --events user
    events (not coalescable) is sent from agents in turn; for each event, the time until
    every agent has delivered it. Each agent's events are read from its own stream (serf:
    the agent RPC `stream` of type user; shoal: GET /v1/agent/events), stamped on arrival.
    Reported: median and worst event time-to-all, and how many events reached every agent
    within 2 s (the goal at N = 50) and within --event-window seconds at all.

Both kinds are observed the same way: one thread polls every agent's member list in turn
over a persistent connection (serf: the agent RPC `members` command; shoal: GET
/v1/members with keep-alive) and records when each agent first shows the expected view.
(serf's own event stream is no use here: the serf agent coalesces member events for 1-3 s.)
The resolution is one polling round, printed with the results. No polling runs while idle
CPU is sampled. Everything runs on 127.0.0.1 inside a private network namespace.

usage: bench/gossip/gossip_bench.py [--sizes 10,30,50] [--profile lan] [--idle 30]
                                   [--trials 1] [--shoal build/cli/shoal] [--serf serf]
"""
import argparse
import base64
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import http.client
import time
import urllib.request

import msgpack

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import (agent_token_args, auth_headers, in_private_netns,  # noqa: E402
                      proc_cpu_seconds, proc_status_kib)


class Ports:
    def __init__(self, start=20000):
        self.next = start

    def take(self):
        self.next += 1
        return self.next


# ---------------------------------------------------------------- serf (reference peer)

class SerfRpc:
    """A serf agent RPC connection: handshake, then commands and an event stream."""

    def __init__(self, addr):
        host, port = addr.split(":")
        self.sock = socket.create_connection((host, int(port)), timeout=5)
        self.unpacker = msgpack.Unpacker(raw=True)
        self.seq = 0
        self.lock = threading.Lock()
        self.call("handshake", {"Version": 1})

    def _read_obj(self):
        while True:
            for obj in self.unpacker:
                return obj
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("serf rpc closed")
            self.unpacker.feed(data)

    def call(self, command, body=None):
        with self.lock:
            self.seq += 1
            msg = msgpack.packb({"Command": command, "Seq": self.seq})
            if body is not None:
                msg += msgpack.packb(body)
            self.sock.sendall(msg)
            header = self._read_obj()
            err = header.get(b"Error", b"")
            if err:
                raise RuntimeError(f"serf {command}: {err.decode()}")
            if command in ("join", "members"):
                return self._read_obj()
            return None

    def members(self):
        body = self.call("members")
        return {m[b"Name"].decode(): m[b"Status"].decode() for m in body.get(b"Members", [])}


class SerfEventStream(threading.Thread):
    """One serf agent's user events, each name stamped with its first arrival time."""

    def __init__(self, addr, seen):
        super().__init__(daemon=True)
        self.rpc, self.seen = SerfRpc(addr), seen
        self.rpc.call("stream", {"Type": "user"})

    def run(self):
        try:
            while True:
                obj = self.rpc._read_obj()
                name = obj.get(b"Name") if isinstance(obj, dict) else None
                if name is not None:
                    self.seen.setdefault(name.decode(), time.time())
        except (OSError, EOFError):
            pass


class ShoalEventStream(threading.Thread):
    """One shoal agent's user events from GET /v1/agent/events (Server-Sent Events)."""

    def __init__(self, api, seen):
        super().__init__(daemon=True)
        host, port = api.split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=600)
        self.conn.request("GET", "/v1/agent/events", headers=auth_headers())
        self.resp = self.conn.getresponse()
        self.seen = seen

    def run(self):
        try:
            while True:
                line = self.resp.readline()
                if not line:
                    return
                if line.startswith(b"data: "):
                    doc = json.loads(line[6:])
                    if doc.get("type") == "user":
                        self.seen.setdefault(doc["name"], time.time())
        except (OSError, ValueError, http.client.HTTPException):
            pass


class AgentCluster:
    """N agents of one kind on 127.0.0.1, each with a gossip port and an API port.
    Subclasses give the command line (argv), how to reach the API (connect), how to join
    and how to read one agent's member list."""

    kind = "?"

    def __init__(self, n, ports, workdir):
        self.n, self.procs, self.gossip, self.api, self.names = n, [], [], [], []
        for i in range(n):
            name = f"{self.kind}-{i}"
            bind, api = ports.take(), ports.take()
            log = open(os.path.join(workdir, name + ".log"), "w")
            argv = self.argv(name, f"127.0.0.1:{bind}", f"127.0.0.1:{api}", workdir)
            self.procs.append(subprocess.Popen(argv, stdout=log, stderr=log))
            self.names.append(name)
            self.gossip.append(f"127.0.0.1:{bind}")
            self.api.append(f"127.0.0.1:{api}")
        self.clients = [retry(lambda a=a: self.connect(a), 20) for a in self.api]

    def pids(self):
        return [p.pid for p in self.procs if p.poll() is None]

    def stop(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
        for p in self.procs:
            p.wait()


def retry(fn, timeout):
    """fn() until it stops raising OSError, for at most `timeout` seconds."""
    deadline = time.time() + timeout
    while True:
        try:
            return fn()
        except OSError:
            if time.time() > deadline:
                raise
            time.sleep(0.05)


class SerfCluster(AgentCluster):
    kind = "serf"

    def __init__(self, n, profile, ports, workdir, serf_bin, key=None):
        self.profile, self.binary, self.key = profile, serf_bin, key
        super().__init__(n, ports, workdir)

    def argv(self, name, bind, api, workdir):
        return [self.binary, "agent", f"-node={name}", f"-bind={bind}", f"-rpc-addr={api}",
                f"-profile={self.profile}", "-log-level=warn"] + \
            ([f"-encrypt={self.key}"] if self.key else [])

    def connect(self, api):
        return SerfRpc(api)

    def join_all(self):
        for client in self.clients[1:]:
            client.call("join", {"Existing": [self.gossip[0]], "Replay": False})

    def event_stream(self, i, seen):
        return SerfEventStream(self.api[i], seen)

    def send_event(self, i, name):
        self.clients[i].call("event", {"Name": name, "Payload": b"x", "Coalesce": False})

    def members(self, i):
        try:
            return self.clients[i].members()
        except (OSError, EOFError, RuntimeError):
            return {}


# ---------------------------------------------------------------- shoal

def http_json(url, method="GET", body=None, timeout=10):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=auth_headers({"Content-Type": "application/json"}))
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read())


class KeepAlive:
    """GET over one persistent HTTP/1.1 connection, reconnecting when it drops."""

    def __init__(self, url):
        self.host, self.port = url.split("//")[1].split(":")
        self.conn = None

    def get_json(self, path):
        for _ in range(2):
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, int(self.port), timeout=2)
                self.conn.request("GET", path, headers=auth_headers())
                return json.loads(self.conn.getresponse().read())
            except (OSError, http.client.HTTPException):
                self.conn = None
        return None


class ShoalCluster(AgentCluster):
    kind = "shoal"

    def __init__(self, n, profile, ports, workdir, shoal_bin, key=None):
        self.profile, self.binary, self.ports, self.key = profile, shoal_bin, ports, key
        super().__init__(n, ports, workdir)

    def argv(self, name, bind, api, workdir):
        # --rpc defaults to bind's port + 1, which Ports may have handed out as `api`.
        rpc = f"127.0.0.1:{self.ports.take()}"
        return [self.binary, "agent", "--node", name, "--bind", bind, "--http", api, "--rpc", rpc,
                "--profile", self.profile, "--data-dir", os.path.join(workdir, name),
                "--log-level", "warn", "--router", "off"] + agent_token_args() + \
            (["--encrypt", self.key] if self.key else [])

    def connect(self, api):
        http_json(f"http://{api}/v1/health", timeout=1)  # raises OSError until it serves
        return KeepAlive(f"http://{api}")

    def join_all(self):
        for api in self.api[1:]:
            http_json(f"http://{api}/v1/join", "POST", {"addrs": [self.gossip[0]]})

    def event_stream(self, i, seen):
        return ShoalEventStream(self.api[i], seen)

    def send_event(self, i, name):
        req = urllib.request.Request(f"http://{self.api[i]}/v1/event/{name}?coalesce=false",
                                     data=b"x", method="POST", headers=auth_headers())
        with urllib.request.urlopen(req, timeout=10) as r:
            r.read()

    def members(self, i):
        doc = self.clients[i].get_json("/v1/members")
        return {m["name"]: m["status"] for m in doc["members"]} if doc else {}


# ---------------------------------------------------------------- measurements

def observe(cluster, indices, holds, timeout):
    """Polls agents `indices` round-robin until each shows a view for which holds(view) is
    true; returns ({index: first time it held}, mean seconds per polling round)."""
    seen = {}
    rounds = 0
    start = time.time()
    deadline = start + timeout
    while len(seen) < len(indices) and time.time() < deadline:
        for i in indices:
            if i in seen:
                continue
            if holds(cluster.members(i)):
                seen[i] = time.time()
        rounds += 1
    return seen, (time.time() - start) / max(rounds, 1)


def measure(cluster, idle_seconds, events, event_window):
    n = cluster.n
    everyone = list(range(n))
    result = {}

    arrivals = [dict() for _ in everyone]
    streams = [cluster.event_stream(i, arrivals[i]) for i in everyone]
    for s in streams:
        s.start()

    t0 = time.time()
    cluster.join_all()
    # The join requests go one after another, so their own latency is part of convergence.
    result["join_requests_s"] = time.time() - t0
    sent = {}
    for k in range(events):
        name = f"burst-{k}"
        sent[name] = time.time()
        cluster.send_event(k % n, name)
    seen, res = observe(cluster, everyone,
                        lambda v: len(v) == n and all(s == "alive" for s in v.values()), 120)
    result["converge_s"] = max(seen.values()) - t0 if len(seen) == n else float("nan")
    result["poll_round_s"] = res

    deadline = max(sent.values()) + event_window
    while time.time() < deadline and not all(len(a) >= events for a in arrivals):
        time.sleep(0.1)
    to_all = []
    for name, at in sent.items():
        got = [a.get(name) for a in arrivals]
        to_all.append(max(got) - at if all(t is not None for t in got) else float("inf"))
    finite = [t for t in to_all if t != float("inf")]
    result["event_median_s"] = statistics.median(to_all) if events else float("nan")
    result["event_max_s"] = max(to_all) if events else float("nan")
    result["events_in_2s"] = sum(1 for t in to_all if t <= 2.0)
    result["events_all"] = len(finite)
    result["event_misses"] = sum(1 for a in arrivals for name in sent if name not in a)

    time.sleep(3)  # let the join burst settle before sampling
    pids = cluster.pids()
    result["rss_mib"] = statistics.median(proc_status_kib(p, "VmRSS") for p in pids) / 1024
    # Private anonymous memory (heap, stacks): what each extra agent really costs, since
    # file-backed pages of shared libraries are shared between processes.
    result["anon_mib"] = statistics.median(proc_status_kib(p, "RssAnon") for p in pids) / 1024
    cpu0 = {p: proc_cpu_seconds(p) for p in pids}
    w0 = time.time()
    time.sleep(idle_seconds)
    wall = time.time() - w0
    result["idle_cpu_pct"] = statistics.median(
        (proc_cpu_seconds(p) - cpu0[p]) / wall * 100 for p in pids)

    victim = cluster.names[-1]
    t1 = time.time()
    os.kill(cluster.procs[-1].pid, signal.SIGKILL)
    cluster.procs[-1].wait()
    seen, res = observe(cluster, everyone[:-1], lambda v: v.get(victim) == "failed", 120)
    result["detect_first_s"] = min(seen.values()) - t1 if seen else float("nan")
    result["detect_all_s"] = max(seen.values()) - t1 if len(seen) == n - 1 else float("nan")
    result["poll_round_s"] = max(result["poll_round_s"], res)
    return result


def main():
    in_private_netns()
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10,30,50")
    ap.add_argument("--profile", default="lan", choices=["lan", "wan", "local"])
    ap.add_argument("--idle", type=float, default=30)
    ap.add_argument("--events", type=int, default=10,
                    help="user events in the burst sent right after the joins")
    ap.add_argument("--event-window", type=float, default=40,
                    help="seconds to wait for the burst to reach everyone")
    ap.add_argument("--trials", type=int, default=1,
                    help="fresh clusters per size and kind; the table shows medians")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--shoal", default=os.path.join(root, "build", "cli", "shoal"))
    ap.add_argument("--serf", default=shutil.which("serf") or "serf")
    ap.add_argument("--encrypt", default="off", choices=["off", "on", "both"],
                    help="gossip encryption (one key for all agents); 'both' runs each kind "
                         "plain and encrypted and adds an encryption-cost table")
    args = ap.parse_args()
    # One throwaway key (32 random bytes, base64), as `serf keygen` makes.
    bench_key = base64.b64encode(os.urandom(32)).decode()
    keys = {"off": [None], "on": [bench_key], "both": [None, bench_key]}[args.encrypt]

    ports = Ports()
    rows = []
    for n, key in [(int(x), k) for x in args.sizes.split(",") for k in keys]:
        for make in (lambda d: SerfCluster(n, args.profile, ports, d, args.serf, key),
                     lambda d: ShoalCluster(n, args.profile, ports, d, args.shoal, key)):
            trials = []
            for _ in range(args.trials):
                workdir = tempfile.mkdtemp(prefix="gossip-bench-")
                cluster = make(workdir)
                try:
                    trials.append(measure(cluster, args.idle, args.events, args.event_window))
                finally:
                    cluster.stop()
                    shutil.rmtree(workdir, ignore_errors=True)
                print(f"# N={n} {cluster.kind}: {trials[-1]}", file=sys.stderr, flush=True)
            r = {k: statistics.median(t[k] for t in trials) for k in trials[0]}
            rows.append((n, cluster.kind + ("+aes" if key else ""), r))

    print(f"\nprofile {args.profile}, loopback, {args.trials} trial(s) (medians), "
          f"idle window {args.idle:.0f} s "
          f"(joins: the N-1 join requests, sent one after another; convergence: first join "
          f"request -> every agent saw N-1 joins)\n")
    hdr = (f"{'N':>4} {'agent':<9} {'joins s':>7} {'converge s':>10} {'detect first s':>14}"
           f" {'detect all s':>12} {'RSS MiB':>8} {'anon MiB':>8} {'idle CPU %':>10}"
           f" {'poll round s':>12}")
    print(hdr)
    print("-" * len(hdr))
    for n, kind, r in rows:
        print(f"{n:>4} {kind:<9} {r['join_requests_s']:>7.2f} {r['converge_s']:>10.2f}"
              f" {r['detect_first_s']:>14.2f} "
              f"{r['detect_all_s']:>12.2f} {r['rss_mib']:>8.1f} {r['anon_mib']:>8.1f}"
              f" {r['idle_cpu_pct']:>10.2f}"
              f" {r['poll_round_s']:>12.3f}")
    print(f"\nuser events: a burst of {args.events} right after the join requests; time until "
          f"every agent delivered each event (inf: not within {args.event_window:.0f} s)\n")
    hdr = (f"{'N':>4} {'agent':<9} {'median to all s':>15} {'worst to all s':>14}"
           f" {'all in 2 s':>10} {'all at end':>10} {'agent-events missing':>20}")
    print(hdr)
    print("-" * len(hdr))
    for n, kind, r in rows:
        print(f"{n:>4} {kind:<9} {r['event_median_s']:>15.2f} {r['event_max_s']:>14.2f}"
              f" {r['events_in_2s']:>7.0f}/{args.events:<2} {r['events_all']:>7.0f}/{args.events:<2}"
              f" {r['event_misses']:>20.0f}")
    print()
    by = {(n, k): r for n, k, r in rows}
    print_ratios(by, [("shoal/serf", "shoal", "serf"), ("shoal/serf +aes", "shoal+aes", "serf+aes"),
                      ("serf aes/plain", "serf+aes", "serf"),
                      ("shoal aes/plain", "shoal+aes", "shoal")])


def print_ratios(by, pairs):
    """One row per N and pair (label, numerator kind, denominator kind) present in `by`."""
    print(f"{'N':>4} {'ratio':<18} {'converge':>9} {'detect all':>11} {'RSS':>6}"
          f" {'anon':>6} {'idle CPU':>9}")
    for n in sorted({n for n, _ in by}):
        for label, top, bottom in pairs:
            h, s = by.get((n, top)), by.get((n, bottom))
            if not s or not h:
                continue
            def ratio(key):
                return h[key] / s[key] if s[key] else float("nan")
            print(f"{n:>4} {label:<18} {ratio('converge_s'):>9.2f} {ratio('detect_all_s'):>11.2f} "
                  f"{ratio('rss_mib'):>6.2f} {ratio('anon_mib'):>6.2f} {ratio('idle_cpu_pct'):>9.2f}")


if __name__ == "__main__":
    main()
