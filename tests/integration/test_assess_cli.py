"""``scalepilot assess`` run as a real process on a small repository.

Covers: ``-o json`` is one object with a grade per category, n/a for what has no file
(never F), findings at file:line (Dockerfile, compose, Kubernetes, workflow), the
broken YAML reported at its line while everything else is graded; ``-o markdown`` a
pasteable report; the table says it is a static reading; ``--plot`` writes a
self-contained HTML page (no script, no stylesheet or image from anywhere);
``--fail-under`` exits 1 below the grade and 0 at or above it, a bad grade is a usage
error, a missing path exits 1; ``--exclude`` leaves files out; the repository's own
files give no traceback.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from textwrap import dedent
from typing import Any

import pytest

SCALEPILOT = [sys.executable, "-m", "scalepilot", "assess"]
ROOT = Path(__file__).resolve().parents[2]


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*SCALEPILOT, *args], check=False, capture_output=True, text=True, timeout=60, env=env)


def write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text).lstrip("\n"))


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    write(
        tmp_path,
        "Dockerfile",
        """
        FROM python:3.12-slim
        WORKDIR /app
        COPY requirements.txt .
        RUN pip install --no-cache-dir -r requirements.txt
        COPY . .
        RUN useradd --create-home app
        USER app
        CMD ["uvicorn", "app:app", "--host", "0.0.0.0"]
        """,
    )
    write(tmp_path, ".dockerignore", ".git\n.venv\n")
    write(tmp_path, "requirements.txt", "fastapi==0.110.0\nuvicorn==0.29.0\n")
    write(tmp_path, "app.py", 'from fastapi import FastAPI\napp = FastAPI()\n\n@app.get("/health")\ndef ok(): ...\n')
    write(
        tmp_path,
        "docker-compose.yml",
        """
        services:
          api:
            build: .
            restart: unless-stopped
            ports: ["8000:8000"]
          db:
            image: postgres:16
            restart: unless-stopped
            ports: ["5432:5432"]
            environment:
              POSTGRES_PASSWORD: postgres
        """,
    )
    write(
        tmp_path,
        "k8s/deploy.yaml",
        """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: api}
        spec:
          replicas: 3
          template:
            metadata: {labels: {app: api}}
            spec:
              containers:
                - name: api
                  image: registry.example.com/api:1.0.0
                  readinessProbe: {httpGet: {path: /health, port: 8000}}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: api}
        spec: {selector: {app: api}, ports: [{port: 80, targetPort: 8000}]}
        """,
    )
    write(
        tmp_path,
        ".github/workflows/ci.yml",
        """
        name: ci
        on: [push]
        jobs:
          test:
            runs-on: ubuntu-latest
            steps:
              - uses: actions/checkout@v4
              - uses: actions/setup-python@0a5c61591373683505ea898e09a3ea4f39ef2b9c
              - run: pip install -r requirements.txt && pytest
        """,
    )
    write(tmp_path, "k8s/broken.yaml", "apiVersion: v1\nkind: ConfigMap\ndata: {a: 1\n")
    return tmp_path


def findings(doc: dict[str, Any], category: str, check_id: str) -> list[str]:
    check = next(c for c in doc["categories"][category]["checks"] if c["id"] == check_id)
    return [f"{f['file']}:{f['line']}" for f in check["findings"]]


def test_json(repo: Path) -> None:
    res = cli(str(repo), "-o", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["path"] == str(repo)
    assert "static reading" in doc["static_reading"]
    assert set(doc["categories"]) == {
        "Containers",
        "Orchestration & scaling",
        "Health checks",
        "Resources",
        "CI/CD",
        "Security",
        "Observability & operations",
    }
    grades = {name: c["grade"] for name, c in doc["categories"].items()}
    assert all(g in {"A", "B", "C", "D", "F"} for g in grades.values()), grades
    assert grades["Resources"] == "F"  # no limits in compose, no requests or limits in k8s
    assert doc["overall"]["grade"] in {"A", "B", "C", "D", "F"}
    assert doc["overall"]["applicable_checks"] > 10
    # findings where they are written
    assert findings(doc, "Security", "compose.db-ports") == ["docker-compose.yml:9"]
    assert findings(doc, "Security", "compose.secrets") == ["docker-compose.yml:11"]
    assert findings(doc, "Security", "ci.pinned-actions") == [".github/workflows/ci.yml:7"]
    assert findings(doc, "Health checks", "k8s.liveness") == ["k8s/deploy.yaml:10"]
    assert findings(doc, "Resources", "k8s.requests") == ["k8s/deploy.yaml:10"]
    assert findings(doc, "Orchestration & scaling", "k8s.hpa") == ["k8s/deploy.yaml:2"]
    statuses = {c["id"]: c["status"] for cat in doc["categories"].values() for c in cat["checks"]}
    assert statuses["dockerfile.cache-order"] == "pass"
    assert statuses["dockerfile.user"] == "pass"
    assert statuses["k8s.readiness"] == "pass"
    assert statuses["ci.tests"] == "pass"
    assert statuses["dockerfile.healthcheck"] == "n/a"  # Kubernetes runs it: probes decide
    # the broken YAML: reported at its line, the rest graded
    assert doc["problems"] == [
        {
            "file": "k8s/broken.yaml",
            "line": 4,
            "message": doc["problems"][0]["message"],
            "recommendation": doc["problems"][0]["recommendation"],
        }
    ]
    kinds = {f["file"]: f["kind"] for f in doc["files"]}
    assert kinds["k8s/deploy.yaml"] == "Kubernetes manifest"
    objects = next(f["objects"] for f in doc["files"] if f["file"] == "k8s/deploy.yaml")
    assert objects == ["Deployment/api", "Service/api"]


def test_na_is_not_f(tmp_path: Path) -> None:
    write(tmp_path, "Dockerfile", "FROM alpine:3.20\nRUN adduser -D app\nUSER app\n")
    doc = json.loads(cli(str(tmp_path), "-o", "json").stdout)
    assert doc["categories"]["CI/CD"]["grade"] == "n/a"
    assert doc["categories"]["CI/CD"]["score"] is None
    assert doc["categories"]["Resources"]["grade"] == "n/a"
    assert doc["categories"]["Security"]["grade"] == "A"
    empty = tmp_path / "empty"
    empty.mkdir()
    doc = json.loads(cli(str(empty), "-o", "json").stdout)
    assert doc["overall"]["grade"] == "n/a" and doc["overall"]["score"] is None


def test_markdown_and_table(repo: Path) -> None:
    res = cli(str(repo), "-o", "markdown")
    assert res.returncode == 0, res.stderr
    md = res.stdout
    assert md.startswith("## Infrastructure assessment of")
    assert "static reading" in md
    assert "| Resources | **F** |" in md
    assert "`docker-compose.yml:9`" in md
    assert "`k8s/broken.yaml:4`" in md
    res = cli(str(repo))
    assert res.returncode == 0, res.stderr
    assert "static reading" in res.stdout
    assert "docker-compose.yml:9" in res.stdout
    assert "k8s/broken.yaml:4" in res.stdout


def test_plot_is_self_contained(repo: Path, tmp_path: Path) -> None:
    page = tmp_path / "out" / "assessment.html"
    page.parent.mkdir()
    res = cli(str(repo), "-o", "json", "--plot", str(page))
    assert res.returncode == 0, res.stderr
    json.loads(res.stdout)  # the page does not mix into the JSON
    text = page.read_text()
    assert text.startswith("<!doctype html>") and "<svg" in text
    assert "Resources" in text and "docker-compose.yml:9" in text
    assert not re.search(r"<script\b", text)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", text)
    assert not re.search(r"<link\b|@import|url\(", text)
    res = cli(str(repo), "--plot", str(tmp_path / "missing" / "x.html"))
    assert res.returncode == 1 and "cannot write" in res.stderr


def test_fail_under(repo: Path) -> None:
    doc = json.loads(cli(str(repo), "-o", "json").stdout)
    grade = doc["overall"]["grade"]
    assert grade in "BCDF"  # the fixture has real problems
    res = cli(str(repo), "-o", "json", "--fail-under", "A")
    assert res.returncode == 1
    assert f"overall grade {grade} is below --fail-under A" in res.stderr
    json.loads(res.stdout)  # the report is printed anyway
    assert cli(str(repo), "-o", "json", "--fail-under", grade).returncode == 0
    assert cli(str(repo), "-o", "json", "--fail-under", "f").returncode == 0
    res = cli(str(repo), "--fail-under", "E")
    assert res.returncode == 2 and "not a grade" in res.stderr
    res = cli(str(repo / "nope"))
    assert res.returncode == 1 and "no such file or directory" in res.stderr


def test_exclude(repo: Path) -> None:
    doc = json.loads(cli(str(repo), "-o", "json", "--exclude", "k8s/*").stdout)
    assert doc["problems"] == []
    assert doc["categories"]["Resources"]["grade"] == "F"  # compose still has no limits
    assert all(not f["file"].startswith("k8s/") for f in doc["files"])
    statuses = {c["id"]: c["status"] for cat in doc["categories"].values() for c in cat["checks"]}
    assert statuses["k8s.readiness"] == "n/a"


def test_scalepilots_own_repository() -> None:
    res = cli(str(ROOT), "-o", "json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["problems"] == []
    files = {f["file"] for f in doc["files"]}
    # src/.../assessment/dockerfile.py is a module about Dockerfiles, not one.
    assert not any(f.endswith(".py") for f in files)
