"""A web app that needs nothing but Python's standard library.

Shoal gives every instance its port in $PORT and tells it who it is in $SHOAL_APP,
$SHOAL_RELEASE and $SHOAL_INSTANCE; config vars (`shoal config set`) arrive as environment
variables too. GET /metrics is its own metrics in the Prometheus text format: shoal.toml names
the path, and the node running the instance re-exposes them on its /metrics with the app,
release and instance labels (docs/reporting.md).
"""
import http.server
import json
import os
import sys
import threading

requests = 0
requests_lock = threading.Lock()


def metrics():
    with requests_lock:
        served = requests
    greeting = os.environ.get("GREETING", "hello").replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return (
        "# HELP hello_requests_total Requests answered, /metrics aside.\n"
        "# TYPE hello_requests_total counter\n"
        f"hello_requests_total {served}\n"
        "# HELP hello_info The greeting this instance answers with.\n"
        "# TYPE hello_info gauge\n"
        f'hello_info{{greeting="{greeting}"}} 1\n'
    ).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global requests
        if self.path == "/metrics":
            body = metrics()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        with requests_lock:
            requests += 1
        body = json.dumps({
            "greeting": os.environ.get("GREETING", "hello"),
            "app": os.environ.get("SHOAL_APP"),
            "release": os.environ.get("SHOAL_RELEASE"),
            "instance": os.environ.get("SHOAL_INSTANCE"),
            "path": self.path,
        }).encode() + b"\n"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        # One line per request on stdout: `shoal logs` shows it (scrapes aside).
        if self.path != "/metrics":
            print("%s %s" % (self.address_string(), fmt % args), flush=True)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    print("listening on port %d as %s" % (port, os.environ.get("SHOAL_INSTANCE")), flush=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)
