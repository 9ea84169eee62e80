#!/usr/bin/env python3
"""Captures golden memberlist/Serf bytes from a real `serf` agent, for wire_test.cc.

Run by hand, once (output is committed):  python3 capture.py OUTDIR
It starts `serf agent -node=golden` on loopback, makes it join a fake member served by
this script ("listener"), answers its UDP pings so it stays alive, fires a user event
and a query through the agent's RPC, and writes what the agent sent:
  tcp_NN.bin  one file per TCP connection (the agent's push-pull, as sent)
  udp_NN.bin  one file per UDP packet
Only loopback addresses are used; the only process killed is the agent started here.
"""
import os, socket, struct, subprocess, sys, threading, time

OUT = sys.argv[1] if len(sys.argv) > 1 else "."
NAME = "listener"


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


# ---- minimal msgpack, enough for the messages this script must read or write ----
def mp_str(b):
    if isinstance(b, str): b = b.encode()
    n = len(b)
    if n < 32: return bytes([0xa0 | n]) + b
    return b"\xda" + struct.pack(">H", n) + b


def mp_uint(v):
    if v < 128: return bytes([v])
    if v < 256: return b"\xcc" + bytes([v])
    if v < 65536: return b"\xcd" + struct.pack(">H", v)
    return b"\xce" + struct.pack(">I", v)


def mp_map(items):  # items: list of (key, encoded value), written in the given order
    return bytes([0x80 | len(items)]) + b"".join(mp_str(k) + v for k, v in items)


def mp_read(b, i):
    """Returns (value, next index) for the value at b[i]."""
    t = b[i]; i += 1
    if t < 0x80: return t, i
    if t >= 0xe0: return t - 256, i
    if 0xa0 <= t <= 0xbf: n = t & 0x1f; return b[i:i + n], i + n
    if 0x80 <= t <= 0x8f or t in (0xde, 0xdf):
        if t <= 0x8f: n = t & 0x0f
        elif t == 0xde: n = struct.unpack(">H", b[i:i + 2])[0]; i += 2
        else: n = struct.unpack(">I", b[i:i + 4])[0]; i += 4
        d = {}
        for _ in range(n):
            k, i = mp_read(b, i); v, i = mp_read(b, i); d[bytes(k)] = v
        return d, i
    if 0x90 <= t <= 0x9f or t in (0xdc, 0xdd):
        if t <= 0x9f: n = t & 0x0f
        elif t == 0xdc: n = struct.unpack(">H", b[i:i + 2])[0]; i += 2
        else: n = struct.unpack(">I", b[i:i + 4])[0]; i += 4
        a = []
        for _ in range(n):
            v, i = mp_read(b, i); a.append(v)
        return a, i
    if t == 0xc0: return None, i
    if t in (0xc2, 0xc3): return t == 0xc3, i
    widths = {0xcc: 1, 0xcd: 2, 0xce: 4, 0xcf: 8, 0xd0: 1, 0xd1: 2, 0xd2: 4, 0xd3: 8}
    if t in widths:
        w = widths[t]; v = int.from_bytes(b[i:i + w], "big", signed=t >= 0xd0); return v, i + w
    lens = {0xc4: 1, 0xc5: 2, 0xc6: 4, 0xd9: 1, 0xda: 2, 0xdb: 4}
    if t in lens:
        w = lens[t]; n = int.from_bytes(b[i:i + w], "big"); i += w; return b[i:i + n], i + n
    raise ValueError("unsupported msgpack byte %#x" % t)


def split_packet(buf):
    """Yields the plain messages in a UDP packet (CRC and compound unwrapped)."""
    if len(buf) >= 5 and buf[0] == 12:
        buf = buf[5:]
    if buf and buf[0] == 7:
        n = buf[1]; lens = struct.unpack(">%dH" % n, buf[2:2 + 2 * n]); pos = 2 + 2 * n
        for ln in lens:
            yield from split_packet(buf[pos:pos + ln]); pos += ln
    elif buf:
        yield buf


def main():
    lport, sport, rport = free_port(), free_port(), free_port()
    tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", lport)); tcp.listen(8)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", lport))
    udp.settimeout(0.2)
    counters = {"tcp": 0, "udp": 0}
    stop = time.time() + 12

    def save(kind, data):
        path = os.path.join(OUT, "%s_%02d.bin" % (kind, counters[kind]))
        counters[kind] += 1
        with open(path, "wb") as f: f.write(data)
        print("wrote", path, len(data), "bytes")

    def our_push_pull():
        meta = b"\xff" + bytes([0x81]) + mp_str("role") + mp_str("capture")
        node = mp_map([("Addr", mp_str(socket.inet_aton("127.0.0.1"))), ("Incarnation", mp_uint(1)),
                       ("Meta", mp_str(meta)), ("Name", mp_str(NAME)), ("Port", mp_uint(lport)),
                       ("State", mp_uint(0)), ("Vsn", mp_str(bytes([1, 5, 2, 2, 5, 4])))])
        header = mp_map([("Join", b"\xc2"), ("Nodes", mp_uint(1)), ("UserStateLen", mp_uint(0))])
        return b"\x06" + header + node

    def serve_tcp():
        tcp.settimeout(0.2)
        while time.time() < stop:
            try: conn, _ = tcp.accept()
            except socket.timeout: continue
            conn.settimeout(0.5); data = b""
            while True:  # the agent sends its whole message, then waits for ours
                try: chunk = conn.recv(65536)
                except socket.timeout: break
                if not chunk: break
                data += chunk
            save("tcp", data)
            if data[:1] in (b"\x06", b"\x09"):  # push-pull, possibly compressed: answer it
                conn.sendall(our_push_pull())
            conn.close()

    def serve_udp():
        while time.time() < stop:
            try: buf, addr = udp.recvfrom(65536)
            except socket.timeout: continue
            save("udp", buf)
            for msg in split_packet(buf):
                if msg[0] == 0:  # ping: ack it at once so the agent keeps us alive
                    ping, _ = mp_read(msg, 1)
                    ack = b"\x02" + mp_map([("Payload", b"\xc0"), ("SeqNo", mp_uint(ping[b"SeqNo"]))])
                    udp.sendto(ack, addr)

    threading.Thread(target=serve_tcp, daemon=True).start()
    threading.Thread(target=serve_udp, daemon=True).start()
    log = open(os.path.join(OUT, "agent.log.txt"), "w")
    agent = subprocess.Popen(["serf", "agent", "-node=golden", "-bind=127.0.0.1:%d" % sport,
                              "-rpc-addr=127.0.0.1:%d" % rport, "-tag", "role=web", "-tag", "dc=x",
                              "-log-level=debug"], stdout=log, stderr=subprocess.STDOUT)
    try:
        time.sleep(1.5)
        rpc = "-rpc-addr=127.0.0.1:%d" % rport
        subprocess.run(["serf", "join", rpc, "127.0.0.1:%d" % lport], check=False)
        time.sleep(1.0)
        subprocess.run(["serf", "event", rpc, "deploy", "v42"], check=False)
        subprocess.run(["serf", "query", rpc, "-timeout=1s", "-tag", "role=capture", "whoami", "hi"],
                       check=False)
        while time.time() < stop:
            time.sleep(0.2)
    finally:
        agent.terminate()  # only the agent this script started, by its own handle
        agent.wait(timeout=10)
        log.close()


if __name__ == "__main__":
    main()
