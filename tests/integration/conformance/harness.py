"""Run the same PromQL against a real Prometheus and scalepilot's engine, on the same
samples, and collect every difference.

* **Prometheus** (Debian's 2.42): ``promtool tsdb create-blocks-from openmetrics`` turns
  the data set's OpenMetrics file into blocks, then ``prometheus`` serves them on
  loopback with a config that scrapes nothing. Its query lookback is the default 5m
  (``--query.lookback-delta``, passed explicitly), the retention long enough that no
  block is ever dropped (it is measured from the newest block, so the fixed 2023
  timestamps are safe anyway). Fresh, non-overlapping blocks need no
  ``--storage.tsdb.allow-overlapping-blocks`` (deprecated since 2.39 in any case).
* **scalepilot**: the same file goes through ``scalepilot import``'s importer into a
  real :class:`SQLiteStore` (retention long enough to keep 2023 raw), and
  :class:`Engine` evaluates over it; ``to_prometheus_data`` gives Prometheus's JSON
  shape, so :mod:`.compare` sees both alike.

Each query is evaluated as an instant query at every time of :func:`instant_times`, and
the ones marked ``range_query`` also over :func:`range_window` (every other one also over
:data:`ODD_RANGE_WINDOW_MS`, a step that divides no minute).
"""

from __future__ import annotations

import functools
import importlib
import json
import math
import os
import re
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from scalepilot.adapters.store import SQLiteStore
from scalepilot.config.models import RetentionSettings, StorageSettings
from scalepilot.domain.query import QueryError
from scalepilot.service.importer import import_openmetrics
from tests.integration.conformance.compare import Answer, compare
from tests.integration.conformance.exclusions import Exclusion, exclusion_for
from tests.integration.conformance.query_gen import QueryCase, corpus
from tests.integration.conformance.series_gen import DEFAULT_SEED, Dataset, generate, write_openmetrics

MINUTE = 60_000
INSTANT_OFFSETS_MS = (
    20 * MINUTE + 500,  # early: long windows reach back before the data; instance 4 not started
    77 * MINUTE + 500,
    101 * MINUTE + 30_500,  # 2.5 min after instance 3 stopped: still within the lookback
    158 * MINUTE + 500,
    183 * MINUTE + 500,  # 3 min after the last scrape: the lookback still sees it
    200 * MINUTE + 500,  # 20 min after: only long windows see anything
)
RANGE_WINDOW_MS = (60 * MINUTE + 500, 150 * MINUTE + 500, 90_000)
"""Start and end offsets from the data's origin, and the step, of the range queries."""
ODD_RANGE_WINDOW_MS = (25 * MINUTE + 500, 195 * MINUTE + 500, 37_000)
"""A second window, for every other range query: a step that divides no minute, and
an end past the data."""

_CENTURY = 100 * 365 * 86400.0


class HarnessError(Exception):
    """A side could not be set up (a binary failed, a port never answered)."""


def instant_times(dataset: Dataset) -> list[int]:
    return [dataset.start_ms + offset for offset in INSTANT_OFFSETS_MS]


def range_window(dataset: Dataset, window: tuple[int, int, int] = RANGE_WINDOW_MS) -> tuple[int, int, int]:
    start, end, step = window
    return dataset.start_ms + start, dataset.start_ms + end, step


def seconds(ms: int) -> str:
    """Milliseconds as the seconds string Prometheus's API takes, exactly."""
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    return f"{sign}{ms // 1000}.{ms % 1000:03d}"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --- the two sides -------------------------------------------------------------------------


