#!/usr/bin/python3
"""bench/sim_divergence: does the simulator tell the truth? The same scenario — 10 nodes
join node 0 at once, converge, then the last one is killed — in the simulator
(simulations/scenarios/divergence_10.toml, engine serf, LAN profile) and with real
`shoal agent` processes on loopback (the observation code of bench/gossip: every agent's
/v1/members polled in turn). Prints convergence and detection times of both, medians over
the trials/seeds, and how far apart they are against one probe interval (1 s on LAN),
the agreement the simulator promises.

usage: bench/sim_divergence/divergence_bench.py [--trials 3] [--shoal build/cli/shoal]
                                              [--sim build/simulations/shoal-sim]
"""
import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "bench", "gossip"))
import gossip_bench as gb  # noqa: E402

N = 10
PROBE_INTERVAL_S = 1.0
SCENARIO = os.path.join(ROOT, "simulations", "scenarios", "divergence_10.toml")


def real_trial(shoal, ports):
    workdir = tempfile.mkdtemp(prefix="divergence-")
    cluster = gb.ShoalCluster(N, "lan", ports, workdir, shoal)
    try:
        everyone = list(range(N))
        t0 = time.time()
        cluster.join_all()
        seen, res = gb.observe(cluster, everyone,
                               lambda v: len(v) == N and all(s == "alive" for s in v.values()), 60)
        converge = max(seen.values()) - t0 if len(seen) == N else float("nan")
        time.sleep(5)
        victim = cluster.names[-1]
        t1 = time.time()
        os.kill(cluster.procs[-1].pid, signal.SIGKILL)
        cluster.procs[-1].wait()
        seen, res2 = gb.observe(cluster, everyone[:-1], lambda v: v.get(victim) == "failed", 60)
        first = min(seen.values()) - t1 if seen else float("nan")
        last = max(seen.values()) - t1 if len(seen) == N - 1 else float("nan")
        return {"converge": converge, "first": first, "all": last, "poll": max(res, res2)}
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def sim_trial(sim, seed):
    out = subprocess.run([sim, "sim", "run", SCENARIO, "--seed", str(seed)],
                         capture_output=True, text=True, check=False).stdout
    conv = re.search(r"convergence after initial join at [\d.]+s: ([\d.]+)s", out)
    kill = re.search(r"kill n\d+ at [\d.]+s: first noticed after ([\d.]+)s, known to all after ([\d.]+)s", out)
    if not conv or not kill:
        raise RuntimeError("unexpected simulator output:\n" + out)
    return {"converge": float(conv.group(1)), "first": float(kill.group(1)),
            "all": float(kill.group(2)), "poll": 0.0}


def main():
    gb.in_private_netns()
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--shoal", default=os.path.join(ROOT, "build", "cli", "shoal"))
    ap.add_argument("--sim", default=os.path.join(ROOT, "build", "simulations", "shoal-sim"))
    args = ap.parse_args()

    sims = [sim_trial(args.sim, seed) for seed in range(1, args.trials + 1)]
    ports = gb.Ports()
    reals = []
    for t in range(args.trials):
        reals.append(real_trial(args.shoal, ports))
        print(f"# real trial {t + 1}: {reals[-1]}", file=sys.stderr, flush=True)
    for s in sims:
        print(f"# sim: {s}", file=sys.stderr)

    med = lambda rows, k: statistics.median(r[k] for r in rows)  # noqa: E731
    poll = max(r["poll"] for r in reals)
    print(f"\n{N} nodes, LAN profile (probe interval {PROBE_INTERVAL_S:.0f} s), "
          f"{args.trials} seeds / trials, medians; real agents polled every {poll:.3f} s\n")
    print(f"| measure | simulator (s) | real agents (s) | apart (s) | within one probe interval |")
    print(f"|---|---:|---:|---:|---|")
    worst = 0.0
    for key, label in (("converge", "convergence after join"),
                       ("first", "detection, first node"),
                       ("all", "detection, all nodes")):
        s, r = med(sims, key), med(reals, key)
        apart = abs(s - r)
        worst = max(worst, apart)
        print(f"| {label} | {s:.2f} | {r:.2f} | {apart:.2f} | "
              f"{'yes' if apart <= PROBE_INTERVAL_S + poll else 'NO'} |")
    print(f"\nlargest gap {worst:.2f} s (bound: one probe interval + one polling round)")
    return 0 if worst <= PROBE_INTERVAL_S + poll else 1


if __name__ == "__main__":
    sys.exit(main())
