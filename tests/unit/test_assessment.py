"""The repository assessment (control/assessment, service/assessment.py).

Covers: the Dockerfile parser (continuations, comments inside them, heredocs, the
escape directive, ARG defaults in FROM, stage references) and every Dockerfile check on
a bad and a good file, with the findings' lines; compose checks per service (literal
secrets and literal defaults, database ports on every interface vs loopback, data
volumes, Redis as a cache, depends_on conditions, a service split over an override
file, a healthcheck from the built Dockerfile); Kubernetes Deployments with and without
probes, resources, replicas, HPA, PDB and securityContext (an HPA's minReplicas stands
for replicas; another namespace's HPA does not count; a kustomize patch is not judged);
GitHub workflows with tag- vs SHA-pinned actions (at the `uses:` line), permissions,
timeouts, tests, caching, a Dependabot file as a scan; GitLab CI; the operations hints
(metrics and web libraries in dependency files, health routes in source, backups,
autoscaling); the grading rule (severity weights, thresholds, n/a vs F, the overall
mean); malformed YAML reported at its line while the rest is assessed, templates noted
instead; the JSON, Markdown and HTML outputs; the file walk's skips and limits; the docs
name every check.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from textwrap import dedent

import pytest

from scalepilot.control.assessment import CHECKS, RULE, Assessment, Status, assess, grade_rank, kind_of
from scalepilot.control.assessment.dockerfile import parse, parse_instructions
from scalepilot.control.assessment.model import (
    CheckResult,
    CheckSpec,
    Severity,
    grade_category,
    grade_for,
    overall,
)
from scalepilot.control.assessment.report import to_html, to_json, to_markdown
from scalepilot.control.assessment.yamlsrc import YamlProblem, load_documents
from scalepilot.service.assessment import collect

ROOT = Path(__file__).resolve().parents[2]


def run(files: dict[str, str], *extra_paths: str) -> Assessment:
    texts = {path: dedent(text).lstrip("\n") for path, text in files.items()}
    return assess(texts, [*texts, *extra_paths])


def status(result: Assessment, check_id: str) -> Status:
    return result.check(check_id).status


def where(result: Assessment, check_id: str) -> list[tuple[str, int]]:
    return [(f.file, f.line) for f in result.check(check_id).findings]


# --- Dockerfiles ---------------------------------------------------------------------

BAD_DOCKERFILE = """
FROM python
WORKDIR /app
ENV API_KEY=abc123 GPG_KEY=A035C8C19219BA821ECEA86B64E628F8D684696D
ARG DB_PASSWORD_FILE=/run/secrets/db
COPY . .
RUN apt-get update && \\
    apt-get install -y gcc
RUN pip install -r requirements.txt
ADD https://example.com/tool.tar.gz /opt/
EXPOSE 8000
CMD ["uvicorn", "app:app", "--port", "8000"]
"""

GOOD_DOCKERFILE = """
# syntax=docker/dockerfile:1
ARG PYTHON=3.12-slim
FROM python:${PYTHON} AS build
WORKDIR /src
COPY requirements.txt .
RUN pip wheel --wheel-dir /wheels -r requirements.txt
COPY . .

