"""The assessment of one repository, from its files' paths and texts.

``kind_of`` says what a path is read as (the service layer reads only those); ``assess``
parses each text, runs every check and grades. Nothing here touches the filesystem:
``paths`` is every file the service found (for existence checks such as ``.dockerignore``
or ``.github/dependabot.yml``), ``texts`` the ones it read.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence

from scalepilot.control.assessment import ci, compose, dockerfile, kubernetes, ops
from scalepilot.control.assessment.catalog import CATEGORIES, CHECKS
from scalepilot.control.assessment.model import (
    Assessment,
    FileEntry,
    Finding,
    Note,
    Outcome,
    grade_category,
    judge,
    overall,
)
from scalepilot.control.assessment.yamlsrc import YamlProblem, YList, YMap, load_documents

_NOT_DOCKERFILE = frozenset(
    {*ops.SOURCE_EXTENSIONS, ".md", ".txt", ".json", ".yml", ".yaml", ".toml", ".sh", ".lock", ".j2", ".tmpl", ".bak"}
)
_COMPOSE = re.compile(r"(docker-)?compose([.-][\w.-]*)?\.ya?ml")
_OTHER_CI = {
    "Jenkinsfile": "Jenkins",
    ".travis.yml": "Travis CI",
    "azure-pipelines.yml": "Azure Pipelines",
    "bitbucket-pipelines.yml": "Bitbucket Pipelines",
    ".drone.yml": "Drone",
    "cloudbuild.yaml": "Cloud Build",
    "cloudbuild.yml": "Cloud Build",
}
# Images of what a compose file runs besides the team's own code: nothing to autoscale.
_INFRA_IMAGES = re.compile(
    r"nginx|traefik|caddy|haproxy|envoy|prometheus|grafana|alertmanager|loki|promtail|jaeger|otel|zipkin|"
    r"mailhog|mailpit|adminer|pgadmin|phpmyadmin|localstack|minio|memcached|kafka|zookeeper|nats|certbot|"
    r"watchtower|portainer|backup",
    re.IGNORECASE,
)


def kind_of(path: str) -> str | None:
    """What a repository-relative POSIX path is read as, or None when only its existence
    matters (``.dockerignore``) or nothing about it does."""
    base = posixpath.basename(path)
    lower = base.lower()
    if lower.endswith(".dockerignore"):
        return None
    if lower == "dockerfile" or lower.endswith(".dockerfile"):
        return "dockerfile"
    # ``Dockerfile.prod``, but not ``dockerfile.py`` (a module about Dockerfiles).
    if lower.startswith("dockerfile.") and posixpath.splitext(lower)[1] not in _NOT_DOCKERFILE:
        return "dockerfile"
    if _COMPOSE.fullmatch(lower):
        return "compose"
    if re.fullmatch(r"\.github/workflows/[^/]+\.ya?ml", path):
        return "github-workflow"
    if lower.endswith(".gitlab-ci.yml") or lower.endswith(".gitlab-ci.yaml"):
        return "gitlab-ci"
    if lower.endswith((".yml", ".yaml")):
        return "yaml"
    if ops.dependency_ecosystem(path) is not None:
        return "dependencies"
    if posixpath.splitext(lower)[1] in ops.SOURCE_EXTENSIONS:
        return "source"
    return None


def _helm_chart(path: str, paths: Collection[str]) -> str | None:
    """The Chart.yaml of the chart whose ``templates/`` holds ``path``, if any."""
    parts = path.split("/")
    for i, part in enumerate(parts[:-1]):
        if part == "templates" and "/".join([*parts[:i], "Chart.yaml"]) in paths:
            return "/".join([*parts[:i], "Chart.yaml"])
    return None


_SECONDARY_DIRS = frozenset(
    {"test", "tests", "__tests__", "spec", "bench", "benchmarks", "examples", "example", "docs", "testdata"}
)


def _secondary(path: str) -> bool:
    return bool(_SECONDARY_DIRS.intersection(path.split("/")[:-1]))


def _templated(text: str) -> bool:
    return bool(re.search(r"(?<!\$)\{\{", text))


def _scalepilot_config(path: str, docs: list[object]) -> list[ops.Hit] | None:
    """Autoscaled services of a scalepilot.yaml, or None when this is not one."""
    if not posixpath.basename(path).lower().startswith("scalepilot"):
        return None
    doc = docs[0] if docs else None
    if not isinstance(doc, YMap) or not isinstance(doc.get("services"), YList):
        return None
    services = doc["services"]
    return [
        ops.Hit(path, svc.line_of("autoscaling"), f"scalepilot autoscaling for {svc.get('name', '?')}")
        for svc in services.maps()
        if isinstance(svc.get("autoscaling"), YMap)
    ]


def assess(texts: Mapping[str, str], paths: Collection[str] = ()) -> Assessment:
    """Read, check and grade. ``texts``: repository-relative path → content, for the paths
    ``kind_of`` names; ``paths``: every file found, read or not."""
    all_paths = set(paths) | set(texts)
    files: list[FileEntry] = []
    problems: list[Finding] = []
    notes: list[Note] = []
    dockerfiles: list[dockerfile.Dockerfile] = []
    services: list[compose.Service] = []
    pipelines: list[ci.Pipeline] = []
    objects: list[kubernetes.Object] = []
    inputs = ops.Inputs(paths=all_paths)
    sources = 0

    def load(path: str, text: str) -> list[object] | None:
        try:
            return load_documents(text)
        except YamlProblem as exc:
            problems.append(
                Finding(
                    path,
                    exc.line,
                    f"not valid YAML (column {exc.column}): {exc.message}",
                    "Fix the YAML syntax at this line (often an unclosed bracket or quote, or a tab or "
                    "misaligned indent just above); until then the file is left out of every check.",
                )
            )
            return None

    for path in sorted(texts):
        text = texts[path]
        kind = kind_of(path)
        if kind == "dockerfile":
            df = dockerfile.parse(path, text)
            if not df.stages:
                notes.append(Note(path, "named like a Dockerfile but does not start with FROM (or ARG): not read"))
                continue
            dockerfiles.append(df)
            files.append(FileEntry(path, "Dockerfile", tuple(f"FROM {s.image}" for s in df.stages)))
        elif kind == "compose":
            docs = load(path, text)
            if docs is None:
                continue
            found = [s for d in docs[:1] for s in compose.services(path, d)]
            services += found
            files.append(FileEntry(path, "docker-compose", tuple(f"service {s.name}" for s in found)))
        elif kind in ("github-workflow", "gitlab-ci"):
            docs = load(path, text)
            if docs is None:
                continue
            read = ci.github if kind == "github-workflow" else ci.gitlab
            pipeline = read(path, docs[0] if docs else None)
            if pipeline is not None:
                pipelines.append(pipeline)
                label = "GitHub Actions workflow" if kind == "github-workflow" else "GitLab CI"
                files.append(
                    FileEntry(path, label, tuple(f"job {j.name}" for j in pipeline.jobs if j.name != "include"))
                )
        elif kind == "yaml":
            chart = _helm_chart(path, all_paths)
            if chart is not None:
                continue  # noted once per chart below
            docs_or_none: list[object] | None
            if _templated(text):
                # A Jinja or Go template may be YAML only once rendered: a parse error there
                # is not the file's fault.
                try:
                    docs_or_none = load_documents(text)
                except YamlProblem:
                    notes.append(Note(path, "a template (`{{ … }}`), not plain YAML: not read"))
                    continue
            else:
                docs_or_none = load(path, text)
            if docs_or_none is None:
                continue
            found_objects = kubernetes.objects(path, list(docs_or_none))
            if found_objects:
                objects += found_objects
                files.append(FileEntry(path, "Kubernetes manifest", tuple(o.ref for o in found_objects)))
            autoscaled = _scalepilot_config(path, list(docs_or_none))
            if autoscaled is not None:
                inputs.autoscaling += autoscaled
                files.append(FileEntry(path, "scalepilot config", tuple(h.what for h in autoscaled)))
            elif not found_objects and docs_or_none and compose.looks_like_compose(docs_or_none[0]):
                # Compose files named for their environment (``production.yml``, ``local.yml``).
                found = compose.services(path, docs_or_none[0])
                services += found
                files.append(FileEntry(path, "docker-compose", tuple(f"service {s.name}" for s in found)))
        elif kind == "dependencies":
            metrics, web = ops.dependency_hits(path, text)
            inputs.dependency_files.append(path)
            inputs.ecosystems.add(str(ops.dependency_ecosystem(path)))
            inputs.metrics += metrics
            inputs.web += web
            files.append(FileEntry(path, "dependencies", tuple(h.what for h in metrics + web)))
        elif kind == "source":
            sources += 1
            health, metrics = ops.route_hits(path, text)
            inputs.health += health
            inputs.metrics += metrics

    for path in sorted(all_paths):
        base = posixpath.basename(path)
        if base == "Chart.yaml":
            notes.append(Note(path, "a Helm chart: its templates are not read (assess `helm template` output instead)"))
        elif base in _OTHER_CI or path.startswith(".circleci/"):
            product = _OTHER_CI.get(base, "CircleCI")
            notes.append(Note(path, f"{product} pipeline: not read (only GitHub Actions and GitLab CI are)"))
        elif re.fullmatch(r"\.?ci/[^/]+", path) and posixpath.splitext(base)[1] in ("", ".sh"):
            notes.append(Note(path, "looks like a CI script: not read (only GitHub Actions and GitLab CI are)"))
        if ops.backup_script(path):
            inputs.backups.append(ops.Hit(path, 1, "backup script"))
    terraform = sorted(p for p in all_paths if p.endswith(".tf"))
    if terraform:
        notes.append(Note(terraform[0], f"Terraform ({len(terraform)} files): not read"))

    # What the checks of one kind need to know about the others.
    workloads = [o for o in objects if o.kind in kubernetes.WORKLOADS and not kubernetes.is_patch(o)]
    for o in objects:
        if o.kind in kubernetes.WORKLOADS and kubernetes.is_patch(o):
            notes.append(Note(o.file, f"{o.ref} has no container image (a patch or overlay): not judged on its own"))
    healthchecked_dockerfiles = {df.path for df in dockerfiles if dockerfile.has_healthcheck(df)}
    compose_healthchecked = {
        d for s in services if s.data.get("healthcheck") is not None and (d := s.dockerfile()) is not None
    }

    outcomes: list[Outcome] = []
    for df in dockerfiles:
        ctx = dockerfile.Context(all_paths, kubernetes=bool(workloads), healthchecked=compose_healthchecked)
        outcomes += dockerfile.check(df, ctx)
        inputs.deployables.append((df.path, df.stages[0].line))
        inputs.health += [ops.Hit(df.path, line, url) for line, url in dockerfile.health_paths(df)]
    outcomes += compose.check(services, compose.Context(healthchecked_dockerfiles))
    outcomes += kubernetes.check(objects)
    outcomes += ci.check(pipelines, all_paths)

    for svc in services:
        if not (svc.image or svc.builds):
            continue
        inputs.deployables.append((svc.file, svc.line))
        hc = svc.data.map("healthcheck")
        test = str(hc.get("test")) if hc else ""
        if re.search(r"https?://", test):
            inputs.health.append(ops.Hit(svc.file, hc.line_of("test") if hc else svc.line, f"{svc.name} healthcheck"))
        db = svc.database()
        if db is not None and db != "cache":
            inputs.stateful.append((svc.file, svc.line, f"compose service `{svc.name}`"))
        text = " ".join(str(v) for v in (svc.name, svc.image, svc.data.get("command")) if v)
        if ops.backup_words(text):
            inputs.backups.append(ops.Hit(svc.file, svc.line, f"compose service {svc.name}"))
        if svc.builds or (svc.image and db is None and not _INFRA_IMAGES.search(svc.image)):
            inputs.compose_apps.append((svc.file, svc.line, svc.name))
    for obj in workloads:
        inputs.deployables.append((obj.file, obj.line))
    inputs.kubernetes_workloads = any(o.kind in kubernetes.REPLICATED for o in workloads)
    inputs.health += [ops.Hit(f, line, p) for f, line, p in kubernetes.health_paths(objects)]
    inputs.metrics += [ops.Hit(f, line, w) for f, line, w in kubernetes.scrape_annotations(objects)]
    for obj in objects:
        if (obj.kind == "StatefulSet" and not kubernetes.is_patch(obj)) or obj.kind == "PersistentVolumeClaim":
            inputs.stateful.append((obj.file, obj.line, obj.ref))
        if obj.kind in ("HorizontalPodAutoscaler", "ScaledObject"):
            inputs.autoscaling.append(ops.Hit(obj.file, obj.line, obj.ref))
        if obj.kind in ("CronJob", "Schedule") and ops.backup_words(str(obj.doc)):
            inputs.backups.append(ops.Hit(obj.file, obj.line, obj.ref))
    for pipeline in pipelines:
        if ci.scheduled(pipeline):
            for file, line, text in ci.text_of([pipeline]):
                if ops.backup_words(text):
                    inputs.backups.append(ops.Hit(file, line, "scheduled CI backup"))
                    break
    # Evidence from the application's own code first: a "/health" in a test or a benchmark
    # says less than one in the source it tests.
    for hits in (inputs.health, inputs.metrics, inputs.backups):
        unique = {(h.file, h.line): h for h in reversed(hits)}
        hits[:] = sorted(unique.values(), key=lambda h: (not h.strong, _secondary(h.file), h.file, h.line))
    outcomes += ops.check(inputs)

    by_check: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_check[outcome.check].append(outcome)
    categories = []
    for name in CATEGORIES:
        results = [judge(spec, by_check.get(spec.id, [])) for spec in CHECKS if spec.category == name]
        categories.append(grade_category(name, results))
    score, grade = overall(categories)
    return Assessment(
        files=tuple(sorted(files, key=lambda f: f.file)),
        problems=tuple(sorted(problems, key=lambda f: (f.file, f.line))),
        notes=tuple(_dedupe(notes)),
        categories=tuple(categories),
        score=score,
        grade=grade,
        sources_scanned=sources,
    )


def _dedupe(notes: Sequence[Note]) -> list[Note]:
    seen: set[Note] = set()
    out = []
    for note in notes:
        if note not in seen:
            seen.add(note)
            out.append(note)
    return out
