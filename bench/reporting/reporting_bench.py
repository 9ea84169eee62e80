#!/usr/bin/python3
"""bench/reporting: what resource sampling costs the agent (docs/reporting.md).

One agent on loopback (inside a private network namespace) runs 50 instances of a process
that only sleeps, each in its own cgroup with a memory and CPU limit, so every sample reads
real cgroup files. The agent runs twice, with --usage-interval 1s (the default: each instance
and the node sampled every second, history kept) and --usage-interval off, in alternating
rounds; each round measures the agent's CPU over --seconds once all 50 run, and its RSS at
the end. Goal (issue 11): sampling costs under 1% of a core and under 10 MB.

There is no peer to run beside it: no other PaaS agent is packaged here. The comparison is
the agent with itself, sampling on and off, in the same run.

usage: bench/reporting/reporting_bench.py [--shoal build/cli/shoal] [--instances 50]
                                          [--seconds 30] [--rounds 2]
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import appslib  # noqa: E402
import benchlib  # noqa: E402


def sleeper(directory, count):
    os.makedirs(directory)
    with open(os.path.join(directory, "Procfile"), "w") as f:
        f.write("worker: exec sleep 1000000\n")
    with open(os.path.join(directory, "shoal.toml"), "w") as f:
        f.write(f"[formation]\nworker = {count}\n[limits]\nmemory_mb = 16\ncpu_millis = 50\n")


def measure(shoal, app_dir, instances, interval, seconds, work):
    d = tempfile.mkdtemp(prefix=f"usage-{interval}-", dir=work)
    os.chmod(d, 0o711)
    cluster = appslib.Cluster(shoal, 1, d, agent_args=lambda i: [
        "--router", "off", "--usage-interval", interval])
    try:
        api = cluster.nodes[0]["api"]
        appslib.deploy(api, "sleepers", appslib.pack(app_dir))
        cluster.wait(lambda: len(appslib.running(api, "sleepers")) == instances, 300)
        time.sleep(3)  # the starts' own work settles
        pid = cluster.nodes[0]["proc"].pid
        before = benchlib.proc_cpu_seconds(pid)
        time.sleep(seconds)
        cpu = (benchlib.proc_cpu_seconds(pid) - before) / seconds * 100
        rss = benchlib.proc_status_kib(pid, "VmRSS") / 1024
        sampled = sum(1 for i in appslib.running(api, "sleepers") if i.get("usage"))
        return {"cpu_percent": cpu, "rss_mib": rss, "sampled": sampled}
    finally:
        cluster.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--shoal", default=os.path.join(root, "build/cli/shoal"))
    ap.add_argument("--instances", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("reporting_bench: run as root (instances run in cgroups as their own uids)")
    benchlib.in_private_netns(__file__)
    if not os.path.exists(args.shoal):
        sys.exit(f"reporting_bench: missing {args.shoal} (build first)")
    work = tempfile.mkdtemp(prefix="shoal-reporting-bench-")
    os.chmod(work, 0o711)
    rows = {"1s": [], "off": []}
    try:
        app_dir = os.path.join(work, "sleepers")
        sleeper(app_dir, args.instances)
        for r in range(args.rounds):
            for interval in ("off", "1s"):
                m = measure(args.shoal, app_dir, args.instances, interval, args.seconds, work)
                rows[interval].append(m)
                print(f"# round {r + 1} {interval}: {json.dumps(m)}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(interval, key):
        return statistics.median(m[key] for m in rows[interval])

    print(f"\nbench/reporting: one agent, {args.instances} instances (sleep, each in a cgroup with "
          f"limits), {args.seconds:g} s per round, {args.rounds} rounds, median; "
          f"{os.cpu_count()} cores")
    print("| sampling | agent CPU % of a core | agent RSS MiB | instances with a sample |")
    print("|---|---:|---:|---:|")
    for interval, label in (("off", "off (--usage-interval off)"), ("1s", "on, every 1 s (default)")):
        print(f"| {label} | {med(interval, 'cpu_percent'):.2f} | {med(interval, 'rss_mib'):.1f} | "
              f"{statistics.median(m['sampled'] for m in rows[interval]):.0f} |")
    cpu = med("1s", "cpu_percent") - med("off", "cpu_percent")
    rss = med("1s", "rss_mib") - med("off", "rss_mib")
    print(f"\nsampling costs {cpu:.2f}% of a core and {rss:.1f} MiB of RSS "
          f"(goal: under 1% and under 10 MB)")


if __name__ == "__main__":
    main()