FROM python:3.12-slim@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
RUN apt-get update && apt-get install -y --no-install-recommends curl \\
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*
RUN useradd --create-home --uid 10001 app
USER app
HEALTHCHECK CMD curl -fsS http://localhost:8000/health || exit 1
CMD ["app"]
"""


def test_bad_dockerfile_fails_each_check_at_its_line() -> None:
    result = run({"Dockerfile": BAD_DOCKERFILE})
    assert where(result, "dockerfile.base-pinned") == [("Dockerfile", 1)]
    assert "pulls `:latest`" in result.check("dockerfile.base-pinned").findings[0].message
    assert where(result, "dockerfile.user") == [("Dockerfile", 1)]
    assert "USER app" in result.check("dockerfile.user").findings[0].recommendation
    # GPG_KEY is the official images' public fingerprint, *_FILE a path: neither is a secret.
    assert where(result, "dockerfile.secrets") == [("Dockerfile", 3)]
    assert "API_KEY" in result.check("dockerfile.secrets").findings[0].message
    assert where(result, "dockerfile.cache-order") == [("Dockerfile", 5)]
    assert "COPY requirements.txt ./" in result.check("dockerfile.cache-order").findings[0].recommendation
    assert where(result, "dockerfile.packages") == [("Dockerfile", 6)]
    message = result.check("dockerfile.packages").findings[0].message
    assert "--no-install-recommends" in message and "/var/lib/apt/lists" in message
    assert where(result, "dockerfile.add-url") == [("Dockerfile", 9)]
    assert where(result, "dockerfile.multi-stage") == [("Dockerfile", 1)]
    assert where(result, "dockerfile.dockerignore") == [("Dockerfile", 5)]
    assert where(result, "dockerfile.healthcheck") == [("Dockerfile", 1)]
    assert "localhost:8000/health" in result.check("dockerfile.healthcheck").findings[0].recommendation
    assert result.category("Containers").grade == "F"


def test_good_dockerfile_passes_every_check() -> None:
    result = run({"Dockerfile": GOOD_DOCKERFILE}, ".dockerignore")
    for spec in CHECKS:
        if spec.id.startswith("dockerfile."):
            assert status(result, spec.id) is Status.PASS, (spec.id, result.check(spec.id).findings)
    assert "by digest" in result.check("dockerfile.base-pinned").detail


def test_dockerignore_is_looked_for_next_to_the_dockerfile_and_at_the_root() -> None:
    text = {"services/api/Dockerfile": "FROM alpine:3.20\nCOPY . /app\n"}
    assert status(run(text), "dockerfile.dockerignore") is Status.FAIL
    assert status(run(text, "services/api/.dockerignore"), "dockerfile.dockerignore") is Status.PASS
    assert status(run(text, ".dockerignore"), "dockerfile.dockerignore") is Status.PASS
    assert status(run(text, "services/api/Dockerfile.dockerignore"), "dockerfile.dockerignore") is Status.PASS


@pytest.mark.parametrize(
    ("image", "pinned"),
    [
        ("python", False),
        ("python:latest", False),
        ("node:lts-alpine", False),
        ("nginx:alpine", False),
        ("python:3.12", True),
        ("debian:bookworm-slim", True),
        ("registry.local:5000/team/app", False),
        ("registry.local:5000/team/app:1.4.2", True),
        ("redis@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", True),
    ],
)
def test_base_image_pinning(image: str, pinned: bool) -> None:
    result = run({"Dockerfile": f"FROM {image}\nUSER app\n"})
    assert status(result, "dockerfile.base-pinned") is (Status.PASS if pinned else Status.FAIL)


def test_parser_continuations_comments_heredocs_and_escape() -> None:
    text = dedent(
        """\
        FROM alpine:3.20
        RUN apk add \\
        # a comment inside the continuation is dropped

            curl
        RUN <<EOF
        set -e
        echo FROM inside a heredoc is not an instruction
        EOF
        USER nobody
        """
    )
    ins = parse_instructions(text)
    assert [(i.keyword, i.line) for i in ins] == [("FROM", 1), ("RUN", 2), ("RUN", 6), ("USER", 10)]
    assert ins[1].args == "apk add curl"
    assert "inside a heredoc" in ins[2].args
    windows = parse_instructions("# escape=`\nFROM mcr.microsoft.com/windows:ltsc2022\nRUN dir `\n  c:\\\n")
    assert [i.keyword for i in windows] == ["FROM", "RUN"] and windows[1].args == "dir c:\\"


def test_stages_arg_defaults_and_inherited_user() -> None:
    df = parse(
        "Dockerfile",
        'ARG BASE=node:20.11-alpine\nFROM ${BASE} AS deps\nUSER node\nFROM deps AS runtime\nCMD ["node"]\n',
    )
    assert [s.image for s in df.stages] == ["node:20.11-alpine", "deps"]
    assert df.stages[1].parent is df.stages[0]
    result = run({"Dockerfile": "ARG BASE=node:20.11-alpine\nFROM ${BASE} AS deps\nUSER node\nFROM deps\n"})
    # The second stage is built FROM the first: not an image to pin, and it inherits USER.
    assert result.check("dockerfile.base-pinned").subjects == 1
    assert status(result, "dockerfile.user") is Status.PASS
    root_again = run({"Dockerfile": "FROM alpine:3.20\nUSER app\nUSER root\n"})
    assert where(root_again, "dockerfile.user") == [("Dockerfile", 3)]


def test_what_is_read_as_what() -> None:
    assert kind_of("Dockerfile") == "dockerfile"
    assert kind_of("docker/api.Dockerfile") == "dockerfile"
    assert kind_of("Dockerfile.prod") == "dockerfile"
    assert kind_of("src/tools/dockerfile.py") == "source"  # a module about Dockerfiles
    assert kind_of("Dockerfile.dockerignore") is None
    assert kind_of("docker-compose.override.yml") == "compose"
    assert kind_of("compose.yaml") == "compose"
    assert kind_of("composer.yml") == "yaml"
    assert kind_of(".github/workflows/ci.yml") == "github-workflow"
    assert kind_of(".gitlab-ci.yml") == "gitlab-ci"
    assert kind_of("requirements-dev.txt") == "dependencies"
    assert kind_of("README.md") is None
    # Named like a Dockerfile but not one: noted, not judged.
    result = run({"Dockerfile.notes": "These are notes.\n"})
    assert result.category("Containers").grade == "n/a"
    assert any("does not start with FROM" in n.message for n in result.notes)


# --- docker-compose ------------------------------------------------------------------

BAD_COMPOSE = """
services:
  web:
    build: .
    ports: ["8000:8000"]
    depends_on: [db]
    environment:
      DATABASE_URL: postgres://db/app
      SECRET_KEY: hunter2
      API_TOKEN: ${API_TOKEN:-dev-token}
  db:
    image: postgres
    ports:
      - "5432:5432"
    environment:
      - POSTGRES_PASSWORD=postgres
  cache:
    image: redis:7.2
