#!/usr/bin/env python3
"""bench/failover: how long a Shoal cluster takes to recover from the crash of a node, and
the time-line of a rolling deploy under load (issue 8).

  crash     a fresh 3-node cluster runs examples/health-web with 3 instances (one per
            node); the node that runs the app's Raft leader (or, in the second variant, a
            node that runs only an instance) is killed like a machine: kill -9 of its agent
            and of every process of its node. Measured from the kill: gossip declaring it
            failed on a survivor, a new app leader (leader variant), replacements placed,
            replacements answering HTTP 200 on their ports.
            Goal (issue 8): serving elsewhere within detection + 2 s.
  rolling   6 instances of health-web answer a client loop that requests every instance
            that is up, through its port, while a new release rolls out. Prints the
            time-line (each instance placed / running / unplaced) and the failed requests.
            Goal: none failed, total under 10 s plus the app's own start and health time.

Runs inside a private network namespace when root (benchlib).

    /usr/bin/python3 bench/failover/failover_bench.py [--shoal build/cli/shoal] [--trials 3]
        [--profile lan|local] [--only crash|rolling]
"""
import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import benchlib  # noqa: E402
from appslib import Cluster, deploy, fmt, get_json, http, pack  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def app_dir(work, instances, tag):
    """examples/health-web (an HTTP health check; drains 2 s on SIGTERM, as a rolling deploy
    expects) with `instances` web instances and a marker that makes each deploy a new
    release."""
    d = os.path.join(work, f"app-{tag}")
    shutil.copytree(os.path.join(ROOT, "examples", "health-web"), d)
    path = os.path.join(d, "shoal.toml")
    with open(path) as f:
        toml = f.read()
    toml = toml.replace("web = 3", f"web = {instances}")
    toml = toml.replace('DRAIN_SECONDS = "2"', f'DRAIN_SECONDS = "2"\nBENCH_TAG = "{tag}"')
    with open(path, "w") as f:
        f.write(toml)
    return d


def desired(api, app):
    try:
        return [i for i in get_json(f"{api}/v1/apps/{app}/ps")["instances"] if i["desired"]]
    except Exception:
        return None


def member_status(api, name):
    try:
        for m in get_json(f"{api}/v1/members")["members"]:
            if m["name"] == name:
                return m["status"]
    except Exception:
        pass
    return None


def serving(port):
    try:
        return http("GET", f"http://127.0.0.1:{port}/", timeout=1, auth=False)[0] == 200
    except Exception:
        return False


def crash_trial(shoal, work, profile, kill_leader):
    c = Cluster(shoal, 3, work, profile)
    try:
        api = c.nodes[0]["api"]
        deploy(api, "fo", pack(app_dir(work, 3, "v1")))
        Cluster.wait(lambda: len([i for i in desired(api, "fo") or [] if i["state"] == "running"
                                  and serving(i["port"])]) == 3, 60)
        leader = get_json(f"{api}/v1/apps/fo")["leader"]
        nodes = {i["node"] for i in desired(api, "fo")}
        if kill_leader:
            victim = leader
        else:
            victim = sorted(n for n in nodes if n != leader)[0]
        lost = {i["id"] for i in desired(api, "fo") if i["node"] == victim}
        survivor = next(n for n in c.nodes if n["name"] != victim)["api"]

        t0 = time.time()
        c.kill_node(c.by_name(victim))
        marks = {}
        deadline = t0 + 120
        while time.time() < deadline and "serving" not in marks:
            now = time.time() - t0
            if "detected" not in marks and member_status(survivor, victim) == "failed":
                marks["detected"] = now
            if kill_leader and "leader" not in marks:
                try:
                    if get_json(f"{survivor}/v1/apps/fo").get("leader") not in (None, victim):
                        marks["leader"] = now
                except Exception:
                    pass
            inst = desired(survivor, "fo") or []
            fresh = [i for i in inst if i["node"] != victim and i["id"] not in lost]
            if "placed" not in marks and len(fresh) == 3 and not any(i["id"] in lost for i in inst):
                marks["placed"] = now
            if "placed" in marks and all(i["state"] == "running" and serving(i["port"])
                                         for i in fresh):
                marks["serving"] = time.time() - t0
            time.sleep(0.02)
        if "serving" not in marks:
            raise RuntimeError(f"no recovery within 120 s: {marks}")
        return marks
    finally:
        c.stop()


class Prober:
    """Requests every instance that is up, through its port, until stopped. A failure on an
    instance the leader had already unplaced when it failed is counted apart: without a
    router in front, a client learns of the unplacing only by polling."""

    def __init__(self, api, app):
        self.api, self.app = api, app
        self.ok = self.failed = self.to_stopping = 0
        self.failures = []
        self.stop = False
        self.targets = {}
        self.lock = threading.Lock()

    def refresh(self):
        inst = desired(self.api, self.app)
        if inst is None:
            return
        with self.lock:
            self.targets = {i["id"]: i["port"] for i in inst
                            if i["state"] == "running" and i.get("health") in ("none", "healthy")}

    def run(self):
        last = 0
        while not self.stop:
            if time.time() - last > 0.1:
                self.refresh()
                last = time.time()
            with self.lock:
                targets = list(self.targets.items())
            for iid, port in targets:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                        r.read()
                    self.ok += 1
                except Exception as e:
                    still = {i["id"] for i in desired(self.api, self.app) or []}
                    if iid in still:
                        self.failed += 1
                        self.failures.append(f"{iid}: {e}")
                    else:
                        self.to_stopping += 1


