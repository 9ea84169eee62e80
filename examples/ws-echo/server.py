"""A WebSocket echo app that needs nothing but Python's standard library.

  GET /           200, one line naming the release and instance that answered
  GET /health     200
  GET /stream     a chunked answer: ?parts=N (default 5) lines, ?delay=S seconds (default
                  0.2) apart, so a proxy that buffers instead of streaming shows it
  GET /ws         (any path, with Upgrade: websocket) an RFC 6455 echo: text and binary
                  messages come back as sent (fragmented ones reassembled), a ping gets
                  its pong, a close is answered with the same code

Listens on 127.0.0.1:$PORT. Messages over 1 MiB are refused with close code 1009; an
unmasked client frame with 1002 (the RFC requires clients to mask).
"""
import base64
import hashlib
import http.server
import os
import signal
import struct
import sys
import threading
import time
import urllib.parse

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3
MAX_MESSAGE = 1 << 20
RELEASE = os.environ.get("SHOAL_RELEASE", "?")
INSTANCE = os.environ.get("SHOAL_INSTANCE", "?")

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


class Closed(Exception):
    pass


def read_exact(rfile, n):
    data = rfile.read(n)
    if data is None or len(data) < n:
        raise Closed()
    return data


def read_frame(rfile):
    """One frame: (fin, opcode, payload). Raises Closed on EOF, ValueError on a protocol
    error (with the close code as its argument)."""
    b0, b1 = read_exact(rfile, 2)
    fin, opcode, masked, length = b0 & 0x80, b0 & 0x0F, b1 & 0x80, b1 & 0x7F
    if b0 & 0x70:
        raise ValueError(1002)  # no extension was negotiated
    if length == 126:
        length = struct.unpack("!H", read_exact(rfile, 2))[0]
    elif length == 127:
        length = struct.unpack("!Q", read_exact(rfile, 8))[0]
    if not masked:
        raise ValueError(1002)
    if opcode >= 0x8 and (length > 125 or not fin):
        raise ValueError(1002)  # control frames are short and never fragmented
    if length > MAX_MESSAGE:
        raise ValueError(1009)
    mask = read_exact(rfile, 4)
    payload = bytearray(read_exact(rfile, length))
    for i in range(length):
        payload[i] ^= mask[i & 3]
    return bool(fin), opcode, bytes(payload)


def frame(opcode, payload):
    """A server frame: final, unmasked."""
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", 0x80 | opcode, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", 0x80 | opcode, 126, n)
    else:
        head = struct.pack("!BBQ", 0x80 | opcode, 127, n)
    return head + payload


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        if self.headers.get("Upgrade", "").lower() == "websocket":
            return self.websocket()
        url = urllib.parse.urlsplit(self.path)
        if url.path == "/stream":
            return self.stream(urllib.parse.parse_qs(url.query))
        body = b"ok\n" if url.path == "/health" else \
            ("ws-echo v%s %s\n" % (RELEASE, INSTANCE)).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def stream(self, query):
        parts = min(int(query.get("parts", ["5"])[0]), 1000)
        delay = min(float(query.get("delay", ["0.2"])[0]), 10.0)
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        for i in range(parts):
            data = ("part %d of %d at %.3f\n" % (i + 1, parts, time.time())).encode()
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
            if i + 1 < parts:
                time.sleep(delay)
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def websocket(self):
        key = self.headers.get("Sec-WebSocket-Key", "")
        version = self.headers.get("Sec-WebSocket-Version", "")
        if not key or version != "13" or "upgrade" not in self.headers.get("Connection", "").lower():
            body = b"bad websocket handshake\n"
            self.send_response(400)
            self.send_header("Sec-WebSocket-Version", "13")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        accept = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True  # after the session, the connection is not HTTP again
        try:
            self.echo()
        except (Closed, ConnectionError):
            pass

    def echo(self):
        message, kind = b"", None
        while True:
            try:
                fin, opcode, payload = read_frame(self.rfile)
            except ValueError as e:
                self.send_close(e.args[0])
                return
            if opcode == OP_PING:
                self.send(OP_PONG, payload)
            elif opcode == OP_PONG:
                pass
            elif opcode == OP_CLOSE:
                # Echo the peer's status code (or none), then end the session.
                self.send(OP_CLOSE, payload[:2])
                return
            elif opcode in (OP_TEXT, OP_BINARY, OP_CONT):
                if (opcode == OP_CONT) != (kind is not None):
                    self.send_close(1002)  # a continuation with nothing to continue, or not
                    return
                if kind is None:
                    kind = opcode
                message += payload
                if len(message) > MAX_MESSAGE:
                    self.send_close(1009)
                    return
                if fin:
                    if kind == OP_TEXT:
                        try:
                            message.decode("utf-8")
                        except UnicodeDecodeError:
                            self.send_close(1007)
                            return
                    self.send(kind, message)
                    message, kind = b"", None
            else:
                self.send_close(1002)
                return

    def send(self, opcode, payload):
        self.wfile.write(frame(opcode, payload))
        self.wfile.flush()

    def send_close(self, code):
        self.send(OP_CLOSE, struct.pack("!H", code))

    def log_message(self, fmt, *args):
        pass


def main():
    port = int(os.environ.get("PORT", "8000"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    # SIGTERM: stop accepting and exit; open WebSocket sessions end with the process.
    signal.signal(signal.SIGTERM,
                  lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print("listening on port %d as %s (v%s)" % (port, INSTANCE, RELEASE), flush=True)
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