"""

GOOD_COMPOSE = """
services:
  web:
    build: .
    ports: ["8000:8000"]
    restart: unless-stopped
    depends_on:
      db: {condition: service_healthy}
    environment:
      SECRET_KEY: ${SECRET_KEY:?set it in .env}
      DB_PASSWORD_FILE: /run/secrets/db
    healthcheck:
      test: ["CMD", "curl", "-fsS", "http://localhost:8000/health"]
    deploy:
      resources:
        limits: {cpus: "1.0", memory: 512M}
  db:
    image: postgres:16.3
    restart: unless-stopped
    ports: ["127.0.0.1:5432:5432"]
    mem_limit: 1g
    environment:
      POSTGRES_PASSWORD: ${POSTGRES_PASSWORD}
    volumes: ["pgdata:/var/lib/postgresql/data"]
    healthcheck:
      test: ["CMD-SHELL", "pg_isready -U postgres"]
volumes:
  pgdata: {}
"""


def test_bad_compose_findings_and_lines() -> None:
    result = run({"docker-compose.yml": BAD_COMPOSE})
    f = "docker-compose.yml"
    assert where(result, "compose.secrets") == [(f, 8), (f, 9), (f, 15)]
    messages = [x.message for x in result.check("compose.secrets").findings]
    assert "literal default" in messages[1] and "literal value" in messages[0]
    assert where(result, "compose.db-ports") == [(f, 13)]
    assert where(result, "compose.image-pinned") == [(f, 11)]
    assert where(result, "compose.volumes") == [(f, 10)]  # postgres; redis without persistence is a cache
    assert "/var/lib/postgresql/data" in result.check("compose.volumes").findings[0].recommendation
    assert where(result, "compose.depends-healthy") == [(f, 5)]
    assert where(result, "compose.restart") == [(f, 2), (f, 10), (f, 16)]
    assert len(where(result, "compose.healthcheck")) == 3
    pg = next(x for x in result.check("compose.healthcheck").findings if "`db`" in x.message)
    assert "pg_isready" in pg.recommendation
    assert len(where(result, "compose.limits")) == 3
    assert status(result, "ops.backup") is Status.FAIL


def test_good_compose_passes_every_compose_check() -> None:
    result = run({"docker-compose.yml": GOOD_COMPOSE})
    for spec in CHECKS:
        if spec.id.startswith("compose."):
            assert status(result, spec.id) is Status.PASS, (spec.id, result.check(spec.id).findings)


def test_compose_port_forms() -> None:
    def ports(spec: str) -> Status:
        text = f"services:\n  db:\n    image: mysql:8.4\n    ports: [{spec}]\n"
        return status(run({"compose.yaml": text}), "compose.db-ports")

    assert ports('"3306:3306"') is Status.FAIL
    assert ports('"3306"') is Status.FAIL  # a random host port, on every interface
    assert ports('"0.0.0.0:3306:3306"') is Status.FAIL
    assert ports('"127.0.0.1:3306:3306"') is Status.PASS
    assert ports('"[::1]:3306:3306"') is Status.PASS
    assert ports("{target: 3306, published: 3306}") is Status.FAIL
    assert ports("{target: 3306, published: 3306, host_ip: 127.0.0.1}") is Status.PASS
    # An application that publishes 6379 on every interface is judged too.
    text = "services:\n  proxy:\n    image: haproxy:2.9\n    ports: ['6379:6379']\n"
    assert status(run({"compose.yaml": text}), "compose.db-ports") is Status.FAIL


def test_an_override_file_completes_a_service() -> None:
    base = "services:\n  web:\n    build: .\n"
    override = (
        "services:\n  web:\n    restart: always\n    mem_limit: 512m\n"
        "    healthcheck: {test: [CMD, curl, -f, http://localhost/health]}\n"
    )
    result = run({"docker-compose.yml": base, "docker-compose.override.yml": override})
    for check_id in ("compose.restart", "compose.limits", "compose.healthcheck"):
        assert status(result, check_id) is Status.PASS, check_id
    # A file that only patches a service elsewhere is not judged on what it leaves out.
    alone = run({"deploy/docker-compose.prod.yml": override})
    assert status(alone, "compose.restart") is Status.NA


def test_compose_files_named_for_their_environment_are_found_by_content() -> None:
    text = "services:\n  django:\n    build: {context: ., dockerfile: compose/production/django/Dockerfile}\n"
    result = run({"production.yml": text, "mkdocs.yml": "site_name: x\nnav: []\n"})
    assert where(result, "compose.restart") == [("production.yml", 2)]
    assert [f.kind for f in result.files] == ["docker-compose"]


def test_a_dockerfile_healthcheck_counts_for_the_service_that_builds_it() -> None:
    dockerfile = "FROM alpine:3.20\nUSER app\nHEALTHCHECK CMD wget -q -O- http://localhost/ || exit 1\n"
    compose = "services:\n  web:\n    build: {context: ./web}\n"
    result = run({"web/Dockerfile": dockerfile, "compose.yaml": compose})
    assert status(result, "compose.healthcheck") is Status.PASS


def test_redis_with_persistence_needs_a_volume_and_yaml_merge_keys_apply() -> None:
    text = """
    x-restart: &restart
      restart: unless-stopped
    services:
      redis:
        <<: *restart
        image: redis:7.2
        command: redis-server --appendonly yes
    """
    result = run({"compose.yml": text})
    assert where(result, "compose.volumes") == [("compose.yml", 4)]
    assert status(result, "compose.restart") is Status.PASS


# --- Kubernetes ----------------------------------------------------------------------

BARE_DEPLOYMENT = """
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
        - name: api
          image: registry.example.com/api:latest
          ports: [{containerPort: 8080}]
          env:
            - name: DB_PASSWORD
              value: hunter2
            - name: API_TOKEN
              valueFrom: {secretKeyRef: {name: api, key: token}}
