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
  channel   the big deploy again on a second cluster started with --insecure-rpc: what the
            node-to-node channel (docs/security.md) costs the peer-to-peer fetch
            (--no-plain skips it).

Shoal is compared with its own goals (DESIGN.md: deploys are measured against Shoal's
earlier self): small app healthy under 2 s, a crashed instance back within 1 s plus its own
start time. Runs inside a private network namespace when root (benchlib).

    /usr/bin/python3 bench/deploy/deploy_bench.py [--shoal build/cli/shoal] [--trials 5]
"""
import argparse
import os
import signal
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


def big_rows(api, bigdir, args, label):
    """The big app uploaded to one node (`api`), fetched by the nodes that run it. Each
    trial's artifact differs (a file naming the trial), so every trial fetches it anew
    rather than finding the last trial's blob already there."""
    uploads, rollouts, rates = [], [], []
    for t in range(max(1, args.trials // 2)):
        with open(os.path.join(bigdir, "trial.txt"), "w") as f:
            f.write(f"{label} {t} {os.urandom(8).hex()}\n")
        big = pack(bigdir)
        marks, total = deploy(api, f"big{t}", big)
        uploads.append(marks["received"])
        rollout = total - marks["release"]
        rollouts.append(rollout)
        rates.append(len(big) / (1 << 20) / rollout)
    return [(f"{args.big_mb} MB app: upload to one node{label}", uploads),
            (f"{args.big_mb} MB app: release to 3 instances running (p2p fetch){label}", rollouts),
            (f"{args.big_mb} MB app: implied fetch+unpack MB/s per node{label}", rates)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shoal", default=os.path.join(ROOT, "build", "cli", "shoal"))
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--big-mb", type=int, default=100)
    ap.add_argument("--no-plain", action="store_true",
                    help="skip the plaintext (--insecure-rpc) cluster")
    ap.add_argument("--plain-first", action="store_true",
                    help="measure the plaintext cluster before the sealed one (the order "
                         "a machine's page cache and disk favour is then the other)")
    args = ap.parse_args()
    benchlib.in_private_netns()
    work = tempfile.mkdtemp(prefix="shoal-deploy-bench-")
    os.chmod(work, 0o711)  # apps run as their own uids and must reach their releases
    big = big_app(work, args.big_mb)
    plain_rows = []

    def measure_plain():
        os.makedirs(os.path.join(work, "plain"), mode=0o711)
        plain = Cluster(os.path.abspath(args.shoal), 3, os.path.join(work, "plain"),
                        insecure_rpc=True)
        try:
            plain_rows.extend(big_rows(plain.nodes[0]["api"], big, args, ", plaintext --rpc"))
        finally:
            plain.stop()

    if args.plain_first and not args.no_plain:
        measure_plain()
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

        rows += big_rows(api, big, args, "")
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
    finally:
        c.stop()
    if not args.plain_first and not args.no_plain:
        measure_plain()
    rows += plain_rows
    print(f"\nbench/deploy: 3 Shoal agents on loopback, {args.trials} trials "
          f"(seconds: min / median / max; load {os.getloadavg()[0]:.1f})\n")
    print(f"| {'measurement':<70} | {'min / median / max':<22} |")
    print(f"|{'-' * 72}|{'-' * 24}|")
    for name, xs in rows:
        print(f"| {name:<70} | {fmt(xs):<22} |")
    print("\ngoals: small app healthy < 2 s; crashed instance back < 1 s + its start time")


if __name__ == "__main__":
    main()
