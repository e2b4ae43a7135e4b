"""The balancer's settings model.

Covers: defaults (loopback, port 0, the documented timeouts and limits); durations and
sizes as people write them (``500ms``, ``16MiB``); the listen address as host:port,
[v6]:port, port 0 allowed, anything else refused with an example; unknown keys and
negative values refused; the model is frozen; every field has a description (they become
the JSON Schema and the docs).
"""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from scalepilot.config.balancer import BalancerSettings


def test_defaults() -> None:
    s = BalancerSettings()
    assert (s.host, s.port) == ("127.0.0.1", 0)
    assert s.connect_timeout == 2.0 and s.response_timeout == 60.0
    assert s.client_timeout == 30.0 and s.client_keepalive == 60.0
    assert s.upstream_keepalive == 64 and s.upstream_idle_timeout == 4.0
    assert s.max_request_body == 16 * 1024 * 1024 and s.max_header_size == 32 * 1024
    assert s.retry_on_connect_failure and s.retry_after == 1.0
    assert s.forwarded == "x-forwarded" and s.shutdown_grace == 10.0


def test_human_units() -> None:
    s = BalancerSettings.model_validate(
        {
            "listen": "[::1]:8080",
            "connect_timeout": "500ms",
            "response_timeout": "2m",
            "max_request_body": "1MiB",
            "max_header_size": "8KiB",
            "shutdown_grace": 0,
        }
    )
    assert (s.host, s.port) == ("::1", 8080)
    assert s.connect_timeout == 0.5 and s.response_timeout == 120.0
    assert s.max_request_body == 1024 * 1024 and s.max_header_size == 8192
    assert s.shutdown_grace == 0.0


@pytest.mark.parametrize("listen", ["8080", "localhost", ":80", "host:65536", "host:-1", "host:http"])
def test_bad_listen(listen: str) -> None:
    with pytest.raises(ValidationError, match=r"must be host:port, e.g. 127.0.0.1:8080 \(port 0 = any\)"):
        BalancerSettings(listen=listen)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"conect_timeout": "1s"}, "Extra inputs are not permitted"),
        ({"connect_timeout": "0s"}, "must be greater than 0s"),
        ({"upstream_keepalive": -1}, "greater than or equal to 0"),
        ({"max_request_body": "-1"}, "must be a size"),
        ({"max_header_size": "512"}, "greater than or equal to 1024"),
        ({"forwarded": "both"}, "'x-forwarded' or 'forwarded'"),
    ],
)
def test_refusals(data: dict[str, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        BalancerSettings.model_validate(data)


def test_frozen_and_documented() -> None:
    s = BalancerSettings()
    with pytest.raises(ValidationError):
        s.listen = "0.0.0.0:80"  # type: ignore[misc]
    for name, field in BalancerSettings.model_fields.items():
        assert field.description and len(field.description) > 40, name
