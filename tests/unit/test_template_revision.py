"""``template_revision``: the id of what a local replica's process is made from.

It must change with what needs new processes (command, env, cwd) and only with that, so
a change of counts or timings never rolls a service out again; and it must not depend
on the order the env was written in, nor on the run (it is compared across restarts).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from scalepilot.config.targets import LocalTargetSettings, template_revision


def settings(**overrides: Any) -> LocalTargetSettings:
    base: dict[str, Any] = {
        "type": "local",
        "command": ["python", "app.py", "--port", "{port}"],
        "env": {"COLOR": "blue", "WORKERS": "2"},
        "cwd": "srv",
        "replicas": 2,
    }
    return LocalTargetSettings.model_validate(base | overrides)


def test_same_settings_give_the_same_short_hex_id() -> None:
    rev = template_revision(settings())
    assert re.fullmatch(r"[0-9a-f]{10}", rev)
    assert template_revision(settings()) == rev
    # Env order is how the YAML was written, not what the process gets.
    assert template_revision(settings(env={"WORKERS": "2", "COLOR": "blue"})) == rev


@pytest.mark.parametrize(
    "change",
    [
        {"env": {"COLOR": "green", "WORKERS": "2"}},
        {"env": {"COLOR": "blue"}},
        {"env": {"COLOR": "blue", "WORKERS": "2", "EXTRA": ""}},
        {"command": ["python", "app.py", "--port", "{port}", "--fast"]},
        {"command": ["python", "app.py", "--port={port}"]},
        {"cwd": "srv2"},
        {"cwd": "/srv"},
    ],
    ids=["env-value", "env-removed", "env-added", "command-arg-added", "command-split", "cwd", "cwd-absolute"],
)
def test_a_change_of_what_the_process_is_made_from_changes_it(change: dict[str, Any]) -> None:
    assert template_revision(settings(**change)) != template_revision(settings())


@pytest.mark.parametrize(
    "change",
    [
        {"replicas": 7},
        {"grace_period": 1},
        {"stop_timeout": 1},
        {"readiness": {"type": "tcp", "interval": 0.5}},
        {"restart_backoff": {"initial": 5, "max": 10}},
        {"log_max_size": 1024},
        {"metrics_path": None},
        {"cwd": "./srv"},
    ],
    ids=[
        "replicas",
        "grace_period",
        "stop_timeout",
        "readiness",
        "restart_backoff",
        "log_max_size",
        "metrics",
        "cwd-spelling",
    ],
)
def test_counts_timings_and_spelling_do_not_change_it(change: dict[str, Any]) -> None:
    assert template_revision(settings(**change)) == template_revision(settings())


def test_it_is_the_same_in_every_run() -> None:
    """Pinned, so an accidental change of the encoding (which would roll every service
    out again after an upgrade) shows up here."""
    s = settings(command=["app"], env={}, cwd=".")
    assert s.cwd == Path()
    assert template_revision(s) == template_revision(settings(command=["app"], env={}, cwd=""))
    # sha256 of {"command":["app"],"cwd":".","env":{}}, the first 10 hex digits
    assert template_revision(s) == "6ba03ad1bd"
