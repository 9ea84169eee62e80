#!/usr/bin/python3
"""bench/raft: a 3-member etcd 3.4 cluster and a 3-node Shoal Raft group, same run, same load.

Both sides run on 127.0.0.1 inside a private network namespace, each member with its own
data directory on the same disk, both syncing every write before acknowledging it (etcd
by default; Shoal's host syncs each batch). Election timing is the same on both sides:
heartbeat 100 ms, election timeout 1 s (etcd's defaults; Shoal's randomizes in [1 s, 2 s)).
The two clusters never run at the same time, so they do not compete for the cores.

One load generator drives both (bench/raft_load, C++: one keep-alive HTTP/1.1 connection
per client, one request in flight per connection, 256-byte values under fresh keys):
  etcd:  POST /v3/kv/put on its HTTP/JSON gateway, every client on the leader;
  shoal: PUT /v1/raft/groups/1/kv/KEY on the group's leader (the kv test state machine),
         with the bench's API token (raft_load sends $SHOAL_TOKEN, which benchlib sets).
Measured:
  - writes/s and p50/p99 latency at 1, 16 and 64 concurrent clients (--seconds each), and
    beside them what the leader spent: fsyncs/s and their mean (each side's own histogram at
    /metrics) and its CPU per write;
  - failover: one client writes; the leader gets kill -9 after 3 s; the time from the kill
    to the next acknowledged write (the largest gap between acknowledged writes);
  - Shoal only: 1,000 idle groups on the 3 nodes, CPU per node over --idle seconds and RSS
    per node, beside the same with one group and beside idle etcd members;
  - Shoal only: what the node-to-node channel costs (docs/security.md): the same rows on a
    third cluster started with --insecure-rpc (replication in plaintext), in the same rounds
    (--no-plain skips it).

The rows and the failover run --rounds times (fresh clusters each round, the side that goes
first alternating); the tables give medians over the rounds, and how many rounds each side
won, since one row of one run on a 2-core machine can fall on either side.

usage: bench/raft/raft_bench.py [--shoal build/cli/shoal] [--load build/bench/raft_load]
                                [--clients 1,16,64] [--seconds 10] [--groups 1000] [--idle 30]
                                [--rounds 3]
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402


def http_json(method, url, body=None, timeout=5, auth=False):
    """auth: send the bench's API token (Shoal's API; etcd's gateway has no use for it)."""
    data = None if body is None else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    req = urllib.request.Request(url, data=data, method=method,
                                 headers=benchlib.auth_headers(headers) if auth else headers)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read() or b"{}")


def wait_for(what, fn, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if fn():
                return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"timed out waiting for {what}")


class Procs:
    """Processes this bench started; stopped by pid, never by name."""

    def __init__(self):
        self.procs = {}

    def start(self, name, argv, log):
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                            stdin=subprocess.DEVNULL)
        return self.procs[name]

    def kill9(self, name):
        p = self.procs.pop(name)
        p.send_signal(signal.SIGKILL)
        p.wait()

    def stop_all(self):
        for p in self.procs.values():
            p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = {}


# ---------------------------------------------------------------- etcd (reference peer)

class Etcd:
    def __init__(self, workdir):
        self.dir, self.procs, self.log = workdir, Procs(), open(os.path.join(workdir, "etcd.log"), "ab")
        self.names = ["e0", "e1", "e2"]
        self.client = {n: benchlib.free_port() for n in self.names}
        self.peer = {n: benchlib.free_port() for n in self.names}

    def start(self):
        cluster = ",".join(f"{n}=http://127.0.0.1:{self.peer[n]}" for n in self.names)
        for n in self.names:
            self.procs.start(n, [
                "etcd", "--name", n, "--data-dir", os.path.join(self.dir, n),
                "--listen-client-urls", f"http://127.0.0.1:{self.client[n]}",
                "--advertise-client-urls", f"http://127.0.0.1:{self.client[n]}",
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer[n]}",
                "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer[n]}",
                "--initial-cluster", cluster, "--initial-cluster-state", "new",
                "--initial-cluster-token", "bench", "--heartbeat-interval", "100",
                "--election-timeout", "1000", "--logger", "zap", "--log-level", "error",
            ], self.log)
        wait_for("etcd leader", lambda: self.leader() is not None, 30)

    def leader(self):
        for n in list(self.procs.procs):
            try:
                s = http_json("POST", f"http://127.0.0.1:{self.client[n]}/v3/maintenance/status", {}, 2)
            except OSError:
                continue
            if s.get("leader") and s["leader"] == s.get("header", {}).get("member_id"):
                return n
        return None

    def endpoints(self):
        lead = self.leader()
        order = [lead] + [n for n in self.names if n != lead and n in self.procs.procs]
        return ",".join(f"127.0.0.1:{self.client[n]}" for n in order), lead

    def pids(self):
        return {n: p.pid for n, p in self.procs.procs.items()}

    def metrics_url(self, n):
        return f"http://127.0.0.1:{self.client[n]}"


