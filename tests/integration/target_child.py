"""A replica for the target tests: a tiny HTTP server that can misbehave on request.

Usage: ``python target_child.py --port PORT [options]``

- ``GET /healthz`` answers 200 ``ok``; ``GET /hold?seconds=S`` answers after S seconds
  (a request in flight); ``GET /pid`` answers the pid; ``GET /env?name=NAME`` answers
  the value of the environment variable NAME (empty if unset), so a test can tell which
  template a process was started from; ``GET /version`` answers ``$VERSION`` with the
  status ``$ANSWER_STATUS`` (default 200): a version that fails, for rollout tests.
- ``--slow-start S``: wait S seconds before listening (a replica that is not ready yet).
- ``--crash-after S``: print ``crashing: boom`` to stderr and exit with code 3 after S
  seconds (0: before listening).
- ``--ignore-sigterm``: ignore SIGTERM (only SIGKILL stops it).
- ``--grandchild``: start a long-sleeping child in the same process group and print its
  pid (``grandchild PID``), to check that a replica's whole group is stopped.

Prints ``listening PORT`` once it accepts connections; every line is flushed at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


def say(line: str, stream: object = None) -> None:
    out = sys.stdout if stream is None else sys.stderr
    out.write(line + "\n")
    out.flush()


class Handler(BaseHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/hold":
            time.sleep(float(parse_qs(url.query).get("seconds", ["1"])[0]))
        body = str(os.getpid()).encode() if url.path == "/pid" else b"ok\n"
        if url.path == "/env":
            body = os.environ.get(parse_qs(url.query).get("name", [""])[0], "").encode()
        status = 200 if url.path in ("/healthz", "/hold", "/pid", "/env") else 404
        if url.path == "/version":
            body = os.environ.get("VERSION", "").encode()
            status = int(os.environ.get("ANSWER_STATUS", "200"))
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def crash_later(seconds: float) -> None:
    time.sleep(seconds)
    say("crashing: boom", stream="err")
    sys.stderr.flush()
    os._exit(3)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--slow-start", type=float, default=0.0)
    parser.add_argument("--crash-after", type=float, default=None)
    parser.add_argument("--ignore-sigterm", action="store_true")
    parser.add_argument("--grandchild", action="store_true")
    args = parser.parse_args()
    if args.ignore_sigterm:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    say(f"starting on port {args.port}")
    if args.grandchild:
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        say(f"grandchild {child.pid}")
    if args.crash_after == 0:
        crash_later(0)
    if args.crash_after is not None:
        threading.Thread(target=crash_later, args=(args.crash_after,), daemon=True).start()
    time.sleep(args.slow_start)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    say(f"listening {args.port}")
    server.serve_forever()


if __name__ == "__main__":
    main()