---
apiVersion: v1
kind: Service
metadata: {name: api}
spec: {selector: {app: api}, ports: [{port: 80, targetPort: 8080}]}
"""

COMPLETE = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: api, namespace: shop}
spec:
  selector: {matchLabels: {app: api}}
  template:
    metadata:
      labels: {app: api, tier: web}
    spec:
      securityContext: {runAsNonRoot: true}
      containers:
        - name: api
          image: registry.example.com/api:1.8.2
          resources:
            requests: {cpu: 100m, memory: 128Mi}
            limits: {memory: 256Mi}
          readinessProbe: {httpGet: {path: /ready, port: 8080}}
          livenessProbe: {httpGet: {path: /health, port: 8080}}
          securityContext: {readOnlyRootFilesystem: true, allowPrivilegeEscalation: false}
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: api, namespace: shop}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: api}
  minReplicas: 2
  maxReplicas: 10
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: api, namespace: shop}
spec:
  maxUnavailable: 1
  selector: {matchLabels: {app: api}}
"""


def test_bare_deployment_fails_at_its_lines() -> None:
    result = run({"k8s/deploy.yaml": BARE_DEPLOYMENT})
    f = "k8s/deploy.yaml"
    assert where(result, "k8s.readiness") == [(f, 11)]
    assert where(result, "k8s.liveness") == [(f, 11)]
    assert "port: 8080" in result.check("k8s.readiness").findings[0].recommendation
    assert where(result, "k8s.requests") == [(f, 11)]
    assert "requests: {cpu: 100m, memory: 128Mi}" in result.check("k8s.requests").findings[0].recommendation
    assert where(result, "k8s.limits") == [(f, 11)]
    assert where(result, "k8s.replicas") == [(f, 2)]
    assert "defaults to 1" in result.check("k8s.replicas").findings[0].message
    assert where(result, "k8s.hpa") == [(f, 2)]
    assert where(result, "k8s.pdb") == [(f, 2)]
    assert "matchLabels: {app: api}" in result.check("k8s.pdb").findings[0].recommendation
    assert where(result, "k8s.image-pinned") == [(f, 12)]
    assert where(result, "k8s.security-context") == [(f, 11)]
    assert where(result, "k8s.secret-env") == [(f, 16)]  # the literal; the secretKeyRef is fine
    assert result.category("Resources").grade == "F"
    assert next(e for e in result.files if e.file == f).objects == ("Deployment/api", "Service/api")
    # Kubernetes runs the image: its HEALTHCHECK is not what decides.
    both = run({"k8s/deploy.yaml": BARE_DEPLOYMENT, "Dockerfile": "FROM alpine:3.20\nUSER app\n"})
    assert status(both, "dockerfile.healthcheck") is Status.NA


