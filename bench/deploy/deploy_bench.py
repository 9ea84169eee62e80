#!/usr/bin/env python3
"""bench/deploy: how fast a deploy becomes running instances, and how fast a crashed
instance serves again, on a 3-node Shoal cluster on loopback (issue 7).

Measures, each over --trials runs:
  small     POST /v1/apps/APP/deploy of examples/python-web (2 web instances) until the
            stream says `done` (all instances running), and until each answers HTTP 200;
            first deploy of a new app (includes creating its Raft group) and a redeploy.
  big       the same for an app carrying a 100 MB incompressible file, uploaded to one node
            and fetched peer to peer by the others: upload time, and rollout time (fetch +
            unpack + start) with the implied peer-to-peer throughput.
  restart   kill -9 of a running instance's process until its port answers HTTP 200 again.
  channel   the big deploy on a second cluster started with --insecure-rpc, in turns with
            the first: what the node-to-node channel (docs/security.md) costs the
            peer-to-peer fetch, from the agents' artifact-fetched log lines (--no-plain
            skips it).

Shoal is compared with its own goals (DESIGN.md: deploys are measured against Shoal's
earlier self): small app healthy under 2 s, a crashed instance back within 1 s plus its own
start time. Runs inside a private network namespace when root (benchlib).

    /usr/bin/python3 bench/deploy/deploy_bench.py [--shoal build/cli/shoal] [--trials 5]
"""
import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from appslib import Cluster, deploy, fmt, pack, running, serving, until_serving  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def big_app(work, mb):
    """A directory for an app carrying `mb` MB of incompressible bytes."""
    bigdir = os.path.join(work, "big")
    os.makedirs(bigdir)
    with open(os.path.join(bigdir, "Procfile"), "w") as f:
        f.write("web: exec python3 -m http.server $PORT --bind 127.0.0.1\n")
    with open(os.path.join(bigdir, "shoal.toml"), "w") as f:
        f.write("[formation]\nweb = 3\n")
    with open(os.path.join(bigdir, "blob.bin"), "wb") as f:
        f.write(os.urandom(mb << 20))
    return bigdir


FETCHED = re.compile(r"artifact-fetched digest=\S+ peer=\S+ bytes=(\d+) ms=(\d+) sync_ms=(\d+)")


def log_sizes(cluster):
    return [os.path.getsize(os.path.join(cluster.dir, n["name"] + ".log")) for n in cluster.nodes]


def fetch_rates(cluster, since, min_bytes):
    """MB/s of each peer-to-peer fetch of at least `min_bytes` that the nodes logged after
    `since` (log_sizes()), apart from unpacking and starting: whole (with the fsync that makes
    the blob durable) and transfer only (without it: what the channel itself carries)."""
    whole, transfer = [], []
    for n, at in zip(cluster.nodes, since):
        with open(os.path.join(cluster.dir, n["name"] + ".log"), errors="replace") as f:
            f.seek(at)
            for m in FETCHED.finditer(f.read()):
                size, ms, sync_ms = int(m.group(1)), int(m.group(2)), int(m.group(3))
                if size >= min_bytes and ms > sync_ms:
                    whole.append(size / (1 << 20) / (ms / 1000))
                    transfer.append(size / (1 << 20) / ((ms - sync_ms) / 1000))
    return whole, transfer


