#!/usr/bin/python3
"""bench/reporting: what resource sampling costs the agent (docs/reporting.md).

One agent on loopback (inside a private network namespace) runs 50 instances of a process
that only sleeps, each in its own cgroup with a memory and CPU limit, so every sample reads
real cgroup files. The agent runs twice, with --usage-interval 1s (the default: each instance
and the node sampled every second, history kept) and --usage-interval off, in alternating
rounds; each round measures the agent's CPU over --seconds once all 50 run, and its RSS at
the end. Goal (issue 11): sampling costs under 1% of a core and under 10 MB.

Two more configurations measure what an open dashboard costs the node that serves it: a
headless Chromium (Debian chromium) kept on /ui/ (the cluster page) or on the app's page
(/ui/#/apps/sleepers: 50 instances, their charts and a log follow) for the whole round,
sampling on.

There is no peer to run beside it: no other PaaS agent is packaged here. The comparison is
the agent with itself, sampling on and off, dashboard closed and open, in the same run.

usage: bench/reporting/reporting_bench.py [--shoal build/cli/shoal] [--instances 50]
                                          [--seconds 30] [--rounds 2] [--no-dashboard]
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

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import appslib  # noqa: E402
import benchlib  # noqa: E402


def sleeper(directory, count):
    os.makedirs(directory)
    with open(os.path.join(directory, "Procfile"), "w") as f:
        f.write("worker: exec sleep 1000000\n")
    with open(os.path.join(directory, "shoal.toml"), "w") as f:
        f.write(f"[formation]\nworker = {count}\n[limits]\nmemory_mb = 16\ncpu_millis = 50\n")


def open_dashboard(url, work):
    """A headless Chromium showing `url`, in a process group of its own (it forks many)."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=work)
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(profile, "config"))
    return subprocess.Popen(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1000",
         url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env,
        start_new_session=True)


def close_dashboard(proc):
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def measure(shoal, app_dir, instances, interval, seconds, work, page=None):
    d = tempfile.mkdtemp(prefix=f"usage-{interval}-", dir=work)
    os.chmod(d, 0o711)
    cluster = appslib.Cluster(shoal, 1, d, agent_args=lambda i: [
        "--router", "off", "--usage-interval", interval])
    try:
        api = cluster.nodes[0]["api"]
        appslib.deploy(api, "sleepers", appslib.pack(app_dir))
        cluster.wait(lambda: len(appslib.running(api, "sleepers")) == instances, 300)
        browser = open_dashboard(api + "/ui/" + page, work) if page is not None else None
        try:
            time.sleep(3 if browser is None else 8)  # the starts (and the page's load) settle
            pid = cluster.nodes[0]["proc"].pid
            before = benchlib.proc_cpu_seconds(pid)
            time.sleep(seconds)
            cpu = (benchlib.proc_cpu_seconds(pid) - before) / seconds * 100
            rss = benchlib.proc_status_kib(pid, "VmRSS") / 1024
            sampled = sum(1 for i in appslib.running(api, "sleepers") if i.get("usage"))
            if browser is not None and browser.poll() is not None:
                raise RuntimeError(f"chromium exited early ({browser.returncode})")
        finally:
            if browser is not None:
                close_dashboard(browser)
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
    ap.add_argument("--no-dashboard", action="store_true",
                    help="skip the configurations with a dashboard open")
    args = ap.parse_args()
    if os.geteuid() != 0:
        sys.exit("reporting_bench: run as root (instances run in cgroups as their own uids)")
    benchlib.in_private_netns(__file__)
    if not os.path.exists(args.shoal):
        sys.exit(f"reporting_bench: missing {args.shoal} (build first)")
    work = tempfile.mkdtemp(prefix="shoal-reporting-bench-")
    os.chmod(work, 0o711)
    # name: (--usage-interval, the dashboard page open during the round, or None)
    configs = {"off": ("off", None), "1s": ("1s", None)}
    if not args.no_dashboard:
        if shutil.which("chromium") is None:
            sys.exit("reporting_bench: chromium is missing (scripts/install-deps.sh), "
                     "or pass --no-dashboard")
        configs["ui-cluster"] = ("1s", "")
        configs["ui-app"] = ("1s", "#/apps/sleepers")
    rows = {name: [] for name in configs}
    try:
        app_dir = os.path.join(work, "sleepers")
        sleeper(app_dir, args.instances)
        for r in range(args.rounds):
            for name, (interval, page) in configs.items():
                m = measure(args.shoal, app_dir, args.instances, interval, args.seconds, work, page)
                rows[name].append(m)
                print(f"# round {r + 1} {name}: {json.dumps(m)}", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(interval, key):
        return statistics.median(m[key] for m in rows[interval])

    print(f"\nbench/reporting: one agent, {args.instances} instances (sleep, each in a cgroup with "
          f"limits), {args.seconds:g} s per round, {args.rounds} rounds, median; "
          f"{os.cpu_count()} cores")
    print("| sampling | agent CPU % of a core | agent RSS MiB | instances with a sample |")
    print("|---|---:|---:|---:|")
    labels = {"off": "off (--usage-interval off)", "1s": "on, every 1 s (default)",
              "ui-cluster": "on, dashboard open on the cluster page",
              "ui-app": "on, dashboard open on the app's page"}
    for name in rows:
        print(f"| {labels[name]} | {med(name, 'cpu_percent'):.2f} | {med(name, 'rss_mib'):.1f} | "
              f"{statistics.median(m['sampled'] for m in rows[name]):.0f} |")
    cpu = med("1s", "cpu_percent") - med("off", "cpu_percent")
    rss = med("1s", "rss_mib") - med("off", "rss_mib")
    print(f"\nsampling costs {cpu:.2f}% of a core and {rss:.1f} MiB of RSS "
          f"(goal: under 1% and under 10 MB)")
    for name in ("ui-cluster", "ui-app"):
        if name in rows:
            print(f"{labels[name].split(', ')[1]}: +{med(name, 'cpu_percent') - med('1s', 'cpu_percent'):.2f}% "
                  f"of a core, +{med(name, 'rss_mib') - med('1s', 'rss_mib'):.1f} MiB on the serving agent")


if __name__ == "__main__":
    main()