def test_complete_deployment_passes_and_hpa_min_replicas_stands_for_replicas() -> None:
    result = run({"k8s/app.yaml": COMPLETE})
    for spec in CHECKS:
        if spec.id.startswith("k8s."):
            assert status(result, spec.id) is Status.PASS, (spec.id, result.check(spec.id).findings)
    assert result.category("Resources").grade == "A"
    assert status(result, "ops.health-endpoint") is Status.PASS  # the probes' HTTP paths


def test_an_hpa_or_pdb_elsewhere_does_not_count() -> None:
    hpa_at = COMPLETE.index("kind: HorizontalPodAutoscaler")
    pdb_at = COMPLETE.index("kind: PodDisruptionBudget")
    other_ns = COMPLETE[:hpa_at] + COMPLETE[hpa_at:].replace("namespace: shop", "namespace: x", 1)
    assert status(run({"app.yaml": other_ns}), "k8s.hpa") is Status.FAIL
    other_target = COMPLETE.replace("kind: Deployment, name: api}", "kind: Deployment, name: web}")
    result = run({"app.yaml": other_target})
    assert status(result, "k8s.hpa") is Status.FAIL
    assert status(result, "k8s.replicas") is Status.FAIL
    other_labels = COMPLETE[:pdb_at] + COMPLETE[pdb_at:].replace("{app: api}", "{app: web}")
    assert status(run({"app.yaml": other_labels}), "k8s.pdb") is Status.FAIL
    assert status(
        run({"app.yaml": COMPLETE[:pdb_at] + COMPLETE[pdb_at:].replace("{app: api}", "{tier: web}")}), "k8s.pdb"
    ) is (Status.PASS)


def test_a_limit_alone_is_also_the_request() -> None:
    # Kubernetes sets a missing request to the limit.
    limits_only = COMPLETE.replace(
        "requests: {cpu: 100m, memory: 128Mi}\n            limits: {memory: 256Mi}",
        "limits: {cpu: 500m, memory: 256Mi}",
    )
    assert "requests" not in limits_only
    assert status(run({"app.yaml": limits_only}), "k8s.requests") is Status.PASS
    memory_only = COMPLETE.replace("requests: {cpu: 100m, memory: 128Mi}", "requests: {memory: 128Mi}")
    result = run({"app.yaml": memory_only})
    assert "requests no cpu" in result.check("k8s.requests").findings[0].message


def test_a_kustomize_patch_is_noted_not_judged() -> None:
    patch = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: api}\nspec: {replicas: 3}\n"
    result = run({"overlays/prod/replicas.yaml": patch})
    assert status(result, "k8s.replicas") is Status.NA
    assert any("patch" in n.message for n in result.notes)


