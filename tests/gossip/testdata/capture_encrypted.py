#!/usr/bin/env python3
"""Captures encrypted memberlist bytes from real `serf` agents, for encryption_test.cc.

Run by hand, once (output is committed):  python3 capture_encrypted.py OUTDIR
Two serf agents share the key below. Agent B advertises the port of a relay run by this
script, which forwards UDP and TCP to B's real port and records what agent A sends:
  key.txt      the base64 key both agents use
  tcp_NN.bin   A's side of each TCP connection (the encrypted join push-pull, ...)
  udp_NN.bin   each UDP packet from A to B (encrypted pings, compounds, ...)
Only loopback addresses are used; the only processes killed are the agents started here.
"""
import os, socket, subprocess, sys, threading, time

OUT = sys.argv[1] if len(sys.argv) > 1 else "."
KEY = "T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s="  # made by `serf keygen`, test only


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def main():
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "key.txt"), "w") as f:
        f.write(KEY + "\n")
    port_a, port_b, relay = free_port(), free_port(), free_port()
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); udp.bind(("127.0.0.1", relay))
    tcp = socket.socket(); tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    tcp.bind(("127.0.0.1", relay)); tcp.listen(8)
    udp_packets, tcp_streams, lock = [], [], threading.Lock()

    def udp_loop():
        udp.settimeout(0.2)
        while not done.is_set():
            try:
                data, src = udp.recvfrom(65536)
            except socket.timeout:
                continue
            if src[1] == port_a:
                with lock: udp_packets.append(data)
            udp.sendto(data, ("127.0.0.1", port_b))

    def pipe(src, dst, record):
        try:
            while True:
                b = src.recv(65536)
                if not b: break
                if record is not None: record.extend(b)
                dst.sendall(b)
        except OSError:
            pass
        finally:
            try: dst.shutdown(socket.SHUT_WR)
            except OSError: pass

    def tcp_loop():
        tcp.settimeout(0.2)
        while not done.is_set():
            try:
                c, _ = tcp.accept()
            except socket.timeout:
                continue
            up = socket.create_connection(("127.0.0.1", port_b))
            rec = bytearray()
            with lock: tcp_streams.append(rec)
            threading.Thread(target=pipe, args=(c, up, rec), daemon=True).start()
            threading.Thread(target=pipe, args=(up, c, None), daemon=True).start()

    done = threading.Event()
    threading.Thread(target=udp_loop, daemon=True).start()
    threading.Thread(target=tcp_loop, daemon=True).start()
    common = ["-encrypt=" + KEY, "-log-level=debug"]
    b = subprocess.Popen(["serf", "agent", "-node=golden-b", f"-bind=127.0.0.1:{port_b}",
                          f"-advertise=127.0.0.1:{relay}", f"-rpc-addr=127.0.0.1:{free_port()}"]
                         + common, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1)
    a = subprocess.Popen(["serf", "agent", "-node=golden-a", f"-bind=127.0.0.1:{port_a}",
                          f"-rpc-addr=127.0.0.1:{free_port()}", f"-join=127.0.0.1:{relay}"]
                         + common, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(4)
    for p in (a, b):
        p.kill(); p.wait()
    done.set(); time.sleep(0.5)
    with lock:
        for i, s in enumerate(tcp_streams[:2]):
            open(os.path.join(OUT, f"tcp_{i:02d}.bin"), "wb").write(bytes(s))
        for i, d in enumerate(udp_packets[:8]):
            open(os.path.join(OUT, f"udp_{i:02d}.bin"), "wb").write(d)
    print(f"{len(tcp_streams)} streams, {len(udp_packets)} packets")


if __name__ == "__main__":
    main()
