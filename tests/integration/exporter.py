"""A real metrics server for tests, run as its own process so a test can kill it.

Modes: ``healthy`` (a valid text page whose counter grows each scrape; OpenMetrics when
asked), ``garbage`` (not exposition text), ``hang`` (accepts, then never answers),
``error`` (HTTP 500), ``flaky-series`` (one series appears only on even scrapes),
``stable`` / ``stable-text`` (a fixed page full of awkward cases; ``stable-text`` never
offers OpenMetrics). Every
mode serves ``/healthz``. Prints ``listening PORT`` once it accepts connections.

    python tests/integration/exporter.py healthy --port 9100
"""

from __future__ import annotations

import argparse
import gzip
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

_lock = threading.Lock()
_hits = [0]


def page(n: int, openmetrics: bool, mode: str) -> str:
    # OpenMetrics names a counter family without its _total suffix; text 0.0.4 with it.
    family = "demo_requests" if openmetrics else "demo_requests_total"
    lines = [
        f"# HELP {family} Requests served.",
        f"# TYPE {family} counter",
        f'demo_requests_total{{code="200",method="get"}} {n * 10}',
        f'demo_requests_total{{code="500",method="get"}} {n}',
        "# HELP demo_temperature_celsius A gauge.",
        "# TYPE demo_temperature_celsius gauge",
        f"demo_temperature_celsius {20 + n % 7}.5",
        "# HELP demo_latency_seconds A histogram.",
        "# TYPE demo_latency_seconds histogram",
        f'demo_latency_seconds_bucket{{le="0.1"}} {n}',
        f'demo_latency_seconds_bucket{{le="0.5"}} {2 * n}',
        f'demo_latency_seconds_bucket{{le="+Inf"}} {3 * n}',
        f"demo_latency_seconds_sum {0.25 * n}",
        f"demo_latency_seconds_count {3 * n}",
        "# HELP demo_info_labels A gauge carrying a label that clashes with a target label.",
        "# TYPE demo_info_labels gauge",
        'demo_info_labels{job="exporter-says",instance="inner"} 1',
    ]
    if mode == "flaky-series" and n % 2 == 0:
        lines += ["# TYPE demo_sometimes gauge", "demo_sometimes 42"]
    if openmetrics:
        lines.append("# EOF")
    return "\n".join(lines) + "\n"


def stable_page(openmetrics: bool) -> str:
    """A fixed page with the awkward cases: escapes, unicode, special floats, all types."""
    family = "stable_jobs" if openmetrics else "stable_jobs_total"
    lines = [
        f"# HELP {family} Jobs done, with awkward label values.",
        f"# TYPE {family} counter",
        'stable_jobs_total{queue="default",path="C:\\\\tmp"} 1027',
        'stable_jobs_total{queue="quoted \\"name\\"",path="multi\\nline"} 3',
        'stable_jobs_total{queue="türkçe ığüşöç İ",path="/"} 12.5',
        "# HELP stable_temperature_celsius Gauges with special values.",
        "# TYPE stable_temperature_celsius gauge",
        'stable_temperature_celsius{sensor="a"} -3.25',
        'stable_temperature_celsius{sensor="b"} +Inf',
        'stable_temperature_celsius{sensor="c"} -Inf',
        'stable_temperature_celsius{sensor="d"} 1e-300',
        'stable_temperature_celsius{sensor="e"} 6.02214076e+23',
        'stable_temperature_celsius{sensor="f"} NaN',
        "# HELP stable_latency_seconds A histogram.",
        "# TYPE stable_latency_seconds histogram",
        'stable_latency_seconds_bucket{route="/a",le="0.05"} 4',
        'stable_latency_seconds_bucket{route="/a",le="0.1"} 9',
        'stable_latency_seconds_bucket{route="/a",le="+Inf"} 10',
        'stable_latency_seconds_sum{route="/a"} 0.755',
        'stable_latency_seconds_count{route="/a"} 10',
        "# HELP stable_size_bytes A summary.",
        "# TYPE stable_size_bytes summary",
        'stable_size_bytes{quantile="0.5"} 512',
        'stable_size_bytes{quantile="0.99"} 4096',
        "stable_size_bytes_sum 81920",
        "stable_size_bytes_count 100",
    ]
    if openmetrics:
        lines.append("# EOF")
    else:
        lines += ["# a plain comment", "stable_untyped_thing 7"]
    return "\n".join(lines) + "\n"


class Handler(BaseHTTPRequestHandler):
    mode = "healthy"

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path == "/healthz":
            self._send(200, b"ok\n", "text/plain")
            return
        if self.mode == "hang":
            time.sleep(3600)
            return
        if self.mode == "error":
            self._send(500, b"internal error: database is on fire\n", "text/plain")
            return
        if self.mode == "garbage":
            self._send(200, b"<html><body>this is not a metrics page</body></html>\n", "text/plain; version=0.0.4")
            return
        with _lock:
            _hits[0] += 1
            n = _hits[0]
        om = "application/openmetrics-text" in self.headers.get("Accept", "") and self.mode != "stable-text"
        body = (stable_page(om) if self.mode.startswith("stable") else page(n, om, self.mode)).encode()
        ctype = "application/openmetrics-text; version=1.0.0; charset=utf-8" if om else "text/plain; version=0.0.4"
        self._send(200, body, ctype)

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        gz = "gzip" in self.headers.get("Accept-Encoding", "")
        if gz:
            body = gzip.compress(body)
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        if gz:
            self.send_header("Content-Encoding", "gzip")
        self.end_headers()
        self.wfile.write(body)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["healthy", "garbage", "hang", "error", "flaky-series", "stable", "stable-text"])
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()
    Handler.mode = args.mode
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"listening {args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