# --- CI ------------------------------------------------------------------------------

TAG_PINNED = """
name: ci
on: [push, pull_request]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - uses: actions/setup-python@v5
        with: {python-version: "3.12"}
      - run: pip install -r requirements.txt
      - run: pytest -q
"""

SHA_PINNED = """
name: ci
on: [push, pull_request]
permissions: {contents: read}
jobs:
  test:
    runs-on: ubuntu-latest
    timeout-minutes: 15
    steps:
      - name: Checkout
        uses: actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11 # v4.1.1
      - uses: actions/setup-python@82c7e631bb3cdc910f68bf2b47b3b4b2d3e4d8c4 # v5.0.0
        with: {python-version: "3.12", cache: pip}
      - run: pip install -r requirements.txt
      - run: ruff check . && pytest -q
      - run: pip-audit
  deploy:
    needs: [test]
    runs-on: ubuntu-latest
    timeout-minutes: 10
    environment: production
    steps:
      - uses: ./.github/actions/deploy
"""


def test_tag_pinned_workflow() -> None:
    result = run({".github/workflows/ci.yml": TAG_PINNED})
    f = ".github/workflows/ci.yml"
    assert where(result, "ci.pinned-actions") == [(f, 7), (f, 8)]
    finding = result.check("ci.pinned-actions").findings[0]
    assert "git ls-remote https://github.com/actions/checkout v4" in finding.recommendation
    assert status(result, "ci.tests") is Status.PASS
    assert "ci.yml:11" in result.check("ci.tests").detail
    assert where(result, "ci.permissions") == [(f, 2)]
    assert where(result, "ci.timeout") == [(f, 4)]
    assert where(result, "ci.cache") == [(f, 8)]
    assert status(result, "ci.lint") is Status.FAIL
    assert status(result, "ci.deploy") is Status.FAIL
    assert status(result, "ci.security-scan") is Status.FAIL
    # A Dependabot file is dependency scanning too.
    assert status(run({".github/workflows/ci.yml": TAG_PINNED}, ".github/dependabot.yml"), "ci.security-scan") is (
        Status.PASS
    )


def test_sha_pinned_workflow_passes() -> None:
    result = run({".github/workflows/ci.yml": SHA_PINNED})
    for spec in CHECKS:
        if spec.id.startswith("ci."):
            assert status(result, spec.id) is Status.PASS, (spec.id, result.check(spec.id).findings)
    assert result.category("CI/CD").grade == "A"


def test_a_reusable_workflow_takes_its_callers_permissions() -> None:
    called = (
        "on: {workflow_call: {}}\njobs:\n  r:\n    runs-on: ubuntu-latest\n    timeout-minutes: 5\n"
        "    steps:\n      - run: make\n"
    )
    result = run({".github/workflows/release.yml": called})
    assert status(result, "ci.permissions") is Status.NA
    both = called.replace("on: {workflow_call: {}}", "on: [workflow_call, push]")
    assert status(run({".github/workflows/release.yml": both}), "ci.permissions") is Status.FAIL


def test_gitlab_ci() -> None:
    text = """
    stages: [test, deploy]
    include:
      - template: Jobs/SAST.gitlab-ci.yml
    .base: &base
      image: python:3.12
    unit-tests:
      <<: *base
      stage: test
      script:
        - pip install -r requirements.txt
        - pytest
    deploy:
      stage: deploy
      script: [helm upgrade --install api chart/]
      environment: production
    """
    result = run({".gitlab-ci.yml": text})
    assert status(result, "ci.tests") is Status.PASS
    assert status(result, "ci.security-scan") is Status.PASS
    assert status(result, "ci.deploy") is Status.PASS
    assert where(result, "ci.cache") == [(".gitlab-ci.yml", 10)]
    assert status(result, "ci.pinned-actions") is Status.NA  # GitHub only
    assert status(result, "ci.timeout") is Status.NA


# --- operations hints ----------------------------------------------------------------


