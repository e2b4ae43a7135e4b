"""The dashboard's pure parts: which series make each figure, and a service's status."""

from __future__ import annotations

import pytest

from scalepilot.config.models import Config
from scalepilot.control.dashboard import (
    chart_queries,
    classify,
    overview_groups,
    rate_window,
    signal_names,
)
from scalepilot.control.query.engine import Engine
from scalepilot.control.query.syntax import ValueType


def services(yaml_services: list[dict[str, object]]) -> Config:
    return Config.model_validate({"services": yaml_services})


LOCAL = {"type": "local", "command": ["app", "--port", "{port}"]}


def test_a_service_behind_the_balancer_reads_the_balancers_series() -> None:
    cfg = services([{"name": "shop", "target": LOCAL}, {"name": "ext"}])
    shop, ext = cfg.services
    assert signal_names(shop).requests == "scalepilot_lb_requests_total"
    assert signal_names(shop).latency == "scalepilot_lb_request_duration_seconds"
    assert signal_names(ext).requests == "http_requests_total"
    assert signal_names(ext).latency == "http_request_duration_seconds"


def test_configured_signals_win() -> None:
    cfg = services(
        [
            {
                "name": "shop",
                "target": LOCAL,
                "signals": {"requests_counter": "reqs_total", "status_label": "status", "latency_histogram": "lat"},
            }
        ]
    )
    names = signal_names(cfg.services[0])
    assert (names.requests, names.status_label, names.latency) == ("reqs_total", "status", "lat")


@pytest.mark.parametrize("bad", [{"requests_counter": "not a name"}, {"status_label": "a-b"}, {"bogus": 1}])
def test_bad_signals_are_config_errors(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError, match="signals"):
        services([{"name": "shop", "signals": bad}])


def test_the_overview_asks_one_query_per_figure_for_services_sharing_series() -> None:
    cfg = services([{"name": "a"}, {"name": "b"}, {"name": "c", "scrape": {"interval": "1s"}}])
    groups = overview_groups(cfg.services, cfg.scrape.interval)
    assert sorted(g.services for g in groups) == [("a", "b"), ("c",)]
    ab = next(g for g in groups if g.services == ("a", "b"))
    assert ab.window == "1m"  # four 15 s scrapes
    assert 'service=~"a|b"' in ab.queries()["load_rps"]
    c = next(g for g in groups if g.services == ("c",))
    assert c.window == "10s"  # never under 10 s


def test_every_query_parses_as_an_instant_vector() -> None:
    cfg = services([{"name": "shop", "target": LOCAL}, {"name": "ext"}])
    engine = Engine(source=None)  # type: ignore[arg-type]  # parsing reads no data
    for svc in cfg.services:
        queries = chart_queries(svc, 15.0, 15.0, step_s=60.0, forecast_horizon_s=120.0)
        assert "offset -2m" in queries["forecast_rps"]
        for group in overview_groups(cfg.services, 15.0):
            queries |= {f"overview {k}": q for k, q in group.queries().items()}
        for name, query in queries.items():
            assert engine.parse(query).type == ValueType.VECTOR, name


def test_a_chart_step_longer_than_the_window_widens_it() -> None:
    assert rate_window(15.0) == "1m"
    assert rate_window(15.0, step_s=2520.0) == "42m"


@pytest.mark.parametrize(
    ("targets", "probes", "replicas", "alerts", "status", "reasons"),
    [
        ({}, {}, None, [], "unknown", ["not scraped or probed yet"]),
        ({"up": 2}, {"up": 1}, {"desired": 2, "ready": 2}, [], "healthy", []),
        ({"up": 2}, {}, {"desired": 3, "ready": 0}, [], "down", ["no replica ready of 3 desired"]),
        ({"down": 1}, {"down": 1}, None, [], "down", ["1 of 1 scrape targets down", "1 of 1 probes failing"]),
        ({"up": 1, "down": 1}, {}, None, [], "degraded", ["1 of 2 scrape targets down"]),
        ({"up": 2}, {}, {"desired": 3, "ready": 2}, [], "degraded", ["2 of 3 replicas ready"]),
        ({"up": 1}, {}, None, ["B", "A", "A"], "degraded", ["alert firing: A, B"]),
        ({}, {}, {"desired": 0, "ready": 0}, [], "healthy", []),
    ],
)
def test_status(
    targets: dict[str, int],
    probes: dict[str, int],
    replicas: dict[str, int] | None,
    alerts: list[str],
    status: str,
    reasons: list[str],
) -> None:
    health = classify(targets=targets, probes=probes, replicas=replicas, firing_alerts=alerts)
    assert (health.status, health.reasons) == (status, reasons)
    # Each reason also travels as a catalog key and its numbers, for the Turkish page.
    assert all(set(r.to_dict()) == {"key", *r.params} for r in health.details)


def test_a_reason_carries_its_numbers() -> None:
    health = classify(targets={"up": 3}, probes={}, replicas={"desired": 3, "ready": 1}, firing_alerts=[])
    assert [r.to_dict() for r in health.details] == [{"key": "replicas_not_ready", "ready": 1, "desired": 3}]
