"""Helpers the apps benches share (bench/deploy, bench/failover, bench/router,
bench/reporting): a cluster of Shoal agents on loopback, deploys through the HTTP API, and
reading `ps`. Every agent starts with the bench's API token (benchlib.agent_token_args())
and every request to an agent's API carries it (benchlib.auth_headers(), docs/security.md);
requests to app instances do not."""
import io
import json
import os
import signal
import statistics
import subprocess
import tarfile
import time
import urllib.error
import urllib.request

import benchlib


def http(method, url, body=None, timeout=10, auth=True):
    """(status, body) of a request; auth: send the bench's API token (an agent's API), False
    for an app instance, which has no business seeing it."""
    headers = benchlib.auth_headers() if auth else {}
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.status, r.read()


def get_json(url):
    """GET of an agent's API (with the token), as JSON."""
    return json.loads(http("GET", url)[1])


class Cluster:
    """`n` agents named b0, b1, ... on loopback, b1.. joined to b0. `profile` is the gossip
    timing profile (local: fast failure detection; lan: Serf's defaults). `agent_args(i)`, when
    given, returns more flags for node i's agent (e.g. its --router address); without it,
    each agent's router listens on a free port of its own (they cannot share the default).
    Every agent gets `--bootstrap-token-file` (benchlib.agent_token_args()): b0's new cluster
    starts with the bench's token, the others receive the token table after they join and
    answer 503 until then, which the wait for their /v1/apps below rides out."""

    def __init__(self, shoal, n, workdir, profile="local", agent_args=None, insecure_rpc=False):
        self.shoal, self.dir, self.profile, self.nodes = shoal, workdir, profile, []
        self.insecure_rpc = insecure_rpc  # node-to-node in plaintext (measuring the channel)
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
        argv += self.agent_args(i) + benchlib.agent_token_args(insecure_rpc=self.insecure_rpc)
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

    last_refusal = None  # the last answer other than 200 that ok() saw, for wait()'s error

    @staticmethod
    def ok(url):
        """True when the agent API at url answers 200 (with the token). Not yet: no answer,
        or 503 (a joined node without the token table yet)."""
        try:
            return http("GET", url, timeout=2)[0] == 200
        except urllib.error.HTTPError as e:
            Cluster.last_refusal = f"{url}: HTTP {e.code}"
            return False
        except Exception:
            return False

    @staticmethod
    def wait(cond, seconds):
        Cluster.last_refusal = None
        deadline = time.time() + seconds
        while time.time() < deadline:
            if cond():
                return
            time.sleep(0.05)
        raise TimeoutError("condition not met in %d s" % seconds +
                           (f" (last refusal: {Cluster.last_refusal})" if Cluster.last_refusal else ""))

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
                                 headers=benchlib.auth_headers(
                                     {"Content-Type": "application/octet-stream"}))
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
        return http("GET", f"http://127.0.0.1:{port}/", timeout=1, auth=False)[0] == 200
    except Exception:
        return False


def until_serving(api, app, t0):
    Cluster.wait(lambda: all(serving(i["port"]) for i in running(api, app)), 60)
    return time.time() - t0


def fmt(xs):
    if not xs:
        return "-"
    return "%.2f / %.2f / %.2f" % (min(xs), statistics.median(xs), max(xs))