# ---------------------------------------------------------------- shoal

class Shoal:
    def __init__(self, binary, workdir, insecure_rpc=False):
        self.bin, self.dir, self.procs = binary, workdir, Procs()
        self.insecure_rpc = insecure_rpc
        self.log = open(os.path.join(workdir, "shoal.log"), "ab")
        self.names = ["r0", "r1", "r2"]
        self.gossip = {n: benchlib.free_port() for n in self.names}
        self.http = {n: benchlib.free_port() for n in self.names}

    def api(self, n):
        return f"http://127.0.0.1:{self.http[n]}"

    def start(self):
        for i, n in enumerate(self.names):
            argv = [self.bin, "agent", "--node", n, "--bind", f"127.0.0.1:{self.gossip[n]}",
                    "--http", f"127.0.0.1:{self.http[n]}", "--data-dir", os.path.join(self.dir, n),
                    "--log-level", "warn", "--router", "off"] + \
                benchlib.agent_token_args(insecure_rpc=self.insecure_rpc)
            if i > 0:
                argv += ["--join", f"127.0.0.1:{self.gossip[self.names[0]]}"]
            self.procs.start(n, argv, self.log)
        # A joined node answers 503 until the catalog leader has sent it the token table:
        # an HTTPError, which is an OSError, so wait_for tries again.
        for n in self.names:
            wait_for(f"{n} to see 3 members", lambda n=n: len(
                http_json("GET", self.api(n) + "/v1/members", auth=True)["members"]) == 3, 30)

    def create_groups(self, ids):
        for gid in ids:
            for n in self.names:
                http_json("POST", self.api(n) + "/v1/raft/groups", {"id": gid, "voters": self.names},
                          auth=True)
        want = len(ids)
        wait_for(f"{want} group leaders", lambda: self.leaders() >= want, 120)

    def leaders(self):
        total = 0
        for n in self.procs.procs:
            groups = http_json("GET", self.api(n) + "/v1/raft/groups", auth=True)["groups"]
            total += sum(1 for g in groups if g.get("role") == "leader")
        return total

    def leader(self, gid=1):
        for n in list(self.procs.procs):
            try:
                if http_json("GET", f"{self.api(n)}/v1/raft/groups/{gid}", timeout=2,
                             auth=True)["role"] == "leader":
                    return n
            except OSError:
                continue
        return None

    def endpoints(self):
        wait_for("group 1 leader", lambda: self.leader() is not None, 30)
        lead = self.leader()
        order = [lead] + [n for n in self.names if n != lead and n in self.procs.procs]
        return ",".join(f"127.0.0.1:{self.http[n]}" for n in order), lead

    def pids(self):
        return {n: p.pid for n, p in self.procs.procs.items()}

    def metrics_url(self, n):
        return self.api(n)


# ---------------------------------------------------------------- measurements

# The fsync histogram each side exposes at /metrics on its client port.
FSYNC_METRIC = {"etcd": "etcd_disk_wal_fsync_duration_seconds", "shoal": "shoal_raft_fsync_seconds"}


def fsync_totals(kind, url):
    """(count, sum in seconds) of the side's fsync histogram at url/metrics."""
    with urllib.request.urlopen(url + "/metrics", timeout=5) as r:
        text = r.read().decode()
    count = total = 0.0
    name = FSYNC_METRIC[kind]
    for line in text.splitlines():
        if line.startswith(name + "_count"):
            count += float(line.split()[-1])
        elif line.startswith(name + "_sum"):
            total += float(line.split()[-1])
    return count, total


def measured_load(load, kind, side, clients, seconds):
    """run_load, plus what the leader spent meanwhile: its fsyncs and its CPU."""
    endpoints, lead = side.endpoints()
    url = side.metrics_url(lead)
    pid = side.pids()[lead]
    c0, s0 = fsync_totals(kind, url)
    cpu0 = benchlib.proc_cpu_seconds(pid)
    r = run_load(load, kind, endpoints, clients, seconds)
    cpu1 = benchlib.proc_cpu_seconds(pid)
    c1, s1 = fsync_totals(kind, url)
    r["fsyncs_per_s"] = (c1 - c0) / r["seconds"]
    r["fsync_mean_ms"] = (s1 - s0) / (c1 - c0) * 1000 if c1 > c0 else 0.0
    r["leader_cpu_us_per_write"] = (cpu1 - cpu0) / max(r["writes"], 1) * 1e6
    return r