def big_rows(clusters, bigdir, args):
    """The big app uploaded to one node, fetched by the nodes that run it, on each of
    `clusters` ([(cluster, label)]) in turn, trial by trial: a drift in the machine (page
    cache, disk writeback) then falls on every cluster alike. Each trial's artifact differs
    (a file naming the trial), so every trial fetches it anew rather than finding the last
    trial's blob already there."""
    runs = [{"cluster": c, "label": label, "since": log_sizes(c), "uploads": [],
             "rollouts": [], "rates": []} for c, label in clusters]
    for t in range(max(1, args.trials // 2)):
        for r in runs:
            with open(os.path.join(bigdir, "trial.txt"), "w") as f:
                f.write(f"{r['label']} {t} {os.urandom(8).hex()}\n")
            big = pack(bigdir)
            marks, total = deploy(r["cluster"].nodes[0]["api"], f"big{t}", big)
            r["uploads"].append(marks["received"])
            rollout = total - marks["release"]
            r["rollouts"].append(rollout)
            r["rates"].append(len(big) / (1 << 20) / rollout)
    rows = []
    for r in runs:
        whole, transfer = fetch_rates(r["cluster"], r["since"], args.big_mb << 19)
        label, mb = r["label"], args.big_mb
        rows += [(f"{mb} MB app: upload to one node{label}", r["uploads"]),
                 (f"{mb} MB app: release to 3 instances running (p2p fetch){label}", r["rollouts"]),
                 (f"{mb} MB app: implied fetch+unpack MB/s per node{label}", r["rates"]),
                 (f"{mb} MB app: peer-to-peer fetch, with fsync, MB/s{label}", whole),
                 (f"{mb} MB app: peer-to-peer transfer, MB/s{label}", transfer)]
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shoal", default=os.path.join(ROOT, "build", "cli", "shoal"))
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--big-mb", type=int, default=100)
    ap.add_argument("--no-plain", action="store_true",
                    help="skip the plaintext (--insecure-rpc) cluster")
    args = ap.parse_args()
    benchlib.in_private_netns()
    work = tempfile.mkdtemp(prefix="shoal-deploy-bench-")
    os.chmod(work, 0o711)  # apps run as their own uids and must reach their releases
    big = big_app(work, args.big_mb)
    c = Cluster(os.path.abspath(args.shoal), 3, work)
    rows = []
    try:
        api = c.nodes[0]["api"]
        small = pack(os.path.join(ROOT, "examples", "python-web"))
        first, first_http, redeploy, redeploy_http = [], [], [], []
        for t in range(args.trials):
            t0 = time.time()
            _, total = deploy(api, f"small{t}", small)
            first.append(total)
            first_http.append(until_serving(api, f"small{t}", t0))
            t0 = time.time()
            _, total = deploy(api, f"small{t}", small)
            redeploy.append(total)
            redeploy_http.append(until_serving(api, f"small{t}", t0))
        rows.append(("small app, first deploy (2 instances), to all running", first))
        rows.append(("small app, first deploy, to all answering HTTP 200", first_http))
        rows.append(("small app, redeploy (rolling), to all running", redeploy))
        rows.append(("small app, redeploy, to all answering HTTP 200", redeploy_http))

        # kill -9 of an instance until its port answers again. Each kill hits an instance
        # that has not failed before: a second failure in a row waits out the supervisor's
        # backoff (1 s, 2 s, ...), which is policy, not restart speed.
        restarts = []
        victims = [(f"small{t}", i) for t in range(args.trials) for i in running(api, f"small{t}")]
        for app, inst in victims:
            os.kill(inst["pid"], signal.SIGKILL)
            t0 = time.time()
            def back():
                for i in running(api, app):
                    if i["id"] == inst["id"] and i["pid"] != inst["pid"]:
                        return serving(i["port"])
                return False
            Cluster.wait(back, 30)
            restarts.append(time.time() - t0)
        rows.append(("kill -9 of an instance to its replacement answering HTTP 200", restarts))

        clusters = [(c, "")]
        if not args.no_plain:
            os.makedirs(os.path.join(work, "plain"), mode=0o711)
            clusters.append((Cluster(os.path.abspath(args.shoal), 3, os.path.join(work, "plain"),
                                     insecure_rpc=True), ", plaintext --rpc"))
        try:
            rows += big_rows(clusters, big, args)
        finally:
            for extra, _ in clusters[1:]:
                extra.stop()
    finally:
        c.stop()
    print(f"\nbench/deploy: 3 Shoal agents on loopback, {args.trials} trials "
          f"(seconds: min / median / max; load {os.getloadavg()[0]:.1f})\n")
    print(f"| {'measurement':<70} | {'min / median / max':<22} |")
    print(f"|{'-' * 72}|{'-' * 24}|")
    for name, xs in rows:
        print(f"| {name:<70} | {fmt(xs):<22} |")
    print("\ngoals: small app healthy < 2 s; crashed instance back < 1 s + its start time")
    if not args.no_plain:
        # What the sealed channel costs, from the medians of the rows just printed.
        med = {name: statistics.median(xs) for name, xs in rows if xs}
        for what in ("peer-to-peer transfer, MB/s", "peer-to-peer fetch, with fsync, MB/s"):
            sealed = med.get(f"{args.big_mb} MB app: {what}")
            plain = med.get(f"{args.big_mb} MB app: {what}, plaintext --rpc")
            if sealed and plain:
                print(f"channel cost, {what.split(',')[0]}: {100 * (1 - sealed / plain):.1f}% "
                      f"of plaintext throughput (goal: under 10%)")


if __name__ == "__main__":
    main()