class PrometheusSide:
    """A real Prometheus serving the data set's samples."""

    def __init__(self, prometheus: str, promtool: str, workdir: Path) -> None:
        self.prometheus = prometheus
        self.promtool = promtool
        self.workdir = workdir
        self.data_dir = workdir / "prometheus-data"
        self.base = ""
        self.version = ""
        self._proc: subprocess.Popen[bytes] | None = None
        self._client = httpx.Client(timeout=60)

    def load(self, om_file: Path) -> None:
        res = subprocess.run(
            [self.promtool, "tsdb", "create-blocks-from", "openmetrics", "-q", str(om_file), str(self.data_dir)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if res.returncode != 0:
            raise HarnessError(f"promtool create-blocks-from openmetrics failed: {res.stderr.strip()}")

    def start(self, timeout: float = 60) -> None:
        config = self.workdir / "prometheus.yml"
        config.write_text("global:\n  evaluation_interval: 1m\nscrape_configs: []\n")
        port = free_port()
        self.base = f"http://127.0.0.1:{port}"
        log = (self.workdir / "prometheus.log").open("wb")
        self._proc = subprocess.Popen(
            [
                self.prometheus,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.data_dir}",
                f"--web.listen-address=127.0.0.1:{port}",
                "--storage.tsdb.retention.time=100y",
                "--query.lookback-delta=5m",
                "--log.level=warn",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise HarnessError(f"prometheus exited with {self._proc.returncode}: {self.log_tail()}")
            try:
                if self._client.get(f"{self.base}/-/ready", timeout=2).status_code == 200:
                    info = self._client.get(f"{self.base}/api/v1/status/buildinfo").json()
                    self.version = str(info["data"]["version"])
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise HarnessError(f"prometheus was not ready within {timeout}s: {self.log_tail()}")

    def log_tail(self) -> str:
        path = self.workdir / "prometheus.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        self._client.close()
        proc = self._proc
        if proc is None or proc.poll() is not None:
            return
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def instant(self, expr: str, at_ms: int) -> Answer:
        return self._ask("query", {"query": expr, "time": seconds(at_ms)})

    def range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> Answer:
        params = {"query": expr, "start": seconds(start_ms), "end": seconds(end_ms), "step": seconds(step_ms)}
        return self._ask("query_range", params)

    def _ask(self, path: str, params: dict[str, str]) -> Answer:
        resp = self._client.get(f"{self.base}/api/v1/{path}", params=params)
        try:
            body = resp.json()
        except ValueError as exc:
            raise HarnessError(f"Prometheus answered {resp.status_code} without JSON: {resp.text[:200]}") from exc
        if body.get("status") == "success":
            return Answer(data=body["data"])
        return Answer(error=str(body.get("error")), error_type=str(body.get("errorType")))


class ScalepilotSide:
    """scalepilot's engine over a real store holding the data set's samples."""

    def __init__(self, data_dir: Path) -> None:
        settings = StorageSettings(retention=RetentionSettings(raw=_CENTURY, rollup_1m=_CENTURY, rollup_5m=_CENTURY))
        self.store = SQLiteStore.open(data_dir, settings)
        engine_module = importlib.import_module("scalepilot.control.query.engine")
        self.engine: Any = engine_module.Engine(self.store)
        try:
            json_module = importlib.import_module("scalepilot.control.query.prometheus_json")
        except ImportError as exc:
            self.store.close()
            raise HarnessError(f"scalepilot.control.query.prometheus_json is not available: {exc}") from exc
        self.to_data: Callable[[Any], dict[str, Any]] = json_module.to_prometheus_data

    def load(self, om_file: Path) -> None:
        import_openmetrics(om_file, self.store)

    def stop(self) -> None:
        self.store.close()

    def instant(self, expr: str, at_ms: int) -> Answer:
        return self._ask(lambda: self.engine.instant(expr, at_ms))

    def range(self, expr: str, start_ms: int, end_ms: int, step_ms: int) -> Answer:
        return self._ask(lambda: self.engine.range(expr, start_ms, end_ms, step_ms))

    def _ask(self, evaluate: Callable[[], Any]) -> Answer:
        try:
            data = self.to_data(evaluate())
        except QueryError as exc:
            return Answer(error=str(exc), error_type=exc.kind)
        except Exception as exc:  # a crash is a finding to report, not to hide
            return Answer(error=f"{type(exc).__name__}: {exc}", error_type="crash")
        # Through JSON, as the HTTP API would send it: tuples become lists.
        return Answer(data=json.loads(json.dumps(data)))


# --- running and reporting -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evaluation:
    case: QueryCase
    kind: str
    """``instant`` or ``range``."""
    at: str
    expected: Answer
    actual: Answer
    problem: str | None
    exclusion: Exclusion | None


@dataclass(slots=True)
class Report:
    dataset: Dataset
    prometheus_version: str
    queries: int
    instant_times: int
    evaluations: list[Evaluation] = field(default_factory=list)
    prometheus_seconds: float = 0.0
    scalepilot_seconds: float = 0.0

    @property
    def counted(self) -> list[Evaluation]:
        return [e for e in self.evaluations if e.exclusion is None]

    @property
    def agreed(self) -> int:
        return sum(e.problem is None for e in self.counted)

    @property
    def differences(self) -> list[Evaluation]:
        return [e for e in self.counted if e.problem is not None]

    @property
    def agreement_rate(self) -> float:
        counted = len(self.counted)
        return self.agreed / counted if counted else math.nan

    def summary(self) -> str:
        ranges = sum(e.kind == "range" for e in self.evaluations)
        excluded = len(self.evaluations) - len(self.counted)  # differed as documented
        return (
            f"PromQL conformance: scalepilot Engine vs Prometheus {self.prometheus_version} "
            f"(seed {self.dataset.seed}, {sum(1 for _ in self.dataset.series())} series, "
            f"{self.dataset.sample_count:,} samples)\n"
            f"{self.queries} queries x {self.instant_times} instant times + {ranges} range queries = "
            f"{len(self.evaluations)} evaluations; {excluded} excluded\n"
            f"agreed {self.agreed} of {len(self.counted)}: {100 * self.agreement_rate:.2f} %\n"
            f"time spent answering: Prometheus {self.prometheus_seconds:.1f}s (HTTP), "
            f"scalepilot {self.scalepilot_seconds:.1f}s (in process)"
        )

    def render(self, *, limit: int | None = None, width: int = 600) -> str:
        lines = [self.summary()]
        diffs = self.differences
        if diffs:
            lines.append(f"\ndifferences ({len(diffs)}):")
            for e in diffs[:limit]:
                lines += _describe(e, width)
            if limit is not None and len(diffs) > limit:
                lines.append(f"  ... and {len(diffs) - limit} more")
        excluded = [e for e in self.evaluations if e.exclusion is not None]
        if excluded:
            lines.append(f"\nexcluded ({len(excluded)}): differences between Prometheus versions, not counted above:")
            for e in excluded:
                assert e.exclusion is not None
                lines.append(f"  [{e.kind} @ {e.at}] {e.case.expr}")
                lines += [f"      {e.problem}", f"      reason: {e.exclusion.reason}"]
        return "\n".join(lines)


def _describe(e: Evaluation, width: int) -> list[str]:
    return [
        f"  [{e.kind} @ {e.at}] {e.case.expr}",
        f"      {e.problem}",
        f"      prometheus: {e.expected.short(width)}",
        f"      scalepilot: {e.actual.short(width)}",
    ]


Progress = Callable[[int, int], None]


def evaluate(
    cases: Sequence[QueryCase],
    dataset: Dataset,
    prometheus: PrometheusSide,
    ours: ScalepilotSide,
    progress: Progress | None = None,
) -> Report:
    times = instant_times(dataset)
    report = Report(dataset, prometheus.version, len(cases), len(times))
    ranges = sum(c.range_query for c in cases)
    total = len(cases) * len(times) + ranges + (ranges + 1) // 2
    done = ranged = 0

    def run(
        case: QueryCase, kind: str, at: str, ask_prometheus: Callable[[str], Answer], ask_ours: Callable[[str], Answer]
    ) -> None:
        nonlocal done
        t0 = time.perf_counter()
        expected = ask_prometheus(case.expr)
        t1 = time.perf_counter()
        actual = ask_ours(case.expr)
        report.prometheus_seconds += t1 - t0
        report.scalepilot_seconds += time.perf_counter() - t1
        ties = bool(_SELECTS_BY_VALUE.search(case.expr))
        ordered = case.ordered and kind == "instant"
        problem = compare(expected, actual, ordered=ordered, ties=ties)
        exclusion = exclusion_for(case.expr) if problem is not None else None
        if exclusion is not None:
            if exclusion.emulate is not None:
                # The same question in a form whose 2.42 answer is 3.x's answer.
                emulated = ask_prometheus(exclusion.emulate(case.expr))
                explained = compare(emulated, actual, ordered=ordered, ties=ties) is None
            else:
                explained = exclusion.explains(expected, actual)
            exclusion = exclusion if explained else None
        report.evaluations.append(Evaluation(case, kind, at, expected, actual, problem, exclusion))
        done += 1
        if progress:
            progress(done, total)

    for case in cases:
        for at in times:
            run(
                case,
                "instant",
                seconds(at),
                functools.partial(prometheus.instant, at_ms=at),
                functools.partial(ours.instant, at_ms=at),
            )
        if case.range_query:
            ranged += 1
            windows = [range_window(dataset)] + ([range_window(dataset, ODD_RANGE_WINDOW_MS)] if ranged % 2 else [])
            for start, end, step in windows:
                run(
                    case,
                    "range",
                    f"{seconds(start)}..{seconds(end)} step {step // 1000}s",
                    functools.partial(prometheus.range, start_ms=start, end_ms=end, step_ms=step),
                    functools.partial(ours.range, start_ms=start, end_ms=end, step_ms=step),
                )
    return report


_SELECTS_BY_VALUE = re.compile(r"\b(topk|bottomk)\b")


def run_conformance(
    workdir: Path,
    *,
    prometheus: str,
    promtool: str,
    seed: int = DEFAULT_SEED,
    cases: Sequence[QueryCase] | None = None,
    progress: Progress | None = None,
) -> Report:
    """Generate the data, load it into both sides, evaluate the corpus, stop both."""
    dataset = generate(seed)
    om_file = workdir / "conformance.om"
    write_openmetrics(dataset, om_file)
    prom = PrometheusSide(prometheus, promtool, workdir)
    ours: ScalepilotSide | None = None
    try:
        prom.load(om_file)
        prom.start()
        ours = ScalepilotSide(workdir / "scalepilot-data")
        ours.load(om_file)
        return evaluate(cases if cases is not None else corpus(), dataset, prom, ours, progress)
    finally:
        prom.stop()
        if ours is not None:
            ours.stop()
