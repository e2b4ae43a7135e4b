"""``scalepilot loadtest``: measure one replica's capacity with a bounded step load.

Each step is its own open-loop run of :class:`~scalepilot.adapters.loadgen.LoadGenerator`
at a fixed arrival rate for ``step_duration`` seconds; the next step offers ``step`` more
requests/s. A step's requests are all answered (or time out) before the next starts, so
every request belongs to exactly one step and a queue left over from an overloaded step
does not spill into the next one's latencies.

Bounded by construction, as every load scalepilot generates: loopback URLs only, a cap
on requests in flight, a per-request time-out, and the run stops by itself at the
confirmed knee (see :mod:`scalepilot.control.capacity`), at ``max_rps``, or before a
step would end after ``max_duration``.

Also here: the capacity model as YAML (:func:`write_capacity_model`,
:func:`load_capacity_model`), for ``scalepilot simulate`` and its friends.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import yaml

from scalepilot.adapters.loadgen import LoadGenerator, LoadSecond
from scalepilot.control.capacity import (
    CONFIRM,
    MAX_ERROR_RATE,
    CapacityModel,
    CapacityModelError,
    Knee,
    StepResult,
    breach_confirmed,
    build_model,
    find_knee,
    step_rates,
)

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
"""The hosts a load test may target: the load generator's own list."""


class LoadTestError(Exception):
    """The base of this module's errors; permanent: retrying will not help."""


class NotLoopback(LoadTestError):
    """The URL does not point at this machine's loopback interface."""


class ModelFileError(LoadTestError):
    """A capacity model file cannot be read; the message names the file."""


