"""Knee finding and the capacity model, on synthetic step results (no network).

Covers: a clean knee is the last step within the SLO and the breach is confirmed by two
violating steps; one noisy violating step is not a breach; a run that never breaches
gives a lower-bound knee; violating from the first step gives no knee and no model; the
error-rate criterion (> 1 % fails a step whatever its latency); a step with no successful
request fails; the step rates; the model's latency curve is utilisation against p95;
the YAML model round-trips through ``load_capacity_model`` and a broken file is refused
naming the field; a non-loopback or non-http URL is refused before any load is sent;
the plot is self-contained and marks the SLO and the knee.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scalepilot.control.capacity import (
    CapacityModel,
    StepResult,
    breach_confirmed,
    build_model,
    find_knee,
    render_html,
    step_rates,
    violation,
)
from scalepilot.service.loadtest import (
    LoadTestPlan,
    ModelFileError,
    NotLoopback,
    capacity_model_yaml,
    load_capacity_model,
    require_loopback,
    write_capacity_model,
)

SLO = 0.2


def steps(
    *p95_ms: float | None, errors: dict[int, float] | None = None, start: float = 10, step: float = 10
) -> list[StepResult]:
    errors = errors or {}
    return [
        StepResult(
            offered_rps=start + i * step,
            achieved_rps=start + i * step,
            p50_s=None if p is None else p / 2000,
            p95_s=None if p is None else p / 1000,
            p99_s=None if p is None else p / 900,
            error_rate=errors.get(i, 0.0),
            requests=100,
        )
        for i, p in enumerate(p95_ms)
    ]


def test_clean_knee_is_the_last_step_within_the_slo() -> None:
    run = steps(120, 125, 140, 180, 450, 900)
    knee = find_knee(run, SLO)
    assert (knee.index, knee.rps, knee.breach) == (3, 40, 4)
    assert breach_confirmed(run, SLO)
    assert not breach_confirmed(run[:5], SLO)  # one violating step does not stop the run


def test_a_step_exactly_at_the_slo_passes() -> None:
    assert find_knee(steps(120, 200, 300, 300), SLO).rps == 20


def test_one_noisy_step_is_not_the_knee() -> None:
    run = steps(120, 130, 260, 140, 170, 400, 500)
    knee = find_knee(run, SLO)
    assert knee.rps == 50  # past the noise at 30 req/s, up to the confirmed breach
    assert knee.breach == 5


def test_passing_steps_after_a_confirmed_breach_do_not_count() -> None:
    knee = find_knee(steps(120, 300, 300, 150, 150), SLO)
    assert (knee.rps, knee.breach) == (10, 1)


def test_confirm_one_makes_the_first_violation_the_breach() -> None:
    knee = find_knee(steps(120, 130, 260, 140), SLO, confirm=1)
    assert (knee.rps, knee.breach) == (20, 2)


def test_never_reaching_the_slo_gives_a_lower_bound() -> None:
    run = steps(100, 110, 120, 130)
    knee = find_knee(run, SLO)
    assert (knee.rps, knee.breach) == (40, None)
    assert not breach_confirmed(run, SLO)


def test_an_unconfirmed_violation_at_the_end_is_not_the_knee() -> None:
    knee = find_knee(steps(100, 110, 300), SLO)
    assert (knee.rps, knee.breach) == (20, None)


def test_violating_from_the_first_step_gives_no_knee_and_no_model() -> None:
    run = steps(300, 400, 500)
    knee = find_knee(run, SLO)
    assert (knee.index, knee.rps, knee.breach) == (None, None, 0)
    with pytest.raises(ValueError, match="no step met the SLO"):
        build_model(
            run,
            knee,
            slo_p95_s=SLO,
            startup_delay_s=60,
            cost_per_replica_hour=1,
            url="http://127.0.0.1/",
            measured_at="",
        )


def test_error_rate_above_one_percent_fails_a_fast_step() -> None:
    run = steps(100, 100, 100, 100, errors={2: 0.05, 3: 0.5})
    assert violation(run[2], SLO) == "error rate 5.0% > 1%"
    knee = find_knee(run, SLO)
    assert (knee.rps, knee.breach) == (20, 2)


def test_one_percent_errors_is_still_within() -> None:
    run = steps(100, 100, errors={1: 0.01})
    assert violation(run[1], SLO) is None
    assert find_knee(run, SLO).rps == 20


def test_a_step_without_any_answer_fails() -> None:
    run = steps(100, None, None)
    assert violation(run[1], SLO) == "no successful request"
    assert find_knee(run, SLO).rps == 10


def test_step_rates() -> None:
    assert step_rates(10, 10, 45) == [10, 20, 30, 40]
    assert step_rates(5, 2.5, 10) == [5, 7.5, 10]
    with pytest.raises(ValueError):
        step_rates(10, 0, 100)
    with pytest.raises(ValueError):
        step_rates(10, 10, 5)


def _model() -> CapacityModel:
    run = steps(120, 150, 190, 450, 600)
    return build_model(
        run,
        find_knee(run, SLO),
        slo_p95_s=SLO,
        startup_delay_s=90,
        cost_per_replica_hour=0.25,
        url="http://127.0.0.1:8431/api/sync",
        measured_at="2026-01-02T03:04:05Z",
    )


def test_model_latency_curve_is_utilisation_against_p95() -> None:
    model = _model()
    assert model.replica_rps == 30
    assert model.latency_curve[0] == pytest.approx((10 / 30, 0.12), abs=1e-4)
    assert model.latency_curve[2] == (1.0, 0.19)
    assert [u for u, _ in model.latency_curve] == sorted(u for u, _ in model.latency_curve)
    assert model.source == "measured"
    simulated = model.service_model()
    assert (simulated.replica_rps, simulated.startup_delay, simulated.cost_per_replica_hour) == (30, 90, 0.25)


def test_yaml_model_round_trips(tmp_path: Path) -> None:
    model = _model()
    path = tmp_path / "capacity.yaml"
    write_capacity_model(path, model)
    text = path.read_text()
    assert "not measured" in text  # the startup delay is said to be configured
    for key in ("replica_rps", "slo_p95", "startup_delay", "cost_per_replica_hour", "latency_curve", "measured_at"):
        assert f"\n{key}:" in text
    assert load_capacity_model(path) == model


def test_lower_bound_is_said_in_the_file() -> None:
    assert "lower bound" in capacity_model_yaml(_model(), lower_bound=True)
    assert "lower bound" not in capacity_model_yaml(_model())


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("slo_p95: 0.2\nstartup_delay: 60\n", "replica_rps: missing"),
        ("replica_rps: lots\nslo_p95: 0.2\nstartup_delay: 60\n", "replica_rps: must be a number, not 'lots'"),
        ("replica_rps: -3\nslo_p95: 0.2\nstartup_delay: 60\n", "replica_rps: must be a number greater than 0"),
        ("replica_rps: 3\nslo_p95: 0.2\nstartup_delay: 60\nlatency_curve: [[1]]\n", r"latency_curve\[0\]"),
        ("- 1\n- 2\n", "expected a mapping"),
        ("replica_rps: [1\n", "capacity.yaml:2: not YAML"),
    ],
)
def test_broken_model_file_is_refused_naming_the_problem(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "capacity.yaml"
    path.write_text(text)
    with pytest.raises(ModelFileError, match=message):
        load_capacity_model(path)


def test_missing_model_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"nope\.yaml"):
        load_capacity_model(tmp_path / "nope.yaml")


@pytest.mark.parametrize(
    "url",
    ["http://example.com/", "http://10.0.0.5:8080/api", "http://192.168.1.1/", "https://127.0.0.1/", "127.0.0.1:80/"],
)
def test_non_loopback_url_is_refused(url: str) -> None:
    with pytest.raises(NotLoopback, match="loopback"):
        require_loopback(url)
    with pytest.raises(NotLoopback):
        LoadTestPlan(url=url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:8431/api/sync", "http://localhost/", "http://[::1]:9/x"])
def test_loopback_urls_are_accepted(url: str) -> None:
    require_loopback(url)
    assert LoadTestPlan(url=url).rates[:2] == [10, 20]


def test_plan_is_bounded() -> None:
    plan = LoadTestPlan(url="http://127.0.0.1/", start_rps=10, step_rps=10, max_rps=100, step_duration_s=10)
    assert plan.planned_s == 100  # ten steps
    assert LoadTestPlan(url="http://127.0.0.1/", max_duration_s=25, step_duration_s=10).planned_s == 20
    with pytest.raises(ValueError, match="max-duration"):
        LoadTestPlan(url="http://127.0.0.1/", max_duration_s=5, step_duration_s=10)
    with pytest.raises(ValueError, match="step-duration"):
        LoadTestPlan(url="http://127.0.0.1/", step_duration_s=0.5)


def test_plot_is_self_contained_and_marks_slo_and_knee() -> None:
    run = steps(120, 150, 190, 450, 600)
    page = render_html(run, find_knee(run, SLO), SLO, "http://127.0.0.1:1/<x>")
    assert page.startswith("<!doctype html>")
    assert (
        "<svg" in page
        and "<script" not in page
        and "http://" not in page.replace("http://www.w3.org", "").replace("http://127.0.0.1:1/", "")
    )
    assert "SLO p95 200 ms" in page
    assert "knee 30 req/s" in page
    assert "&lt;x&gt;" in page
    assert page.count("<circle") == 2 * len(run)
