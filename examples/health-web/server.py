"""A web app with a health check that drains on SIGTERM: what a rolling deploy expects.

GET /health answers 200 once the app is ready, 500 when BROKEN=1 (a release that must be
rolled back), and 503 while draining. Any other path answers with the release and instance
that served it. On SIGTERM the app keeps serving for DRAIN_SECONDS (requests already on
their way still get an answer), then exits; Shoal's stop_grace must be longer.
"""
import http.server
import os
import signal
import sys
import threading
import time

RELEASE = os.environ.get("SHOAL_RELEASE", "?")
INSTANCE = os.environ.get("SHOAL_INSTANCE", "?")
BROKEN = os.environ.get("BROKEN") == "1"
DRAIN_SECONDS = float(os.environ.get("DRAIN_SECONDS", "2"))
draining = threading.Event()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        if self.path == "/health":
            code = 503 if draining.is_set() else 500 if BROKEN else 200
        else:
            code = 200
        body = ("v%s %s %s %d\n" % (RELEASE, INSTANCE, os.environ.get("GREETING", "hello"),
                                    code)).encode()
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


def main():
    port = int(os.environ.get("PORT", "8000"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True

    def on_term(signum, frame):
        if draining.is_set():
            return
        draining.set()
        print("SIGTERM: draining for %.1f s" % DRAIN_SECONDS, flush=True)

        def stop():
            time.sleep(DRAIN_SECONDS)
            server.shutdown()

        threading.Thread(target=stop, daemon=True).start()

    signal.signal(signal.SIGTERM, on_term)
    print("listening on port %d as %s (v%s)" % (port, INSTANCE, RELEASE), flush=True)
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