def rolling(shoal, work, profile, instances):
    c = Cluster(shoal, 3, work, profile)
    try:
        api = c.nodes[0]["api"]
        deploy(api, "roll", pack(app_dir(work, instances, "r1")))
        Cluster.wait(lambda: len([i for i in desired(api, "roll") or []
                                  if i["state"] == "running" and serving(i["port"])]) == instances, 60)
        before = {i["id"] for i in desired(api, "roll")}
        prober = Prober(api, "roll")
        th = threading.Thread(target=prober.run)
        th.start()
        time.sleep(1)
        timeline, seen = [], {}
        t0 = time.time()
        done = {}

        def do_deploy():
            try:
                done["marks"], done["total"] = deploy(api, "roll", pack(app_dir(work, instances, "r2")))
            except Exception as e:
                done["error"] = str(e)
        dt = threading.Thread(target=do_deploy)
        dt.start()
        while dt.is_alive() or not done:
            now = time.time() - t0
            ps = get_json(f"{api}/v1/apps/roll/ps")["instances"]
            ids = set()
            for i in ps:
                ids.add(i["id"])
                state = i["state"] if i["desired"] else "unplaced"
                if seen.get(i["id"]) != state:
                    seen[i["id"]] = state
                    timeline.append((now, i["id"], i["node"], state))
            for iid in list(seen):
                if iid not in ids and seen[iid] != "gone":
                    seen[iid] = "gone"
                    timeline.append((now, iid, "", "gone"))
            time.sleep(0.05)
        dt.join()
        total = time.time() - t0
        time.sleep(1)
        prober.stop = True
        th.join()
        return timeline, total, done, prober, before
    finally:
        c.stop()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shoal", default=os.path.join(ROOT, "build", "cli", "shoal"))
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--profile", default="lan", choices=["lan", "local"])
    ap.add_argument("--instances", type=int, default=6)
    ap.add_argument("--only", choices=["crash", "rolling"])
    args = ap.parse_args()
    benchlib.in_private_netns()
    shoal = os.path.abspath(args.shoal)

    rows = []
    variants = [] if args.only == "rolling" else [
        (True, "node with the app leader + 1 instance"),
        (False, "node with 1 instance, not the leader")]
    for kill_leader, label in variants:
        runs = []
        for t in range(args.trials):
            work = tempfile.mkdtemp(prefix="shoal-failover-bench-")
            os.chmod(work, 0o711)
            runs.append(crash_trial(shoal, work, args.profile, kill_leader))
            shutil.rmtree(work, ignore_errors=True)
        for key, what in (("detected", "failure detected (gossip)"), ("leader", "new app leader"),
                          ("placed", "replacements placed"), ("serving", "replacements serving")):
            xs = [r[key] for r in runs if key in r]
            if xs:
                rows.append((f"{label}: {what}", xs))
        rows.append((f"{label}: serving - detected",
                     [r["serving"] - r["detected"] for r in runs if "detected" in r]))

    if args.only != "crash":
        work = tempfile.mkdtemp(prefix="shoal-rolling-bench-")
        os.chmod(work, 0o711)
        timeline, total, done, prober, before = rolling(shoal, work, args.profile, args.instances)
        shutil.rmtree(work, ignore_errors=True)

    print(f"\nbench/failover: 3 Shoal agents on loopback, gossip profile {args.profile}, "
          f"{args.trials} trials per crash (seconds from kill -9: min / median / max; "
          f"load {os.getloadavg()[0]:.1f})\n")
    print(f"| {'measurement':<72} | {'min / median / max':<22} |")
    print(f"|{'-' * 74}|{'-' * 24}|")
    for name, xs in rows:
        print(f"| {name:<72} | {fmt(xs):<22} |")
    print("\ngoal: replacements serving within detection + 2 s\n")

    if args.only == "crash":
        return
    print(f"rolling deploy of {args.instances} instances (health-web), seconds from the upload:")
    for now, iid, node, state in timeline:
        old = " (old)" if iid in before else ""
        print(f"  +{now:6.2f}  {iid:<8}{old:<7} {node:<4} {state}")
    result = "done" if "total" in done else f"FAILED: {done.get('error')}"
    print(f"\n  deploy {result} in {total:.2f} s; client requests: {prober.ok} ok, "
          f"{prober.failed} failed on instances still desired, {prober.to_stopping} to "
          f"instances already unplaced")
    for f in prober.failures[:10]:
        print(f"    {f}")
    print("\ngoal: no failed request; total under 10 s plus the app's start and health time")


if __name__ == "__main__":
    main()
