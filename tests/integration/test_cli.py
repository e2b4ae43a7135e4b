"""The command line, run as a real process.

Covers: `check` exits 0 with a summary for a valid file and 1 with every
file:line:column error for a broken one; `schema` prints a JSON Schema; `check-metrics`
on a file, standard input and a URL (format from the extension, a trailing # EOF, or the
Content-Type), valid and invalid, with promtool-style exit codes; `series` rejects a bad
selector clearly; every command's --help shows examples.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from scalepilot.faces.cli import main
from tests.support import free_port, start, start_exporter

SCALEPILOT = [sys.executable, "-m", "scalepilot"]


COMMANDS = main.all_commands()  # every command and group subcommand: a new one cannot skip --help


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}  # rich wraps help and tables at the terminal width
    return subprocess.run(
        [*SCALEPILOT, *args], check=False, input=stdin, capture_output=True, text=True, timeout=60, env=env
    )


def test_check_valid_and_broken(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("services:\n  - name: api\n    scrape: {endpoints: [{url: 'http://127.0.0.1:9/metrics'}]}\n")
    res = cli("check", "-c", str(good))
    assert res.returncode == 0, res.stderr
    assert "valid (1 services, 1 scrape endpoints, 0 probes, 0 rule files)" in res.stdout

    bad = tmp_path / "scalepilot.yaml"
    bad.write_text("scrape:\n  interval: 0s\nservices:\n  - name: api\n    scrapes: {}\n")
    res = cli("check", "-c", str(bad))
    assert res.returncode == 1
    lines = res.stderr.strip().splitlines()
    assert lines[0] == f"{bad}:2:13 scrape.interval: must be greater than 0s"
    assert lines[1].startswith(f"{bad}:5:5 services[0].scrapes: unknown key; did you mean 'scrape'?")


def test_check_and_run_refuse_a_broken_rule_file(tmp_path: Path) -> None:
    rules = tmp_path / "rules" / "api.yml"
    rules.parent.mkdir()
    rules.write_text(
        "groups:\n  - name: api\n    rules:\n      - alert: Slow\n        expr: rate(x[5m]) >\n"
        "      - record: ok:rule\n        expr: up\n"
    )
    cfg = tmp_path / "scalepilot.yaml"
    cfg.write_text("rule_files: ['rules/*.yml']\nservices: []\n")
    res = cli("check", "-c", str(cfg))
    assert res.returncode == 1
    assert res.stderr.startswith(f"{rules}:5:"), res.stderr
    assert "Slow" in res.stderr or "expr" in res.stderr
    # As Prometheus does: a start with a broken rule file stops before anything runs.
    res = cli("run", "-c", str(cfg))
    assert res.returncode == 1 and res.stderr.startswith(f"{rules}:5:"), res.stderr

    rules.write_text("groups:\n  - name: api\n    rules:\n      - record: ok:rule\n        expr: up\n")
    res = cli("check", "-c", str(cfg))
    assert res.returncode == 0, res.stderr
    assert "1 rule files" in res.stdout


def test_schema_is_json_schema() -> None:
    res = cli("schema")
    assert res.returncode == 0
    schema = json.loads(res.stdout)
    assert schema["$schema"].startswith("https://json-schema.org/")
    assert set(schema["properties"]) >= {"server", "storage", "scrape", "services"}


def test_check_metrics_file_and_stdin(tmp_path: Path) -> None:
    page = tmp_path / "page.prom"
    page.write_text('# TYPE a counter\na 1\n# TYPE b gauge\nb{x="1"} 2\nb{x="2"} 3\n')
    res = cli("check-metrics", str(page))
    assert res.returncode == 0 and res.stdout.strip() == f"{page}: 2 families, 3 series"

    broken = tmp_path / "broken.prom"
    broken.write_text('a 1\nb{x="1" 2\n')
    res = cli("check-metrics", str(broken))
    assert res.returncode == 1 and res.stderr.startswith(f"{broken}: line 2: ")

    om = "# TYPE a counter\na_total 1\n# EOF\n"
    res = cli("check-metrics", "-", stdin=om)
    assert res.returncode == 0 and "1 family, 1 series" in res.stdout
    # The same page as text format: '# EOF' is a comment, a_total an untyped family.
    res = cli("check-metrics", "-", "--format", "text", stdin=om)
    assert res.returncode == 0 and "2 families, 1 series" in res.stdout
    res = cli("check-metrics", "-", "--format", "openmetrics", stdin="a 1\n")
    assert res.returncode == 1 and "line" in res.stderr and "EOF" in res.stderr


def test_check_metrics_url_negotiates_openmetrics() -> None:
    proc, port = start_exporter("stable")
    try:
        res = cli("check-metrics", f"http://127.0.0.1:{port}/metrics")
    finally:
        proc.stop(signal.SIGKILL)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().endswith("4 families, 18 series")


def test_series_rejects_bad_selector(tmp_path: Path) -> None:
    res = cli("series", "rate(x[5m])", "--data-dir", str(tmp_path))
    assert res.returncode == 1 and "expected a series selector" in res.stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(command: str) -> None:
    res = cli(*command.split(), "--help")
    assert res.returncode == 0
    assert "Example" in res.stdout, res.stdout


def test_the_command_list_loads_no_command_and_matches_their_help() -> None:
    # ``scalepilot --help`` lists commands from their summaries in main.py; each summary
    # must say what the command's own help says first.
    assert [name for name in main.COMMANDS if not main.summary_matches_help(name)] == []
    res = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "scalepilot", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert res.returncode == 0
    listed = {line.split()[1] for line in res.stdout.splitlines() if line.startswith("│ ") and len(line.split()) > 2}
    assert listed >= {*main.COMMANDS, "version"}
    loaded = {m for m in ("run_cmd", "scale_cmds", "simulate_cmd", "config_cmds") if f"faces.cli.{m}" in res.stderr}
    assert loaded == set()


def test_second_scalepilot_on_the_same_data_dir_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "scalepilot.yaml"
    config.write_text(f"server: {{address: '127.0.0.1:{free_port()}'}}\nhost_stats: {{enabled: false}}\n")
    first = start([*SCALEPILOT, "run", "-c", str(config)])
    try:
        first.wait_line("scalepilot", timeout=30)
        other = tmp_path / "other.yaml"
        other.write_text(
            f"server: {{address: '127.0.0.1:{free_port()}'}}\nstorage: {{data_dir: .scalepilot}}\n"
            "host_stats: {enabled: false}\n"
        )
        res = cli("run", "-c", str(other))
    finally:
        assert first.stop(signal.SIGTERM) == 0
    assert res.returncode == 1
    assert res.stderr.startswith("error: ") and "Traceback" not in res.stderr
    assert str(first.pid) in res.stderr
