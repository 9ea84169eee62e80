#!/usr/bin/env python3
"""bench/router: the Shoal router against nginx as a keep-alive reverse proxy, in the same
run, on the same backend (issue 9).

A Shoal cluster (default 1 node, --nodes N) runs bench/router/backend: one `web` instance
that is nginx answering a fixed 13-byte body, so that the proxies, not the backend, are what
is measured. wrk then drives, one after the other, for the same duration and with the same
Host header (APP.localhost):

  direct   straight to the instance's port (the backend's own ceiling)
  nginx    through a separate nginx configured as a keep-alive reverse proxy to that port
           (bench/router/nginx-proxy.conf.in; worker_processes = the router's threads)
  shoal    through the router of the node (--router), which finds the instance by Host

Each path gets a warm-up run first; with --rounds N the three paths are measured N times
in turn: the table shows each path's median round by requests/s, with p50, p99 and CPU as
medians over the rounds, and then every round, paired (round i of each path ran back to
back, so the pairs saw the same machine). Prints requests/s, p50, p99 and errors
(socket errors plus non-2xx/3xx answers, from wrk --latency), the CPU each proxy spent per
request (user + system, from /proc; for shoal the whole agent), and the shoal/nginx
ratios, then the nginx config used. Goal: shoal's requests/s at least nginx's, its p99 no worse.

Everything runs on loopback inside a private network namespace when root (benchlib);
only the agents and the nginx it started are stopped, by pid; every wait is bounded.

    /usr/bin/python3 bench/router/router_bench.py [--shoal build/cli/shoal] [--duration 10]
        [--warmup 3] [--connections 64] [--threads N] [--rounds 1]
        [--nodes 1] [--out DIR]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from appslib import Cluster, deploy, get_json, pack  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
APP = "bench"
HOST = f"{APP}.localhost"


def get(port, host=HOST, path="/"):
    """(status, body) of a GET on a loopback port with this Host header; (None, why) when
    it failed or answered other than 2xx."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Host": host})
    try:
        with urllib.request.urlopen(req, timeout=2) as r:
            return r.status, r.read()
    except Exception as e:  # noqa: BLE001 - any failure means "not yet"
        return None, str(e)


# --- wrk ----------------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def ms(text):
    m = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"wrk latency '{text}'")
    return float(m.group(1)) * UNITS[m.group(2)]


