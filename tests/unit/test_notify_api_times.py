"""Times in alert and silence requests: a duration from now, Unix seconds, or RFC 3339
(UTC when no zone is given); anything else is a 422 naming the field."""

from __future__ import annotations

import pytest
from fastapi import HTTPException

from scalepilot.faces.api.alerts import iso, parse_time

NOW = 1_700_000_000.0


def test_durations_unix_seconds_and_rfc3339() -> None:
    assert parse_time("2h", now=NOW, what="until") == NOW + 7200
    assert parse_time("90s", now=NOW, what="until") == NOW + 90
    assert parse_time("1700003600", now=NOW, what="ends_at") == 1_700_003_600.0
    assert parse_time("2023-11-14T22:30:00Z", now=NOW, what="ends_at") == NOW + 1000
    assert parse_time("2023-11-14T22:30:00", now=NOW, what="ends_at") == NOW + 1000
    assert parse_time("2023-11-14T23:30:00+01:00", now=NOW, what="ends_at") == NOW + 1000
    assert iso(NOW + 1000) == "2023-11-14T22:30:00Z" and iso(None) is None


def test_anything_else_is_a_422_naming_the_field() -> None:
    with pytest.raises(HTTPException) as caught:
        parse_time("next tuesday", now=NOW, what="starts_at")
    assert caught.value.status_code == 422
    assert "starts_at" in str(caught.value.detail) and "next tuesday" in str(caught.value.detail)
