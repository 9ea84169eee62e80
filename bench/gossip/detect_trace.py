#!/usr/bin/python3
"""bench/gossip/detect_trace.py: where failure detection spends its time, serf vs shoal.

Starts N agents of one kind (as gossip_bench.py does), kills the last one with SIGKILL and
captures every UDP packet on loopback (AF_PACKET, inside a private network namespace) for
the next seconds. It decodes memberlist framing (CRC, LZW compression, compounds) and
prints, relative to the kill:
  - when the victim was first pinged directly by each observer (its probe order);
  - each suspicion about the victim by origin ("From"), when first seen on the wire;
  - the first dead message about the victim;
  - the same detection times gossip_bench.py measures by polling member lists.
The same decoder reads both kinds, so the two timelines compare like with like.

usage: bench/gossip/detect_trace.py --kind serf|shoal [--n 50] [--trials 3] [--settle 10]
"""
import argparse
import os
import shutil
import socket
import statistics
import struct
import sys
import tempfile
import threading
import time

import msgpack

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gossip_bench as gb  # noqa: E402

SO_TIMESTAMP = getattr(socket, "SO_TIMESTAMP", 29)  # Linux value; older Pythons lack it
VERBOSE = os.environ.get("DETECT_TRACE_VERBOSE") == "1"
PRE_KILL_S = 3.0  # capture this long before the kill to measure the probe rate
PING, INDIRECT_PING, SUSPECT, DEAD, COMPOUND, COMPRESS, CRC, NACK = 0, 1, 3, 5, 7, 9, 12, 11


def lzw_decode(data):
    """Go's compress/lzw reader, LSB order, 8-bit literals."""
    clear, eof = 256, 257
    width, hi, overflow, last = 9, eof, 512, None
    prefix, suffix = [0] * 4096, [0] * 4096
    out = bytearray()
    bits = nbits = pos = 0
    while True:
        while nbits < width:
            if pos >= len(data):
                return bytes(out)
            bits |= data[pos] << nbits
            pos += 1
            nbits += 8
        code = bits & ((1 << width) - 1)
        bits >>= width
        nbits -= width
        if code < clear:
            out.append(code)
            if last is not None:
                suffix[hi], prefix[hi] = code, last
        elif code == clear:
            width, hi, overflow, last = 9, eof, 512, None
            continue
        elif code == eof:
            return bytes(out)
        elif code <= hi:
            chunk = bytearray()
            c = code
            if code == hi and last is not None:
                c = last
                while c >= clear:
                    c = prefix[c]
                tail = c
                c = last
            else:
                tail = None
            while c >= clear:
                chunk.append(suffix[c])
                c = prefix[c]
            chunk.append(c)
            chunk.reverse()
            if tail is not None:
                chunk.append(tail)
            out += chunk
            if last is not None:
                suffix[hi], prefix[hi] = c, last
        else:
            raise ValueError("bad lzw code")
        last, hi = code, hi + 1
        if hi >= overflow:
            if width == 12:
                last, hi = None, hi - 1
            else:
                width += 1
                overflow <<= 1


def messages(buf, depth=0):
    """Yields (type, body) for every memberlist message inside one packet."""
    if not buf or depth > 4:
        return
    t = buf[0]
    if t == CRC:
        yield from messages(buf[5:], depth + 1)
    elif t == COMPRESS:
        m = msgpack.unpackb(buf[1:], raw=False)
        yield from messages(lzw_decode(m["Buf"]), depth + 1)
    elif t == COMPOUND:
        n = buf[1]
        lens = struct.unpack(f">{n}H", buf[2:2 + 2 * n])
        off = 2 + 2 * n
        for ln in lens:
            yield from messages(buf[off:off + ln], depth + 1)
            off += ln
    else:
        yield t, buf[1:]


def field(body, key):
    try:
        return msgpack.unpackb(body, raw=False, strict_map_key=False).get(key)
    except Exception:  # noqa: BLE001 - a body we cannot read is simply not counted
        return None