def parse_wrk(out):
    """wrk --latency output -> {rps, p50, p99 (ms), requests, errors}."""
    r = {"rps": None, "p50": None, "p99": None, "requests": 0, "errors": 0}
    for line in out.splitlines():
        line = line.strip()
        m = re.match(r"(50|99)(?:\.0+)?%\s+(\S+)$", line)
        if m:
            r["p" + m.group(1)] = ms(m.group(2))
        m = re.match(r"Requests/sec:\s+([\d.]+)", line)
        if m:
            r["rps"] = float(m.group(1))
        m = re.match(r"(\d+) requests in", line)
        if m:
            r["requests"] = int(m.group(1))
        m = re.match(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", line)
        if m:
            r["errors"] += sum(int(x) for x in m.groups())
        m = re.match(r"Non-2xx or 3xx responses: (\d+)", line)
        if m:
            r["errors"] += int(m.group(1))
    if r["rps"] is None or r["p99"] is None:
        raise RuntimeError("could not read wrk's output:\n" + out)
    return r


def wrk(port, seconds, args):
    argv = ["wrk", "-t", str(args.threads), "-c", str(args.connections), "-d", f"{seconds}s",
            "--latency", "--timeout", "5s", "-H", f"Host: {HOST}", f"http://127.0.0.1:{port}/"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        raise RuntimeError(f"wrk failed ({out.returncode}): {out.stderr}")
    return parse_wrk(out.stdout)


# --- the nginx reverse proxy (path b) -----------------------------------------------------

class NginxProxy:
    """nginx with its own prefix, config, pid file, logs and temp dirs under `work`."""

    def __init__(self, work, workers, backend_port):
        self.dir = os.path.join(work, "nginx-proxy")
        os.makedirs(os.path.join(self.dir, "tmp"))
        self.port = benchlib.free_port()
        with open(os.path.join(HERE, "nginx-proxy.conf.in")) as f:
            conf = f.read()
        self.conf = (conf.replace("@WORKERS@", str(workers))
                     .replace("@LISTEN@", f"127.0.0.1:{self.port}")
                     .replace("@BACKEND@", f"127.0.0.1:{backend_port}"))
        path = os.path.join(self.dir, "nginx.conf")
        with open(path, "w") as f:
            f.write(self.conf)
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        self.log = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen([nginx, "-p", self.dir + "/", "-c", path, "-e", "stderr",
                                      "-g", "daemon off;"], stdout=self.log,
                                     stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        Cluster.wait(lambda: self.proc.poll() is None and get(self.port)[0] == 200, 15)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()  # fast shutdown of the master, which stops its workers
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


# --- the run -------------------------------------------------------------------------------

def backend_port(api):
    ps = get_json(f"{api}/v1/apps/{APP}/ps")
    up = [i for i in ps["instances"] if i["desired"] and i["state"] == "running"]
    return up[0]["port"] if len(up) == 1 else None


def children(pid):
    """The pids whose parent is `pid` (nginx's workers)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(name))
        except (FileNotFoundError, ProcessLookupError):
            continue
    return out


def cpu_seconds(pids):
    """(user, system) CPU seconds used so far by every thread of these processes."""
    hz = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for pid in pids:
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except FileNotFoundError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except FileNotFoundError:
                continue  # a thread that ended
            user += int(fields[11])
            system += int(fields[12])
    return user / hz, system / hz


def measure(args, paths):
    """Warm-up, then `rounds` measured runs of every path in turn; the median round (by
    requests/s), latency medians and every round in order. For a path with processes (the
    proxy's), also the CPU they spent per request: a steadier measure than requests/s on a
    machine whose cores wrk, the backend and the proxy share."""
    for name, port, _ in paths:
        wrk(port, args.warmup, args)
    runs = {name: [] for name, _, _ in paths}
    for _ in range(args.rounds):
        for name, port, pids in paths:
            before = cpu_seconds(pids)
            r = wrk(port, args.duration, args)
            after = cpu_seconds(pids)
            n = max(r["requests"], 1)
            r["user_us"] = (after[0] - before[0]) * 1e6 / n if pids else None
            r["sys_us"] = (after[1] - before[1]) * 1e6 / n if pids else None
            runs[name].append(r)
    out = {}
    for name, rs in runs.items():
        by_rps = sorted(rs, key=lambda r: r["rps"])
        out[name] = dict(by_rps[len(rs) // 2])
        # In round order: round i of every path ran back to back, so they pair up.
        out[name]["round_rps"] = [r["rps"] for r in rs]
        out[name]["round_p99"] = [r["p99"] for r in rs]
        # Latencies and CPU: medians of their own, not the median round's.
        out[name]["p50"] = statistics.median(r["p50"] for r in rs)
        out[name]["p99"] = statistics.median(r["p99"] for r in rs)
        if rs[0]["user_us"] is not None:
            out[name]["user_us"] = statistics.median(r["user_us"] for r in rs)
            out[name]["sys_us"] = statistics.median(r["sys_us"] for r in rs)
    return out


def table(results, args, router_threads):
    lines = [f"bench/router: wrk -t {args.threads} -c {args.connections} -d {args.duration}s "
             f"(after a {args.warmup}s warm-up), Host: {HOST}, {args.rounds} round(s), "
             f"{os.cpu_count()} cores; nginx and router threads: {router_threads}", "",
             f"{'path':<8} {'requests/s':>12} {'p50 ms':>9} {'p99 ms':>9} {'requests':>10} "
             f"{'errors':>7} {'proxy CPU us/request (user + sys)':>34}"]
    for name in ("direct", "nginx", "shoal"):
        r = results.get(name)
        if r is None:
            continue
        cpu = "-" if r.get("user_us") is None else \
            f"{r['user_us'] + r['sys_us']:.1f} ({r['user_us']:.1f} + {r['sys_us']:.1f})"
        lines.append(f"{name:<8} {r['rps']:>12.0f} {r['p50']:>9.3f} {r['p99']:>9.3f} "
                     f"{r['requests']:>10} {r['errors']:>7} {cpu:>34}")
    if "shoal" in results and "nginx" in results:
        s, n = results["shoal"], results["nginx"]
        lines += ["", f"shoal/nginx: requests/s x{s['rps'] / n['rps']:.2f}, "
                      f"p50 x{s['p50'] / n['p50']:.2f}, p99 x{s['p99'] / n['p99']:.2f} "
                      f"(goal: requests/s >= x1.00, p99 <= x1.00)"]
    if args.rounds > 1:
        for name, r in results.items():
            lines.append(f"{name:<6} per round: requests/s "
                         + ", ".join(f"{x:.0f}" for x in r["round_rps"]) + "; p99 ms "
                         + ", ".join(f"{x:.2f}" for x in r["round_p99"]))
        if "shoal" in results and "nginx" in results:
            s, n = results["shoal"], results["nginx"]
            pairs = list(zip(s["round_rps"], n["round_rps"], s["round_p99"], n["round_p99"]))
            faster = sum(1 for a, b, _, _ in pairs if a >= b)
            tighter = sum(1 for _, _, a, b in pairs if a <= b)
            lines.append(f"round by round: shoal's requests/s >= nginx's in {faster} of "
                         f"{len(pairs)}, its p99 <= nginx's in {tighter} of {len(pairs)}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shoal", default=os.path.join(ROOT, "build", "cli", "shoal"))
    ap.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    ap.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per path")
    ap.add_argument("--connections", type=int, default=64)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="wrk threads")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--nodes", type=int, default=1)
    ap.add_argument("--out", help="a directory for the table, the nginx config and the logs")
    args = ap.parse_args()
    if not (1 <= args.duration <= 120 and 0 <= args.warmup <= 30 and 1 <= args.rounds <= 9):
        ap.error("--duration 1..120, --warmup 0..30, --rounds 1..9")
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not os.path.exists(f"/usr/sbin/{tool}"):
            sys.exit(f"router_bench: {tool} is not installed (scripts/install-deps.sh)")
    benchlib.in_private_netns()
    shoal = os.path.abspath(args.shoal)
    # The agent's router runs one IO thread per core; nginx gets as many workers.
    router_threads = os.cpu_count()
    routers = [benchlib.free_port() for _ in range(args.nodes)]

    def agent_args(i):
        return ["--router", f"127.0.0.1:{routers[i]}"]

    work = tempfile.mkdtemp(prefix="shoal-router-bench-")
    os.chmod(work, 0o711)  # instances run as their app's uid and must reach their release
    cluster = proxy = None
    try:
        cluster = Cluster(shoal, args.nodes, work, "lan", agent_args)
        api = cluster.nodes[0]["api"]
        deploy(api, APP, pack(os.path.join(HERE, "backend")))
        Cluster.wait(lambda: backend_port(api) is not None, 60)
        port = backend_port(api)
        Cluster.wait(lambda: get(port)[0] == 200, 30)
        proxy = NginxProxy(work, router_threads, port)
        # Each node's router learns the route within a second or so of the instance turning
        # healthy; the bench goes through node 0's.
        Cluster.wait(lambda: get(routers[0])[0] == 200, 30)
        # The CPU of nginx's master and workers, and of the whole agent the router runs in.
        paths = [("direct", port, []),
                 ("nginx", proxy.port, [proxy.proc.pid] + children(proxy.proc.pid)),
                 ("shoal", routers[0], [cluster.nodes[0]["proc"].pid])]
        results = measure(args, paths)
        report = table(results, args, router_threads)
        print("\n" + report)
        print("\nnginx config used (bench/router/nginx-proxy.conf.in, filled in):\n")
        print(proxy.conf)
        if args.out:
            os.makedirs(args.out, exist_ok=True)
            with open(os.path.join(args.out, "router_bench.txt"), "w") as f:
                f.write(report + "\n")
            with open(os.path.join(args.out, "nginx-proxy.conf"), "w") as f:
                f.write(proxy.conf)
            for name in os.listdir(work):
                if name.endswith(".log"):
                    shutil.copy(os.path.join(work, name), args.out)
    finally:
        if proxy is not None:
            proxy.stop()
        if cluster is not None:
            cluster.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
