"""Observability and operations hints: metrics and web libraries in dependency files,
health and metrics routes in source code, backup jobs, autoscaling configuration.

These are hints, not proof: a ``prometheus-client`` dependency says metrics are probably
exposed, a ``"/health"`` string that a health route probably exists. Each pass names
the file and line it rests on, so a reader can judge it.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Collection
from dataclasses import dataclass, field

from scalepilot.control.assessment.model import Finding, Outcome

# Ecosystem → (metrics libraries, web frameworks). Names as written in that ecosystem's
# dependency file.
_PY = (
    (
        "prometheus-client",
        "prometheus_client",
        "prometheus-fastapi-instrumentator",
        "starlette-exporter",
        "starlette-prometheus",
        "django-prometheus",
        "prometheus-flask-exporter",
        "aioprometheus",
        "opentelemetry-exporter-prometheus",
    ),
    (
        "fastapi",
        "flask",
        "django",
        "starlette",
        "aiohttp",
        "tornado",
        "sanic",
        "quart",
        "litestar",
        "falcon",
        "bottle",
        "pyramid",
        "uvicorn",
        "gunicorn",
    ),
)
_NODE = (
    (
        "prom-client",
        "express-prom-bundle",
        "@opentelemetry/exporter-prometheus",
        "fastify-metrics",
        "@willsoto/nestjs-prometheus",
    ),
    ("express", "fastify", "koa", "@nestjs/core", "next", "@hapi/hapi", "hono", "nuxt"),
)
_GO = (
    (
        "github.com/prometheus/client_golang",
        "go.opentelemetry.io/otel/exporters/prometheus",
        "github.com/VictoriaMetrics/metrics",
    ),
    (
        "github.com/gin-gonic/gin",
        "github.com/labstack/echo",
        "github.com/gofiber/fiber",
        "github.com/go-chi/chi",
        "github.com/gorilla/mux",
        "github.com/julienschmidt/httprouter",
    ),
)
_RUBY = (("prometheus-client", "yabeda-prometheus"), ("rails", "sinatra", "puma", "hanami"))
_JVM = (
    ("micrometer-registry-prometheus", "simpleclient", "prometheus-metrics-core"),
    ("spring-boot-starter-web", "spring-boot-starter-webflux", "spring-boot-starter-actuator", "quarkus-rest"),
)
_RUST = (
    ("prometheus", "metrics-exporter-prometheus", "autometrics", "prometheus-client"),
    ("actix-web", "axum", "rocket", "warp", "poem"),
)
_PHP = (("promphp/prometheus_client_php",), ("laravel/framework", "symfony/framework-bundle", "slim/slim"))

# A health route a probe or a load balancer would call.
_HEALTH_ROUTE = re.compile(
    r"[\"'`](/(?:api/)?(?:v\d+/)?(?:_?health|healthz|healthcheck|health-check|ready|readyz|readiness|live|livez|"
    r"liveness|ping|actuator/health))[\"'`/?]"
)
_ROUTING_CALL = re.compile(
    r"(\.(get|head|route|api_route|add_api_route|add_route|add_url_rule|HandleFunc|Handle|handle|GET|Get|Any|"
    r"Path)\s*\(|@(Get|Request)Mapping\s*\(|\b(re_)?path\s*\(|^\s*get\s+['\"])"
)
_METRICS_ROUTE = re.compile(r"[\"'`](/metrics|/actuator/prometheus)[\"'`]")
_BACKUP = re.compile(
    r"(backup|\b(pg_dump(all)?|pg_basebackup|mysqldump|mariadb-dump|mongodump|velero|restic|borg|wal-g|"
    r"pgbackrest|barman|duplicati|rclone)\b)",
    re.IGNORECASE,
)
_SCRIPT_DIRS = frozenset(
    {"scripts", "script", "bin", "ops", "deploy", "deployment", "backup", "backups", "cron", "tools", "infra"}
)
_TEST_DIRS = frozenset({"test", "tests", "__tests__", "spec", "testdata", "fixtures"})
SOURCE_EXTENSIONS = frozenset(
    {".py", ".js", ".mjs", ".cjs", ".ts", ".go", ".rb", ".java", ".kt", ".php", ".rs", ".cs", ".ex", ".exs"}
)


def dependency_ecosystem(path: str) -> str | None:
    """Which dependency file ``path`` is (by name), or None."""
    base = posixpath.basename(path)
    if re.fullmatch(r"requirements[\w.-]*\.(txt|in)", base) or (
        base.endswith((".txt", ".in")) and posixpath.basename(posixpath.dirname(path)) == "requirements"
    ):
        return "requirements"
    return {
        "pyproject.toml": "pyproject",
        "Pipfile": "pyproject",
        "setup.cfg": "requirements",
        "package.json": "node",
        "go.mod": "go",
        "Gemfile": "ruby",
        "pom.xml": "maven",
        "build.gradle": "gradle",
        "build.gradle.kts": "gradle",
        "Cargo.toml": "cargo",
        "composer.json": "php",
    }.get(base)


_LISTS = {
    "requirements": _PY,
    "pyproject": _PY,
    "node": _NODE,
    "go": _GO,
    "ruby": _RUBY,
    "maven": _JVM,
    "gradle": _JVM,
    "cargo": _RUST,
    "php": _PHP,
}


def _name_pattern(ecosystem: str, name: str) -> re.Pattern[str]:
    escaped = re.escape(name)
    if ecosystem in ("requirements", "pyproject"):
        escaped = re.sub(r"\\?[-_]", "[-_.]", escaped)  # PEP 503: -, _ and . are one
    if ecosystem == "requirements":
        return re.compile(rf"^\s*{escaped}\s*([<>=!~;\[@ ]|$)", re.IGNORECASE)
    if ecosystem in ("pyproject", "cargo"):
        return re.compile(rf"^\s*[\"']?{escaped}[\"']?\s*=|[\"']{escaped}\s*([<>=!~;\[ \"']|$)", re.IGNORECASE)
    if ecosystem in ("node", "php"):
        return re.compile(rf"\"{escaped}\"\s*:")
    if ecosystem == "go":
        return re.compile(rf"^\s*(require\s+)?{escaped}(/v\d+)?\s")
    if ecosystem == "ruby":
        return re.compile(rf"^\s*gem\s+[\"']{escaped}[\"']")
    if ecosystem == "maven":
        return re.compile(rf"<artifactId>{escaped}</artifactId>")
    return re.compile(rf"[\"':]{escaped}[:\"']")  # gradle: "group:name:version"


@dataclass(frozen=True, slots=True)
class Hit:
    file: str
    line: int
    what: str
    strong: bool = True
    """False for a route string outside a routing call: maybe a route, maybe a mention."""

    def __str__(self) -> str:
        return f"{self.file}:{self.line} {self.what}"


def dependency_hits(path: str, text: str) -> tuple[list[Hit], list[Hit]]:
    """(metrics libraries, web frameworks) named in one dependency file."""
    ecosystem = dependency_ecosystem(path)
    if ecosystem is None:
        return [], []
    metrics_names, web_names = _LISTS[ecosystem]
    lines = text.splitlines()
    found: tuple[list[Hit], list[Hit]] = ([], [])
    for bucket, names in zip(found, (metrics_names, web_names), strict=True):
        for name in names:
            pattern = _name_pattern(ecosystem, name)
            for number, line in enumerate(lines, 1):
                if line.lstrip().startswith(("#", "//")):
                    continue
                if pattern.search(line):
                    bucket.append(Hit(path, number, name))
                    break
    return found


def route_hits(path: str, text: str) -> tuple[list[Hit], list[Hit]]:
    """(health routes, metrics routes) written as string literals in a source file: the
    first one inside a routing call (a FastAPI or Flask decorator, Go's HandleFunc...),
    else the first mention."""
    out: tuple[list[Hit], list[Hit]] = ([], [])
    for bucket, pattern in zip(out, (_HEALTH_ROUTE, _METRICS_ROUTE), strict=True):
        first: Hit | None = None
        for match in pattern.finditer(text):
            line_start = text.rfind("\n", 0, match.start()) + 1
            strong = bool(_ROUTING_CALL.search(text[line_start : match.start()]))
            hit = Hit(path, text.count("\n", 0, match.start()) + 1, match.group(1), strong)
            if strong:
                first = hit
                break
            first = first or hit
        if first is not None:
            bucket.append(first)
    return out


def backup_script(path: str) -> bool:
    """Whether a file's name and place say it is a backup script (tests and library
    code that merely implement a backup feature are not)."""
    parts = path.lower().split("/")
    base = parts[-1]
    if "backup" not in base or _TEST_DIRS.intersection(parts[:-1]):
        return False
    ext = posixpath.splitext(base)[1]
    return ext in (".sh", ".bash", ".ps1") or (
        ext in ("", ".py", ".js", ".ts", ".rb") and bool(_SCRIPT_DIRS.intersection(parts[:-1]))
    )


def backup_words(text: str) -> bool:
    return bool(_BACKUP.search(text))


@dataclass(slots=True)
class Inputs:
    """What the operations checks read, gathered by the assessment from every file."""

    paths: Collection[str]
    deployables: list[tuple[str, int]] = field(default_factory=list)
    """``(file, line)`` of each Dockerfile, compose service and Kubernetes workload."""
    dependency_files: list[str] = field(default_factory=list)
    ecosystems: set[str] = field(default_factory=set)
    metrics: list[Hit] = field(default_factory=list)
    web: list[Hit] = field(default_factory=list)
    health: list[Hit] = field(default_factory=list)
    stateful: list[tuple[str, int, str]] = field(default_factory=list)
    """``(file, line, what)`` of each database service, StatefulSet or PersistentVolumeClaim."""
    backups: list[Hit] = field(default_factory=list)
    compose_apps: list[tuple[str, int, str]] = field(default_factory=list)
    """``(file, line, service)`` of compose services that run the team's own code."""
    kubernetes_workloads: bool = False
    autoscaling: list[Hit] = field(default_factory=list)


