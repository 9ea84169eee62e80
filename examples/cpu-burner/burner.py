"""Serves PORT; burns one core (as much as its CPU limit lets it) while told to.

GET /burn starts burning, GET /calm stops it, GET / says whether it burns. While the file
named by the BURN_FILE config var exists, it burns too (one switch for every instance).
"""
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

told = threading.Event()
burn_file = os.environ.get("BURN_FILE", "")


def burning():
    return told.is_set() or (burn_file != "" and os.path.exists(burn_file))


def burner():
    while True:
        if not burning():
            time.sleep(0.2)
            continue
        deadline = time.monotonic() + 0.2
        n = 0
        while time.monotonic() < deadline:
            n += 1


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path == "/burn":
            told.set()
        elif self.path == "/calm":
            told.clear()
        body = json.dumps({"instance": os.environ.get("SHOAL_INSTANCE"),
                           "burning": burning()}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        pass


threading.Thread(target=burner, daemon=True).start()
ThreadingHTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
