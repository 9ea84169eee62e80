"""A web app that needs nothing but Python's standard library.

Shoal gives every instance its port in $PORT and tells it who it is in $SHOAL_APP,
$SHOAL_RELEASE and $SHOAL_INSTANCE; config vars (`shoal config set`) arrive as environment
variables too.
"""
import http.server
import json
import os
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
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
        # One line per request on stdout: `shoal logs` shows it.
        print("%s %s" % (self.address_string(), fmt % args), flush=True)


if __name__ == "__main__":
    port = int(os.environ.get("PORT", "8000"))
    print("listening on port %d as %s" % (port, os.environ.get("SHOAL_INSTANCE")), flush=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        sys.exit(0)
