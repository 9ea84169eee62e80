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

The API wants a token (docs/security.md), so the browser is driven over the DevTools
protocol (--remote-debugging-pipe) just long enough to sign in the way a user does: the
page shows its sign-in form (#signin) on the first 401, the bench's admin token goes into
#token and the form is submitted; then the page is left alone for the measurement.

There is no peer to run beside it: no other PaaS agent is packaged here. The comparison is
the agent with itself, sampling on and off, dashboard closed and open, in the same run.

usage: bench/reporting/reporting_bench.py [--shoal build/cli/shoal] [--instances 50]
                                          [--seconds 30] [--rounds 2] [--no-dashboard]
"""
import argparse
import fcntl
import json
import os
import select
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


class DevTools:
    """The Chrome DevTools protocol over --remote-debugging-pipe: JSON messages ending in a
    NUL byte, commands on the browser's fd 3, replies and events on its fd 4."""

    def __init__(self, to_browser, from_browser):
        self.out, self.inp, self.buf, self.next_id = to_browser, from_browser, b"", 0

    def call(self, method, params=None, session=None, timeout=10):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.out, json.dumps(msg).encode() + b"\0")
        deadline = time.time() + timeout
        while True:
            while b"\0" in self.buf:
                raw, self.buf = self.buf.split(b"\0", 1)
                reply = json.loads(raw)
                if reply.get("id") == self.next_id:
                    if "error" in reply:
                        raise RuntimeError(f"{method}: {reply['error']}")
                    return reply["result"]
            left = deadline - time.time()
            if left <= 0 or not select.select([self.inp], [], [], left)[0]:
                raise TimeoutError(f"chromium did not answer {method} in {timeout} s")
            chunk = os.read(self.inp, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self.buf += chunk

    def evaluate(self, session, expression):
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True},
                      session)
        return r.get("result", {}).get("value")

    def wait_for(self, session, expression, what, timeout=30):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                if self.evaluate(session, expression):
                    return
            except RuntimeError:
                pass  # mid-navigation
            time.sleep(0.1)
        raise RuntimeError(f"the dashboard did not show {what} in {timeout} s")


def open_dashboard(url, work):
    """A headless Chromium showing `url`, in a process group of its own (it forks many),
    signed in with the bench's token. Returns (process, its DevTools pipe fds)."""
    profile = tempfile.mkdtemp(prefix="chromium-", dir=work)
    env = dict(os.environ, XDG_CONFIG_HOME=os.path.join(profile, "config"))
    # The browser reads commands on fd 3 and writes on fd 4; ours stay above them.
    cmd_r, cmd_w = os.pipe()
    rep_r, rep_w = os.pipe()
    child_r = fcntl.fcntl(cmd_r, fcntl.F_DUPFD_CLOEXEC, 10)
    child_w = fcntl.fcntl(rep_w, fcntl.F_DUPFD_CLOEXEC, 10)
    for fd in (cmd_r, rep_w):
        os.close(fd)

    def pipes():
        os.dup2(child_r, 3)  # dup2 clears close-on-exec
        os.dup2(child_w, 4)

    proc = subprocess.Popen(
        ["chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update",
         "--disable-dev-shm-usage", f"--user-data-dir={profile}", "--window-size=1400,1000",
         "--remote-debugging-pipe", url], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        env=env, start_new_session=True, preexec_fn=pipes,
        close_fds=False)  # only 3 and 4 are inheritable: Python opens fds close-on-exec
    os.close(child_r)
    os.close(child_w)
    try:
        dt = DevTools(cmd_w, rep_r)
        deadline = time.time() + 20
        page = None
        while page is None:
            targets = dt.call("Target.getTargets")["targetInfos"]
            page = next((t["targetId"] for t in targets if t["type"] == "page"), None)
            if page is None:
                if time.time() > deadline:
                    raise RuntimeError("chromium opened no page")
                time.sleep(0.1)
        session = dt.call("Target.attachToTarget", {"targetId": page, "flatten": True})["sessionId"]
        dt.wait_for(session, "document.getElementById('signin') !== null", "its sign-in form")
        dt.evaluate(session, "document.getElementById('token').value = " +
                    json.dumps(benchlib.bench_token()[0]) +
                    "; document.getElementById('signin').requestSubmit(); true")
        dt.wait_for(session, "document.getElementById('signin') === null && "
                    "!document.getElementById('signout').hidden", "the page signed in")
        dt.call("Target.detachFromTarget", {"sessionId": session})
    except BaseException:
        close_dashboard((proc, cmd_w, rep_r))
        raise
    return proc, cmd_w, rep_r


def close_dashboard(browser):
    proc, cmd_w, rep_r = browser
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(5)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    os.close(cmd_w)
    os.close(rep_r)


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
            if browser is not None and browser[0].poll() is not None:
                raise RuntimeError(f"chromium exited early ({browser[0].returncode})")
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