def require_loopback(url: str) -> None:
    """Refuse anything but an ``http://`` URL on loopback: a load test must never hit
    someone else's service by a typo."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise NotLoopback(f"{url!r}: only http:// URLs on loopback are load-tested (not {parts.scheme or 'none'!r})")
    host = parts.hostname or ""
    if host not in LOOPBACK_HOSTS:
        raise NotLoopback(
            f"{url!r}: refusing to load-test {host or 'no host'!r}: only loopback "
            f"({', '.join(sorted(LOOPBACK_HOSTS))}) is allowed"
        )
    try:
        _ = parts.port
    except ValueError as exc:
        raise NotLoopback(f"{url!r}: {exc}") from None


@dataclass(frozen=True, slots=True)
class LoadTestPlan:
    """A run's settings; every field bounded, every unit in the name or the docs."""

    url: str
    slo_p95_s: float = 0.2
    start_rps: float = 10.0
    step_rps: float = 10.0
    max_rps: float = 2000.0
    step_duration_s: float = 10.0
    """Arrivals per step last this long (at least 1 s: achieved rate is per second)."""
    max_duration_s: float = 180.0
    """No step starts that would end after this, counted from the start."""
    concurrency_cap: int = 512
    """Requests in flight at most; arrivals beyond it are shed and count as failures."""
    timeout_s: float = 0.0
    """Per request; 0 means 10 × the SLO, at least 2 s (far beyond the SLO either way)."""
    warmup_s: float = 1.0
    """Arrivals at the first step's rate before the steps, not recorded: the first
    requests pay for new connections and the service's cold paths."""
    confirm: int = CONFIRM
    max_error_rate: float = MAX_ERROR_RATE
    seed: int = 1

    def __post_init__(self) -> None:
        require_loopback(self.url)
        if not self.slo_p95_s > 0:
            raise ValueError("--slo-p95 must be greater than 0")
        step_rates(self.start_rps, self.step_rps, self.max_rps)  # raises on nonsense
        if self.step_duration_s < 1:
            raise ValueError("--step-duration must be at least 1s")
        if self.max_duration_s < self.step_duration_s:
            raise ValueError("--max-duration must be at least one --step-duration")
        if self.concurrency_cap < 1:
            raise ValueError("--concurrency-cap must be at least 1")

    @property
    def request_timeout_s(self) -> float:
        return self.timeout_s if self.timeout_s > 0 else max(2.0, 10 * self.slo_p95_s)

    @property
    def rates(self) -> list[float]:
        return step_rates(self.start_rps, self.step_rps, self.max_rps)

    @property
    def planned_s(self) -> float:
        """The longest the arrivals can last: every step, or up to the duration limit."""
        steps = min(len(self.rates), int(self.max_duration_s // self.step_duration_s))
        return steps * self.step_duration_s


@dataclass(slots=True)
class LoadTestResult:
    plan: LoadTestPlan
    steps: list[StepResult] = field(default_factory=list)
    stopped_by: str = ""
    """``knee`` (SLO breach confirmed), ``max-rps``, ``max-duration``."""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    elapsed_s: float = 0.0

    @property
    def knee(self) -> Knee:
        return find_knee(
            self.steps, self.plan.slo_p95_s, max_error_rate=self.plan.max_error_rate, confirm=self.plan.confirm
        )

    def model(self, *, startup_delay_s: float, cost_per_replica_hour: float) -> CapacityModel:
        """The capacity model; ValueError if no step met the SLO."""
        return build_model(
            self.steps,
            self.knee,
            slo_p95_s=self.plan.slo_p95_s,
            startup_delay_s=startup_delay_s,
            cost_per_replica_hour=cost_per_replica_hour,
            url=self.plan.url,
            measured_at=self.started_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
        )


def summarize_step(rate: float, seconds: list[LoadSecond], step_duration_s: float) -> StepResult:
    """One step's figures from the generator's per-second buckets. Latencies are those
    of every successful request of the step (answered during the step or the drain
    after it); the achieved rate counts only answers within the step's own seconds."""
    offered = sum(s.offered for s in seconds)
    ok = sum(s.ok for s in seconds)
    whole = max(1, math.floor(step_duration_s))
    achieved = sum(s.ok for s in seconds[:whole]) / whole
    latencies = sorted(x for s in seconds for x in s.latencies_s)

    def q(p: float) -> float | None:
        if not latencies:
            return None
        return latencies[min(len(latencies) - 1, max(0, math.ceil(p * len(latencies)) - 1))]

    # Anything not answered OK failed: errors, time-outs, shed arrivals, and requests
    # still pending when the drain gave up.
    error_rate = (offered - ok) / offered if offered else 0.0
    return StepResult(
        offered_rps=rate,
        achieved_rps=achieved,
        p50_s=q(0.50),
        p95_s=q(0.95),
        p99_s=q(0.99),
        error_rate=max(0.0, error_rate),
        requests=offered,
    )


ProgressCallback = Callable[[float, float], None]
"""Called about four times a second with (seconds of arrivals so far, current rate)."""
StepCallback = Callable[[int, StepResult], None]
"""Called after each step with its index and figures."""


def _constant(rate: float) -> Callable[[float], float]:
    def profile(_t: float) -> float:
        return rate

    return profile


def _generator(plan: LoadTestPlan, rate: float, duration_s: float, seed: int) -> LoadGenerator:
    return LoadGenerator(
        plan.url,
        _constant(rate),
        duration_s=duration_s,
        max_in_flight=plan.concurrency_cap,
        timeout_s=plan.request_timeout_s,
        seed=seed,
    )


async def run_loadtest(
    plan: LoadTestPlan,
    *,
    on_progress: ProgressCallback | None = None,
    on_step: StepCallback | None = None,
) -> LoadTestResult:
    """Run the steps until the knee is confirmed, ``max_rps`` is done, or the next step
    would end after ``max_duration_s``."""
    result = LoadTestResult(plan)
    started = time.monotonic()
    done_s = 0.0
    result.stopped_by = "max-rps"
    if plan.warmup_s > 0:
        await _generator(plan, plan.start_rps, plan.warmup_s, plan.seed - 1).run()
    for index, rate in enumerate(plan.rates):
        if time.monotonic() - started + plan.step_duration_s > plan.max_duration_s:
            result.stopped_by = "max-duration"
            break
        gen = _generator(plan, rate, plan.step_duration_s, plan.seed + index)
        running = asyncio.create_task(gen.run())
        while not running.done():
            await asyncio.wait({running}, timeout=0.25)
            if on_progress is not None:
                on_progress(done_s + min(gen.elapsed_s, plan.step_duration_s), rate)
        seconds = running.result()
        done_s += plan.step_duration_s
        step = summarize_step(rate, seconds, plan.step_duration_s)
        result.steps.append(step)
        if on_step is not None:
            on_step(index, step)
        if breach_confirmed(result.steps, plan.slo_p95_s, max_error_rate=plan.max_error_rate, confirm=plan.confirm):
            result.stopped_by = "knee"
            break
    result.elapsed_s = time.monotonic() - started
    return result


# --- the capacity model file ----------------------------------------------------------


def capacity_model_yaml(model: CapacityModel, *, lower_bound: bool = False) -> str:
    """The model as a commented YAML document."""
    header = [
        "# scalepilot capacity model (written by `scalepilot loadtest`).",
        "# replica_rps: requests/s one replica serves with p95 <= slo_p95 (seconds); measured.",
    ]
    if lower_bound:
        header.append("# The SLO was never breached: replica_rps is a lower bound (raise --max-rps or --max-duration).")
    header += [
        "# startup_delay (seconds, scale-up to ready) is configured with --startup-delay, not measured:",
        "# a URL cannot show how long a new replica takes to start. cost_per_replica_hour is configured too.",
        "# latency_curve: [utilisation = offered / replica_rps, p95 seconds] per measured step.",
    ]
    body = yaml.safe_dump(model.to_dict(), sort_keys=False, default_flow_style=None)
    return "\n".join(header) + "\n" + body


def write_capacity_model(path: Path, model: CapacityModel, *, lower_bound: bool = False) -> None:
    path.write_text(capacity_model_yaml(model, lower_bound=lower_bound), encoding="utf-8")


def load_capacity_model(path: Path | str) -> CapacityModel:
    """The capacity model in the YAML file at ``path`` (as ``scalepilot loadtest -o``
    writes it). ModelFileError names the file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ModelFileError(f"{path}: {exc.strerror or exc}") from exc
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ModelFileError(f"{path}{where}: not YAML: {getattr(exc, 'problem', None) or exc}") from exc
    try:
        return CapacityModel.from_dict(doc)
    except CapacityModelError as exc:
        raise ModelFileError(f"{path}: {exc}") from exc