def run_load(load, kind, endpoints, clients, seconds):
    out = subprocess.run([load, "--kind", kind, "--endpoints", endpoints, "--clients", str(clients),
                          "--seconds", str(seconds), "--timeout-ms", "5000"],
                         capture_output=True, text=True,
                         timeout=seconds + 60)
    if out.returncode != 0:
        hint = ""
        if kind == "shoal" and '"http 401"' in out.stdout:
            hint = " (a raft_load older than its token support sends none: rebuild it)"
        raise RuntimeError(f"raft_load {kind} failed: "
                           f"{out.stderr.strip() or out.stdout.strip()}{hint}")
    return json.loads(out.stdout)


# The client gives up on a request after this long and tries the next member. A member
# that cannot reach a leader may hold a request (etcd forwards it to the dead leader and
# waits) or refuse it at once (Shoal answers 503): the first costs up to this timeout.
FAILOVER_TIMEOUT_MS = 1000


def failover(load, side, kind, seconds=10, kill_after=3.0):
    endpoints, lead = side.endpoints()
    p = subprocess.Popen([load, "--kind", kind, "--endpoints", endpoints, "--clients", "1",
                          "--seconds", str(seconds), "--timeout-ms", str(FAILOVER_TIMEOUT_MS)],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(kill_after)
    side.procs.kill9(lead)
    out, _ = p.communicate(timeout=seconds + 60)
    r = json.loads(out)
    r["killed"] = lead
    return r


def idle_cost(pids, seconds):
    before = {n: benchlib.proc_cpu_seconds(p) for n, p in pids.items()}
    time.sleep(seconds)
    cpu = {n: (benchlib.proc_cpu_seconds(p) - before[n]) / seconds * 100 for n, p in pids.items()}
    rss = {n: benchlib.proc_status_kib(p, "VmRSS") / 1024 for n, p in pids.items()}
    return max(cpu.values()), max(rss.values())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--shoal", default=os.path.join(root, "build/cli/shoal"))
    ap.add_argument("--load", default=os.path.join(root, "build/bench/raft_load"))
    ap.add_argument("--clients", default="1,16,64")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--groups", type=int, default=1000)
    ap.add_argument("--idle", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-plain", action="store_true",
                    help="skip the plaintext (--insecure-rpc) Shoal cluster")
    args = ap.parse_args()
    benchlib.in_private_netns(__file__)
    for tool in (args.shoal, args.load, shutil.which("etcd")):
        if not tool or not os.path.exists(tool):
            sys.exit(f"raft_bench: missing {tool or 'etcd'} (build first; apt-get install etcd-server)")
    benchlib.bench_token()  # also sets SHOAL_TOKEN, which raft_load sends to Shoal
    clients = [int(c) for c in args.clients.split(",")]
    rows = {}
    work = tempfile.mkdtemp(prefix="shoal-raft-bench-")
    runs = {}  # (kind, row) -> one result per round
    try:
        for r in range(args.rounds):
            # Alternate who goes first: a machine that drifts (page cache, writeback) over a
            # run then favours neither side.
            kinds = ["etcd", "shoal"] + ([] if args.no_plain else ["shoal-plain"])
            kinds = kinds[r % len(kinds):] + kinds[:r % len(kinds)]
            for name in kinds:
                kind = "etcd" if name == "etcd" else "shoal"  # what raft_load speaks
                d = os.path.join(work, f"{name}-{r}")
                os.makedirs(d)
                side = Etcd(d) if kind == "etcd" else Shoal(args.shoal, d, name == "shoal-plain")
                try:
                    side.start()
                    if kind == "shoal":
                        side.create_groups([1])
                    time.sleep(1)
                    if r == 0 and name != "shoal-plain":
                        rows[(kind, "idle1")] = idle_cost(side.pids(), min(args.idle, 10))
                    for c in clients:
                        res = measured_load(args.load, kind, side, c, args.seconds)
                        runs.setdefault((name, c), []).append(res)
                        print(f"# round {r + 1} {name} {c} clients: {json.dumps(res)}", file=sys.stderr)
                    if name == "shoal-plain":
                        continue
                    res = failover(args.load, side, kind)
                    runs.setdefault((kind, "failover"), []).append(res)
                    print(f"# round {r + 1} {kind} failover: {json.dumps(res)}", file=sys.stderr)
                finally:
                    side.procs.stop_all()
                    shutil.rmtree(d, ignore_errors=True)
        if args.groups > 0:
            d = os.path.join(work, "shoal-idle")
            os.makedirs(d)
            side = Shoal(args.shoal, d)
            try:
                side.start()
                side.create_groups(list(range(1, args.groups + 1)))
                time.sleep(3)
                rows[("shoal", "idleN")] = idle_cost(side.pids(), args.idle)
            finally:
                side.procs.stop_all()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for key, results in runs.items():
        rows[key] = {k: statistics.median(x[k] for x in results)
                     for k, v in results[0].items() if isinstance(v, (int, float))}
        rows[key]["failures"] = results[-1].get("failures", {})

    print(f"\nbench/raft: 3 members each, loopback, fsync on; {args.seconds:g} s per row; "
          f"{args.rounds} rounds, each side's clusters fresh per round, medians over the rounds; "
          f"{os.cpu_count()} cores; load: bench/raft_load (C++, keep-alive HTTP/1.1, clients on the leader)")
    print("| clients | etcd writes/s | shoal writes/s | etcd p50 ms | shoal p50 ms | etcd p99 ms | shoal p99 ms |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for c in clients:
        e, s = rows[("etcd", c)], rows[("shoal", c)]
        print(f"| {c} | {e['writes_per_s']:.0f} | {s['writes_per_s']:.0f} | {e['p50_ms']:.2f} | "
              f"{s['p50_ms']:.2f} | {e['p99_ms']:.2f} | {s['p99_ms']:.2f} |")
    if args.rounds > 1:
        print("\nround by round (a round runs both sides back to back), shoal's rounds with "
              "writes/s >= etcd's, and with p99 <= etcd's:")
        for c in clients:
            pairs = list(zip(runs[("etcd", c)], runs[("shoal", c)]))
            tput = sum(1 for e, s in pairs if s["writes_per_s"] >= e["writes_per_s"])
            p99 = sum(1 for e, s in pairs if s["p99_ms"] <= e["p99_ms"])
            print(f"  {c} clients: {tput} of {len(pairs)}, {p99} of {len(pairs)}  "
                  f"(p99 ms etcd/shoal: " +
                  ", ".join(f"{e['p99_ms']:.1f}/{s['p99_ms']:.1f}" for e, s in pairs) + ")")
    print("\nwhere the time went, on the leader over the same rows (each side's own fsync histogram "
          "at /metrics: etcd_disk_wal_fsync_duration_seconds, shoal_raft_fsync_seconds):")
    print("| clients | etcd fsyncs/s | shoal fsyncs/s | etcd mean fsync ms | shoal mean fsync ms | "
          "etcd leader CPU µs/write | shoal leader CPU µs/write |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for c in clients:
        e, s = rows[("etcd", c)], rows[("shoal", c)]
        print(f"| {c} | {e['fsyncs_per_s']:.0f} | {s['fsyncs_per_s']:.0f} | {e['fsync_mean_ms']:.2f} | "
              f"{s['fsync_mean_ms']:.2f} | {e['leader_cpu_us_per_write']:.0f} | "
              f"{s['leader_cpu_us_per_write']:.0f} |")
    e, s = rows[("etcd", "failover")], rows[("shoal", "failover")]
    print(f"\nfailover (kill -9 of the leader 3 s into a 1-client write load, {FAILOVER_TIMEOUT_MS} ms "
          f"client timeout; longest gap between acknowledged writes; median): etcd "
          f"{e['max_gap_ms']:.0f} ms, shoal {s['max_gap_ms']:.0f} ms (each round etcd/shoal: " +
          ", ".join(f"{x['max_gap_ms']:.0f}/{y['max_gap_ms']:.0f}"
                    for x, y in zip(runs[("etcd", "failover")], runs[("shoal", "failover")])) +
          f"; the last round's client failures: etcd {json.dumps(e['failures'])}, "
          f"shoal {json.dumps(s['failures'])})")
    if not args.no_plain:
        print("\nthe node-to-node channel's cost (the same rows on a cluster started with "
              "--insecure-rpc: replication in plaintext; medians over the rounds):")
        print("| clients | sealed writes/s | plaintext writes/s | cost | sealed p99 ms | "
              "plaintext p99 ms | sealed leader CPU µs/write | plaintext leader CPU µs/write |")
        print("|---:|---:|---:|---:|---:|---:|---:|---:|")
        for c in clients:
            s, p = rows[("shoal", c)], rows[("shoal-plain", c)]
            cost = (1 - s["writes_per_s"] / p["writes_per_s"]) * 100 if p["writes_per_s"] else 0
            print(f"| {c} | {s['writes_per_s']:.0f} | {p['writes_per_s']:.0f} | {cost:+.1f}% | "
                  f"{s['p99_ms']:.2f} | {p['p99_ms']:.2f} | {s['leader_cpu_us_per_write']:.0f} | "
                  f"{p['leader_cpu_us_per_write']:.0f} |")
    print("\n| idle | CPU % per node (max) | RSS MiB per node (max) |")
    print("|---|---:|---:|")
    for key, label in ((("etcd", "idle1"), "etcd, 3 members"),
                       (("shoal", "idle1"), "shoal, 1 group"),
                       (("shoal", "idleN"), f"shoal, {args.groups} groups")):
        if key in rows:
            cpu, rss = rows[key]
            print(f"| {label} | {cpu:.2f} | {rss:.1f} |")


if __name__ == "__main__":
    main()