class Sniffer(threading.Thread):
    def __init__(self):
        super().__init__(daemon=True)
        self.sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
        self.sock.bind(("lo", 0))
        # Kernel receive timestamps: the capture thread may run late on a busy machine.
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMP, 1)
        self.sock.settimeout(0.2)
        self.packets = []  # (time, src port, dst port, payload)
        self.running = True

    def run(self):
        while self.running:
            try:
                data, anc, _, addr = self.sock.recvmsg(65535, 64)
            except socket.timeout:
                continue
            stamp = time.time()
            for level, kind, value in anc:
                if level == socket.SOL_SOCKET and kind == SO_TIMESTAMP:
                    sec, usec = struct.unpack("qq", value[:16])
                    stamp = sec + usec / 1e6
            if addr[2] == socket.PACKET_OUTGOING:
                continue  # loopback shows each packet twice
            ip = data[14:]
            if len(ip) < 28 or ip[9] != 17:
                continue
            ihl = (ip[0] & 0x0F) * 4
            sport, dport = struct.unpack(">HH", ip[ihl:ihl + 4])
            self.packets.append((stamp, sport, dport, bytes(ip[ihl + 8:])))


def trace(kind, n, settle, binary, ports):
    workdir = tempfile.mkdtemp(prefix="detect-trace-")
    make = gb.SerfCluster if kind == "serf" else gb.ShoalCluster
    cluster = make(n, "lan", ports, workdir, binary)
    try:
        cluster.join_all()
        seen, _ = gb.observe(cluster, list(range(n)),
                             lambda v: len(v) == n and all(s == "alive" for s in v.values()), 60)
        if len(seen) < n:
            raise RuntimeError("did not converge")
        time.sleep(settle)
        port_of = {int(g.split(":")[1]): name for g, name in zip(cluster.gossip, cluster.names)}
        victim = cluster.names[-1]
        vport = int(cluster.gossip[-1].split(":")[1])
        sniff = Sniffer()
        sniff.start()
        time.sleep(PRE_KILL_S)
        t0 = time.time()
        os.kill(cluster.procs[-1].pid, 9)
        cluster.procs[-1].wait()
        seen, _ = gb.observe(cluster, list(range(n - 1)), lambda v: v.get(victim) == "failed", 60)
        time.sleep(0.5)
        sniff.running = False
        sniff.join()
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    first_ping, suspect_from, relay_asked, dead_at = {}, {}, {}, None
    probes_before = 0
    for t, sport, dport, payload in sniff.packets:
        try:
            msgs = list(messages(payload))
        except Exception:  # noqa: BLE001
            continue
        for mtype, body in msgs:
            if mtype == INDIRECT_PING and field(body, "Node") == victim:
                relay_asked[dport] = t
            elif mtype == PING and dport == vport and VERBOSE and t >= t0:
                print(f"  ping {t - t0:7.3f} from {port_of.get(sport)} seq {field(body, 'SeqNo')}"
                      f" relay={t - relay_asked.get(sport, -1e9) <= 0.1}", file=sys.stderr)
            if mtype == PING and dport == vport:
                # A helper relays an indirect probe within milliseconds of being asked:
                # those pings are not the helper's own probe of the victim.
                if t - relay_asked.get(sport, -1e9) > 0.1 and t >= t0:
                    first_ping.setdefault(port_of.get(sport, str(sport)), t - t0)
            elif mtype == PING and t < t0 and field(body, "SourceNode") == port_of.get(sport):
                probes_before += 1
            elif mtype == SUSPECT and field(body, "Node") == victim:
                suspect_from.setdefault(field(body, "From"), t - t0)
            elif mtype == DEAD and field(body, "Node") == victim and dead_at is None:
                dead_at = t - t0
    pings = sorted(first_ping.values())
    sus = sorted(suspect_from.values())
    return {
        "ping1": pings[0] if pings else float("nan"),
        "ping3": pings[2] if len(pings) > 2 else float("nan"),
        "suspect1": sus[0] if sus else float("nan"),
        "suspect3": sus[2] if len(sus) > 2 else float("nan"),
        "accusers": len(sus),
        "pinged_5s": sum(1 for v in pings if v <= 5.0),
        "probe_rate": probes_before / PRE_KILL_S / (n - 1),
        "dead1": dead_at if dead_at is not None else float("nan"),
        "detect_first": min(seen.values()) - t0 if seen else float("nan"),
        "detect_all": max(seen.values()) - t0 if len(seen) == n - 1 else float("nan"),
    }


