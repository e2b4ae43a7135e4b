"""The scrape loop against a real loopback HTTP server and a real store.

Covers: Accept-header negotiation (OpenMetrics preferred) and gzip; target labels on every
series and scraped clashes kept as exported_*; Prometheus's synthetic series; staleness
markers for a vanished series and for every series when a scrape fails; explicit
timestamps honoured and never marked stale; body size and sample limits; a garbage page
marks the target down with the line and reason; a target-down event on the change and a
target-up event on recovery.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scalepilot.adapters.scrape.http import Fetcher
from scalepilot.adapters.scrape.parser import ACCEPT_HEADER
from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.loader import load_text
from scalepilot.domain.clock import SystemClock
from scalepilot.domain.labels import format_labels
from scalepilot.domain.matchers import name_matcher
from scalepilot.domain.samples import is_stale
from scalepilot.service.scraping import ScrapeLoop
from scalepilot.service.selfmetrics import SelfMetrics
from scalepilot.service.targets import scrape_targets


@dataclass
class Page:
    body: str = ""
    content_type: str = "text/plain; version=0.0.4"
    status: int = 200
    seen_accept: list[str] = field(default_factory=list)
    seen_encoding: list[str] = field(default_factory=list)


@pytest.fixture
def server() -> Iterator[tuple[str, Page]]:
    page = Page()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            page.seen_accept.append(self.headers.get("Accept", ""))
            page.seen_encoding.append(self.headers.get("Accept-Encoding", ""))
            body = gzip.compress(page.body.encode())
            self.send_response(page.status)
            self.send_header("Content-Type", page.content_type)
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/metrics", page
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
async def loop_for(tmp_path: Path) -> Iterator:  # type: ignore[type-arg]
    created: list[tuple[SQLiteStore, Fetcher]] = []

    def make(url: str, extra: str = "") -> tuple[ScrapeLoop, SQLiteStore]:
        cfg = load_text(
            f"scrape: {{interval: 1s, timeout: 1s{extra}}}\n"
            f"services:\n  - name: api\n    labels: {{team: t}}\n"
            f"    scrape: {{endpoints: [{{url: '{url}', replica: r1}}]}}\n"
        )
        store = SQLiteStore.open(tmp_path / f"data{len(created)}", cfg.storage)
        fetcher = Fetcher(ACCEPT_HEADER)
        created.append((store, fetcher))
        (target,) = scrape_targets(cfg)
        loop = ScrapeLoop(target, fetcher=fetcher, store=store, clock=SystemClock(), metrics=SelfMetrics())
        return loop, store

    yield make
    for store, fetcher in created:
        await fetcher.aclose()
        store.close()


def latest(store: SQLiteStore, name: str) -> dict[str, float]:
    return {format_labels(s.labels): s.value for s in store.latest([name_matcher(name)])}


async def test_labels_synthetic_series_negotiation_and_gzip(server: tuple[str, Page], loop_for) -> None:  # type: ignore[no-untyped-def]
    url, page = server
    page.body = '# TYPE reqs counter\nreqs_total{code="200",job="inner"} 5\n# TYPE temp gauge\ntemp 21.5\n# EOF\n'
    page.content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    loop, store = loop_for(url)
    state = await loop.scrape_once()
    assert state.health == "up", state.last_error
    assert page.seen_accept[0] == ACCEPT_HEADER and "gzip" in page.seen_encoding[0]
    instance = url.split("/")[2]
    target = f'instance="{instance}",job="api",replica="r1",service="api",team="t"'
    assert latest(store, "reqs_total") == {f'reqs_total{{code="200",exported_job="inner",{target}}}': 5.0}
    assert latest(store, "temp") == {f"temp{{{target}}}": 21.5}
    assert latest(store, "up") == {f"up{{{target}}}": 1.0}
    assert latest(store, "scrape_samples_scraped") == {f"scrape_samples_scraped{{{target}}}": 2.0}
    assert latest(store, "scrape_series_added") == {f"scrape_series_added{{{target}}}": 2.0}
    await loop.scrape_once()
    assert latest(store, "scrape_series_added") == {f"scrape_series_added{{{target}}}": 0.0}


async def test_staleness_on_vanished_series_and_failed_scrape(server: tuple[str, Page], loop_for) -> None:  # type: ignore[no-untyped-def]
    url, page = server
    page.body = "a 1\nb 2\nc 3 1700000000000\n"
    loop, store = loop_for(url)
    await loop.scrape_once()
    page.body = "a 1\nc 3 1700000000000\n"
    await loop.scrape_once()
    b = store.latest([name_matcher("b")])
    assert len(b) == 1 and b[0].stale
    page.body = "<html>oops</html>\n"
    state = await loop.scrape_once()
    assert state.health == "down" and state.last_error.startswith("line 1: ")
    a = store.latest([name_matcher("a")])
    assert a[0].stale and is_stale(a[0].value)
    # A series with an explicit timestamp is never marked stale, as in Prometheus.
    c = store.latest([name_matcher("c")])
    assert not c[0].stale and c[0].timestamp_ms == 1_700_000_000_000
    assert [s.value for s in store.latest([name_matcher("up")])] == [0.0]
    page.body = "a 1\n"
    assert (await loop.scrape_once()).health == "up"
    kinds = [e.kind for e in store.events(kinds=["target_down", "target_up"])]
    assert kinds == ["target_up", "target_down"]
    (down,) = store.events(kinds=["target_down"])
    assert down.details["error"].startswith("line 1: ") and down.service == "api"


async def test_limits_and_http_status(server: tuple[str, Page], loop_for) -> None:  # type: ignore[no-untyped-def]
    url, page = server
    page.body = "".join(f"s{i} {i}\n" for i in range(50))
    loop, _ = loop_for(url, ", body_size_limit: 100, sample_limit: 10")
    state = await loop.scrape_once()
    assert state.health == "down" and "body_size_limit" in state.last_error
    page.body = "".join(f"s{i} {i}\n" for i in range(11))
    loop2, _ = loop_for(url, ", sample_limit: 10")
    state = await loop2.scrape_once()
    assert state.health == "down" and state.last_error == "sample limit exceeded: 11 > 10"
    page.status = 503
    page.body = "maintenance\n"
    state = await loop2.scrape_once()
    assert state.health == "down" and state.last_error == "server returned HTTP status 503: maintenance"
