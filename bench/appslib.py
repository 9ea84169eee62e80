"""Helpers the apps benches share (bench/deploy, bench/failover): a cluster of Shoal agents
on loopback, deploys through the HTTP API, and reading `ps`."""
import io
import json
import os
import signal
import statistics
import subprocess
import tarfile
import time
import urllib.request

import benchlib


def http(method, url, body=None, timeout=10):
    req = urllib.request.Request(url, data=body, method=method)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def get_json(url):
    return json.loads(http("GET", url)[1])


class Cluster:
    """`n` agents named b0, b1, ... on loopback, b1.. joined to b0. `profile` is the gossip
    timing profile (local: fast failure detection; lan: Serf's defaults). `agent_args(i)`, when
    given, returns more flags for node i's agent (e.g. its --router address); without it,
    each agent's router listens on a free port of its own (they cannot share the default)."""

    def __init__(self, shoal, n, workdir, profile="local", agent_args=None):
        self.shoal, self.dir, self.profile, self.nodes = shoal, workdir, profile, []
        self.agent_args = agent_args or (
            lambda i: ["--router", f"127.0.0.1:{benchlib.free_port()}"])
        for i in range(n):
            gossip, api = benchlib.free_port(), benchlib.free_port()
            name = f"b{i}"
            self.nodes.append({"name": name, "gossip": gossip, "api": f"http://127.0.0.1:{api}",
                               "http": f"127.0.0.1:{api}",
                               "data": os.path.join(workdir, name), "proc": None})
            self.launch(i)
            self.wait(lambda: self.ok(self.nodes[-1]["api"] + "/v1/health"), 20)
        for n in self.nodes:
            self.wait(lambda: self.ok(n["api"] + "/v1/apps"), 60)

    def launch(self, i):
        n = self.nodes[i]
        argv = [self.shoal, "agent", "--node", n["name"], "--bind", f"127.0.0.1:{n['gossip']}",
                "--http", n["http"], "--data-dir", n["data"],
                "--profile", self.profile, "--log-level", "info"]
        if i > 0:
            argv += ["--join", f"127.0.0.1:{self.nodes[0]['gossip']}"]
        argv += self.agent_args(i)
        log = open(os.path.join(self.dir, n["name"] + ".log"), "a")
        n["proc"] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)

    def by_name(self, name):
        return next(i for i, n in enumerate(self.nodes) if n["name"] == name)

    def kill_node(self, i):
        """A machine's crash: SIGKILL the agent and every process of its node (shims name
        the data dir on their command line; instances run in a directory under it)."""
        n = self.nodes[i]
        n["proc"].kill()
        n["proc"].wait()
        for _ in range(3):
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    cwd = os.readlink(f"/proc/{pid}/cwd")
                    with open(f"/proc/{pid}/cmdline", "rb") as f:
                        cmdline = f.read().decode(errors="replace")
                except OSError:
                    continue
                if cwd.startswith(n["data"]) or n["data"] in cmdline:
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except OSError:
                        pass
            time.sleep(0.05)

    def restart(self, i):
        self.launch(i)
        self.wait(lambda: self.ok(self.nodes[i]["api"] + "/v1/health"), 30)

    @staticmethod
    def ok(url):
        try:
            return http("GET", url, timeout=2)[0] == 200
        except Exception:
            return False

    @staticmethod
    def wait(cond, seconds):
        deadline = time.time() + seconds
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.05)
        raise TimeoutError("condition not met in %d s" % seconds)

    def stop(self):
        for n in self.nodes:
            if n["proc"].poll() is None:
                n["proc"].send_signal(signal.SIGTERM)
        for n in self.nodes:
            try:
                n["proc"].wait(timeout=40)
            except subprocess.TimeoutExpired:
                n["proc"].kill()


def pack(directory):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as t:
        for name in sorted(os.listdir(directory)):
            t.add(os.path.join(directory, name), arcname=name)
    return buf.getvalue()


def deploy(api, app, body):
    """Streams the deploy; returns {event: seconds since the start} and the final event."""
    t0 = time.time()
    req = urllib.request.Request(f"{api}/v1/apps/{app}/deploy", data=body, method="POST",
                                 headers={"Content-Type": "application/octet-stream"})
    marks, last = {}, None
    with urllib.request.urlopen(req, timeout=600) as r:
        for line in r:
            ev = json.loads(line)
            last = ev
            marks.setdefault(ev["event"], time.time() - t0)
    if last is None or last["event"] != "done":
        raise RuntimeError(f"deploy of {app} failed: {last}")
    return marks, time.time() - t0


def running(api, app):
    ps = get_json(f"{api}/v1/apps/{app}/ps")
    return [i for i in ps["instances"] if i["desired"] and i["state"] == "running"]


def serving(port):
    try:
        return http("GET", f"http://127.0.0.1:{port}/", timeout=1)[0] == 200
    except Exception:
        return False


def until_serving(api, app, t0):
    Cluster.wait(lambda: all(serving(i["port"]) for i in running(api, app)), 60)
    return time.time() - t0


def fmt(xs):
    if not xs:
        return "-"
    return "%.2f / %.2f / %.2f" % (min(xs), statistics.median(xs), max(xs))