def in_private_netns():
    """Re-executes this script in a fresh network namespace (AF_PACKET on lo sees only us)."""
    if os.environ.get("SHOAL_BENCH_NETNS") == "1":
        return
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        sys.exit("detect_trace: needs root and unshare (a private network namespace)")
    os.environ["SHOAL_BENCH_NETNS"] = "1"
    os.execvp("unshare", ["unshare", "-n", "--", "sh", "-c", 'ip link set lo up && exec "$@"',
                          "sh", sys.executable, os.path.abspath(__file__)] + sys.argv[1:])


def probe_gaps(kind, n, settle, binary, ports, window):
    """No kill: over `window` seconds, how long from a random instant until someone next
    probes a given member (the wait that starts a failure detection), over all members."""
    workdir = tempfile.mkdtemp(prefix="detect-trace-")
    make = gb.SerfCluster if kind == "serf" else gb.ShoalCluster
    cluster = make(n, "lan", ports, workdir, binary)
    try:
        cluster.join_all()
        seen, _ = gb.observe(cluster, list(range(n)),
                             lambda v: len(v) == n and all(s == "alive" for s in v.values()), 60)
        if len(seen) < n:
            raise RuntimeError("did not converge")
        time.sleep(settle)
        port_of = {int(g.split(":")[1]): name for g, name in zip(cluster.gossip, cluster.names)}
        sniff = Sniffer()
        sniff.start()
        t0 = time.time()
        time.sleep(window)
        sniff.running = False
        sniff.join()
    finally:
        cluster.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    probes = {}  # target port -> probe times
    for t, sport, dport, payload in sniff.packets:
        if dport not in port_of or t < t0 or t > t0 + window:
            continue
        try:
            msgs = list(messages(payload))
        except Exception:  # noqa: BLE001
            continue
        for mtype, body in msgs:
            if mtype == PING and field(body, "SourceNode") == port_of.get(sport):
                probes.setdefault(dport, []).append(t - t0)
    # Mean residual wait: integral over the window of (time to next probe), per member.
    waits, over2 = [], 0
    for times in probes.values():
        times = sorted(times)
        edges = [0.0] + times
        area = sum((b - a) ** 2 / 2 for a, b in zip(edges, edges[1:]))
        covered = times[-1]
        waits.append(area / covered)
        over2 += sum(1 for a, b in zip(edges, edges[1:]) if b - a > 2.0)
    return statistics.mean(waits), sum(len(v) for v in probes.values()) / window / n, over2


def main():
    in_private_netns()
    ap = argparse.ArgumentParser()
    ap.add_argument("--kind", choices=["serf", "shoal"], required=True)
    ap.add_argument("--n", type=int, default=50)
    ap.add_argument("--trials", type=int, default=3)
    ap.add_argument("--settle", type=float, default=10)
    ap.add_argument("--gaps", type=float, default=0,
                    help="no kill: measure the wait until a member's next probe over this window")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap.add_argument("--shoal", default=os.path.join(root, "build", "cli", "shoal"))
    ap.add_argument("--serf", default=shutil.which("serf") or "serf")
    args = ap.parse_args()
    binary = args.serf if args.kind == "serf" else args.shoal
    if args.gaps:
        ports = gb.Ports()
        for _ in range(args.trials):
            wait, rate, long_gaps = probe_gaps(args.kind, args.n, args.settle, binary, ports,
                                               args.gaps)
            print(f"{args.kind} N={args.n}: mean wait until the next probe of a member "
                  f"{wait:.3f} s; probes per member per s {rate:.3f}; gaps over 2 s {long_gaps}",
                  flush=True)
        return
    keys = ["probe_rate", "ping1", "suspect1", "ping3", "suspect3", "accusers", "pinged_5s",
            "dead1", "detect_first", "detect_all"]
    print(f"{args.kind} N={args.n}: probes per agent per second before the kill; then seconds "
          "after kill -9: first direct ping of the victim, first suspicion on the wire, third "
          "of each, distinct accusers, observers that probed the victim within 5 s, first dead "
          "message, polled detection")
    print(" ".join(f"{k:>12}" for k in keys))
    rows, ports = [], gb.Ports()
    for _ in range(args.trials):
        r = trace(args.kind, args.n, args.settle, binary, ports)
        rows.append(r)
        print(" ".join(f"{r[k]:>12.2f}" for k in keys), flush=True)
    print(" ".join(f"{statistics.median(r[k] for r in rows):>12.2f}" for k in keys), "(median)")


if __name__ == "__main__":
    main()
