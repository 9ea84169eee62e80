"""Helpers every bench/ driver shares: a private network namespace, loopback ports, and
per-process CPU and memory from /proc."""
import os
import shutil
import socket
import sys

CLK_TCK = os.sysconf("SC_CLK_TCK")


def in_private_netns(script=None):
    """Re-executes `script` (default: the calling script, sys.argv[0]) inside a fresh
    network namespace with only loopback up, so nothing the bench starts can reach beyond
    this machine. No-op when not root."""
    script = script or sys.argv[0]
    if os.environ.get("SHOAL_BENCH_NETNS") == "1":
        return
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        print(f"{os.path.basename(script)}: not root; running on the host's loopback",
              file=sys.stderr)
        return
    os.environ["SHOAL_BENCH_NETNS"] = "1"
    cmd = ["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"', "sh",
           sys.executable, os.path.abspath(script)] + sys.argv[1:]
    os.execvp("unshare", cmd)


_taken = set()


def free_port():
    """A loopback TCP port that is free now, whose successor is free too (a Shoal agent
    takes gossip port + 1 for Raft by default), and that this process never handed out."""
    for _ in range(200):
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            if port >= 65535 or {port, port + 1} & _taken:
                continue
            with socket.socket() as b:
                try:
                    b.bind(("127.0.0.1", port + 1))
                except OSError:
                    continue
            _taken.update((port, port + 1))
            return port
    raise RuntimeError("no free loopback port pair")


def proc_status_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def proc_cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime + stime


_token = None


def bench_token():
    """The admin API token of every cluster a bench starts (docs/security.md), as
    (token, file): each agent gets `--bootstrap-token-file FILE` (agent_token_args()), HTTP
    requests send `Authorization: Bearer TOKEN` (auth_headers()), and the `shoal` CLI finds
    it in SHOAL_TOKEN, set here for this process and its children. Random per run."""
    global _token
    if _token is None:
        import base64
        import tempfile
        text = "shoal_" + os.urandom(8).hex() + "_" + \
            base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        fd, path = tempfile.mkstemp(prefix="shoal-bench-token-")
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        os.environ["SHOAL_TOKEN"] = text
        import atexit
        atexit.register(lambda: os.path.exists(path) and os.unlink(path))
        _token = (text, path)
    return _token


_secret_file = None


def bench_cluster_secret_file():
    """A cluster secret file (mode 0600) every agent of this run shares, so the nodes of a
    bench cluster can talk to each other (docs/security.md, "Node to node")."""
    global _secret_file
    if _secret_file is None:
        import base64
        import tempfile
        text = "shoal-secret-" + base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("=")
        fd, path = tempfile.mkstemp(prefix="shoal-bench-secret-")
        with os.fdopen(fd, "w") as f:
            f.write(text + "\n")
        import atexit
        atexit.register(lambda: os.path.exists(path) and os.remove(path))
        _secret_file = path
    return _secret_file


def agent_token_args(insecure_rpc=False):
    """Flags for `shoal agent` so that a cluster it starts accepts bench_token(), and its
    nodes share one cluster secret (or, with insecure_rpc, talk in plaintext: only to
    measure what the node-to-node channel costs)."""
    args = ["--bootstrap-token-file", bench_token()[1]]
    if insecure_rpc:
        return args + ["--insecure-rpc"]
    return args + ["--cluster-secret-file", bench_cluster_secret_file()]


def auth_headers(headers=None):
    """`headers` plus the bench's bearer token."""
    out = dict(headers or {})
    out["Authorization"] = "Bearer " + bench_token()[0]
    return out