def _metrics_recommendation(ecosystems: set[str]) -> str:
    if "go" in ecosystems:
        lib = "`github.com/prometheus/client_golang` and serve `promhttp.Handler()` at `/metrics`"
    elif "node" in ecosystems:
        lib = "`prom-client` (`collectDefaultMetrics()`, a request-duration histogram) and serve `/metrics`"
    elif ecosystems & {"maven", "gradle"}:
        lib = "`micrometer-registry-prometheus` with the actuator's `/actuator/prometheus`"
    elif "cargo" in ecosystems:
        lib = "`metrics-exporter-prometheus` and serve `/metrics`"
    else:
        lib = "`prometheus-client` (or `prometheus-fastapi-instrumentator`) and serve `/metrics`"
    return (
        f"Add {lib}: request count, errors and a latency histogram by route; scalepilot (or Prometheus) scrapes "
        "it and can scale and alert on it."
    )


def _evidence(hits: list[Hit]) -> str:
    more = f" (+{len(hits) - 3} more)" if len(hits) > 3 else ""
    return "; ".join(str(h) for h in hits[:3]) + more


def check(inp: Inputs) -> list[Outcome]:
    out: list[Outcome] = []
    anchor = (inp.dependency_files[0], 1) if inp.dependency_files else inp.deployables[0] if inp.deployables else None

    if anchor is not None:
        if inp.metrics:
            out.append(Outcome("ops.metrics", "repo", evidence=_evidence(inp.metrics)))
        else:
            out.append(
                Outcome(
                    "ops.metrics",
                    "repo",
                    Finding(
                        anchor[0],
                        anchor[1],
                        "no Prometheus client library, `/metrics` route or scrape configuration found",
                        _metrics_recommendation(inp.ecosystems),
                    ),
                )
            )

    if inp.deployables or inp.web:
        if inp.health:
            out.append(Outcome("ops.health-endpoint", "repo", evidence=_evidence(inp.health)))
        else:
            where = (inp.web[0].file, inp.web[0].line) if inp.web else inp.deployables[0]
            out.append(
                Outcome(
                    "ops.health-endpoint",
                    "repo",
                    Finding(
                        where[0],
                        where[1],
                        "no health endpoint found (no `/health`-like route, no HTTP probe or healthcheck URL)",
                        "Serve `GET /health` (200 while the process works, touching no dependency) and `GET /ready` "
                        "(200 only when it can serve, e.g. its database answers), and point the probes at them.",
                    ),
                )
            )

    if inp.stateful:
        file, line, what = inp.stateful[0]
        if inp.backups:
            out.append(Outcome("ops.backup", "repo", evidence=_evidence(inp.backups)))
        else:
            out.append(
                Outcome(
                    "ops.backup",
                    "repo",
                    Finding(
                        file,
                        line,
                        f"{what} holds data, and no backup script, job or schedule was found",
                        "Add a scheduled backup that leaves the host, e.g. a Kubernetes CronJob or cron script "
                        "running `pg_dump -Fc` (`mysqldump`, `mongodump`) to object storage; keep N days and "
                        "test a restore.",
                    ),
                )
            )

    # A scalepilot.yaml without autoscaling is a watch-only config, which is legitimate:
    # it is evidence when it scales something, never a reason to judge.
    if inp.compose_apps and not inp.kubernetes_workloads:
        if inp.autoscaling:
            out.append(Outcome("ops.autoscaling", "repo", evidence=_evidence(inp.autoscaling)))
        else:
            file, line, name = inp.compose_apps[0]
            out.append(
                Outcome(
                    "ops.autoscaling",
                    "repo",
                    Finding(
                        file,
                        line,
                        f"nothing scales `{name}`: its replica count is fixed",
                        f"Scale it with scalepilot: a scalepilot.yaml service `{name}` with `target: {{type: command, "
                        f'scale: [docker, compose, up, -d, --no-recreate, --scale, "{name}={{replicas}}"]}}` and '
                        "`autoscaling: {min_replicas: 2, max_replicas: 10, metrics: [{type: cpu, target: 70%}]}` "
                        "(the README's Configuration section has the rest), or run it on Kubernetes with an HPA.",
                    ),
                )
            )
    return out