def test_metrics_health_and_web_hints() -> None:
    pyproject = '[project]\ndependencies = [\n  "fastapi>=0.110",\n  "prometheus_client>=0.20",\n]\n'
    app = 'from fastapi import FastAPI\napp = FastAPI()\n\n@app.get("/healthz")\ndef health(): ...\n'
    result = run({"pyproject.toml": pyproject, "src/app.py": app})
    assert "pyproject.toml:4 prometheus-client" in result.check("ops.metrics").detail
    assert "src/app.py:4 /healthz" in result.check("ops.health-endpoint").detail
    bare = run({"pyproject.toml": '[project]\ndependencies = ["flask"]\n'})
    assert where(bare, "ops.metrics") == [("pyproject.toml", 1)]
    assert where(bare, "ops.health-endpoint") == [("pyproject.toml", 2)]  # a web app: a health route is due
    library = run({"pyproject.toml": '[project]\ndependencies = ["attrs"]\n'})
    assert status(library, "ops.health-endpoint") is Status.NA
    node = run({"package.json": '{\n  "dependencies": {\n    "express": "^4",\n    "prom-client": "^15"\n  }\n}\n'})
    assert "package.json:4 prom-client" in node.check("ops.metrics").detail


def test_backups_and_autoscaling() -> None:
    compose = "services:\n  web:\n    build: .\n  db:\n    image: postgres:16\n"
    result = run({"compose.yaml": compose})
    assert where(result, "ops.backup") == [("compose.yaml", 4)]
    assert where(result, "ops.autoscaling") == [("compose.yaml", 2)]
    assert "--scale" in result.check("ops.autoscaling").findings[0].recommendation
    with_ops = run(
        {
            "compose.yaml": compose,
            "scalepilot.yaml": "services:\n  - name: web\n    autoscaling: {min_replicas: 2, max_replicas: 5}\n",
        },
        "scripts/backup-db.sh",
    )
    assert status(with_ops, "ops.backup") is Status.PASS
    assert "scalepilot.yaml:3" in with_ops.check("ops.autoscaling").detail
    # A backup module of the application's own code, or a test of it, is not a backup job.
    assert status(run({"compose.yaml": compose}, "src/app/backup.py", "tests/test_backup.sh"), "ops.backup") is (
        Status.FAIL
    )
    cron = (
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: nightly}\nspec:\n  jobTemplate: {spec: {template: "
        "{spec: {containers: [{name: d, image: 'postgres:16', command: [pg_dump]}]}}}}\n"
    )
    assert status(run({"compose.yaml": compose, "k8s/cron.yaml": cron}), "ops.backup") is Status.PASS


# --- grading -------------------------------------------------------------------------


def _result(severity: Severity, state: Status) -> CheckResult:
    spec = CheckSpec(f"x.{severity}.{state}", "X", severity, "t", "w", "things")
    return CheckResult(spec, state, (), 0 if state is Status.NA else 1, "")


def test_grading_rule() -> None:
    checks = [
        _result(Severity.HIGH, Status.PASS),
        _result(Severity.MEDIUM, Status.FAIL),
        _result(Severity.LOW, Status.PASS),
        _result(Severity.HIGH, Status.NA),
    ]
    category = grade_category("X", checks)
    assert category.score == pytest.approx(100 * 4 / 6, abs=0.05)  # (3 + 1) / (3 + 2 + 1)
    assert category.grade == "D"
    assert grade_category("X", [_result(Severity.HIGH, Status.NA)]).grade == "n/a"
    assert [grade_for(s) for s in (100, 90, 89.9, 80, 70, 60, 59.9, 0)] == ["A", "A", "B", "B", "C", "D", "F", "F"]
    a, b, na = (
        grade_category("a", [_result(Severity.LOW, Status.PASS)]),
        grade_category("b", [_result(Severity.LOW, Status.FAIL)]),
        grade_category("c", []),
    )
    assert overall([a, b, na]) == (50.0, "F")
    assert overall([na]) == (None, "n/a")
    assert grade_rank("a") > grade_rank("B") > grade_rank("F")
    with pytest.raises(ValueError, match="not a grade"):
        grade_rank("E")
    assert "high 3, medium 2, low 1" in RULE


def test_categories_without_files_are_na_not_f() -> None:
    result = run({"Dockerfile": GOOD_DOCKERFILE}, ".dockerignore")
    assert result.category("CI/CD").grade == "n/a"
    assert result.category("CI/CD").score is None
    assert result.category("Resources").grade == "n/a"
    assert result.category("Containers").grade == "A"
    graded = [c.score for c in result.categories if c.score is not None]
    assert result.score == pytest.approx(sum(graded) / len(graded), abs=0.05)


# --- malformed and templated YAML ----------------------------------------------------


def test_malformed_yaml_is_a_problem_at_its_line_and_the_rest_goes_on() -> None:
    broken = "apiVersion: v1\nkind: ConfigMap\ndata:\n  a: [1, 2\n  b: 3\n"
    result = run({"k8s/broken.yaml": broken, "k8s/app.yaml": COMPLETE, ".github/workflows/x.yml": "on: [push\n"})
    problems = {(p.file, p.line) for p in result.problems}
    assert ("k8s/broken.yaml", 5) in problems
    assert (".github/workflows/x.yml", 2) in problems
    assert all("not valid YAML" in p.message for p in result.problems)
    assert status(result, "k8s.readiness") is Status.PASS  # the good manifest was still read
    with pytest.raises(YamlProblem) as err:
        load_documents("a: 1\nb: {c: 2\n")
    assert err.value.line == 3


def test_templates_are_noted_not_reported() -> None:
    helm = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n{{- if .Values.x }}\n"
    result = run(
        {"chart/templates/deploy.yaml": helm, "ansible/site.yml": "- hosts: {{ group }}\n  x: [\n"}, "chart/Chart.yaml"
    )
    assert result.problems == ()
    notes = {n.file: n.message for n in result.notes}
    assert "Helm chart" in notes["chart/Chart.yaml"]
    assert "template" in notes["ansible/site.yml"]
    assert status(result, "k8s.readiness") is Status.NA


def test_yaml_keeps_written_keys_and_tolerates_unknown_tags() -> None:
    docs = load_documents("on: push\nref: !reference [.setup, script]\nn: 3\nflag: yes\n")
    assert docs == [{"on": "push", "ref": [".setup", "script"], "n": 3, "flag": True}]
    assert docs[0].line_of("n") == 3


# --- outputs -------------------------------------------------------------------------


def test_json_markdown_and_html() -> None:
    result = run({"Dockerfile": BAD_DOCKERFILE, "k8s/broken.yaml": "a: [\n"})
    doc = to_json(result, "repo")
    json.dumps(doc)
    assert set(doc) >= {"path", "files", "categories", "overall", "problems"}
    check = doc["categories"]["Security"]["checks"][0]
    assert set(check) >= {"id", "title", "status", "severity", "findings"}
    assert set(check["findings"][0]) == {"file", "line", "message", "recommendation"}
    assert doc["categories"]["CI/CD"] == {"grade": "n/a", "score": None, "checks": doc["categories"]["CI/CD"]["checks"]}
    assert doc["overall"]["grade"] == result.grade
    assert doc["problems"][0]["file"] == "k8s/broken.yaml"
    md = to_markdown(result, "repo")
    assert "`Dockerfile:3`" in md and "static reading" in md and "| Containers | **F** |" in md
    page = to_html(result, "repo")
    assert "<svg" in page and "Dockerfile:3" in page
    assert not re.search(r"<(script|link|img)\b", page)


# --- the walk ------------------------------------------------------------------------


def test_collect_skips_vendored_and_large_files(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM alpine:3.20\n")
    for skipped in ("node_modules/x", ".git/y", "build/z", "env/lib"):
        (tmp_path / skipped).mkdir(parents=True)
        (tmp_path / skipped / "Dockerfile").write_text("FROM alpine\n")
    (tmp_path / "env" / "pyvenv.cfg").write_text("home = /usr\n")  # a virtualenv, whatever its name
    (tmp_path / "big.yaml").write_text("a: " + "x" * (1024 * 1024 + 10) + "\n")
    (tmp_path / "README.md").write_text("hi\n")
    got = collect(tmp_path)
    assert sorted(got.texts) == ["Dockerfile"]
    assert "README.md" in got.paths
    assert any(n.file == "big.yaml" and "1 MiB" in n.message for n in got.notes)
    assert sorted(collect(tmp_path, ["Dockerfile"]).texts) == []


def test_docs_describe_every_check() -> None:
    docs = (ROOT / "docs" / "assessment.md").read_text()
    missing = [spec.id for spec in CHECKS if f"`{spec.id}`" not in docs]
    assert missing == []
