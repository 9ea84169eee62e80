"""A Python app with no Procfile: Shoal detects it by its requirements.txt, builds a
virtualenv in .venv with the requirements, and runs `.venv/bin/python app.py` as web
(docs/apps.md, "Detected apps"). It answers on $PORT with the interpreter it runs under,
which shows that it is the virtualenv's."""
import http.server
import os
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (f"hello from {os.environ.get('SHOAL_INSTANCE', '?')} "
                f"(python {sys.version.split()[0]}, prefix {sys.prefix})\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        print(fmt % args, flush=True)


http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Handler).serve_forever()
