"""CI pipelines: GitHub Actions workflows and ``.gitlab-ci.yml``.

Both are read into jobs of steps, a step being a ``run:`` script (a GitLab ``script:``
line) or a ``uses:`` action; whether tests, linters, scanners or a deploy run is then a
matter of recognising well-known commands and actions in them.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from scalepilot.control.assessment.model import Finding, Outcome
from scalepilot.control.assessment.yamlsrc import YList, YMap

_SHA = re.compile(r"^[0-9a-f]{40}$")

# Recognisers: one regex over a step's text (its name, `run:` script and `uses:` action).
_TESTS = re.compile(
    r"\b(pytest|py\.test|python3? -m (pytest|unittest)|tox|nox|hatch (test|run test)|"
    r"(npm|pnpm|bun|deno) (run )?test|yarn (run )?test|jest|vitest|mocha|go test|cargo (test|nextest)|"
    r"mvn\S* (\S+ )*(test|verify|install|package)|gradlew? (\S+ )*(test|check|build)|make (test|check|ci)|"
    r"rspec|rake (test|spec)|phpunit|dotnet test|ctest|playwright test|cypress run)\b|"
    r"\b(run[-_])?tests?\.(sh|py)\b|\bbin/test\b"
)
_LINT = re.compile(
    r"\b(ruff|flake8|pylint|mypy|pyright|black --check|isort --check|eslint|(npm|pnpm|yarn) (run )?lint|"
    r"prettier (--check|-c)|tsc --noEmit|golangci-lint|go vet|staticcheck|cargo clippy|cargo fmt|rubocop|"
    r"hadolint|shellcheck|yamllint|actionlint|pre-commit|make lint|super-linter|markdownlint|stylelint|ktlint|"
    r"checkstyle|spotless)\b"
)
_SCAN = re.compile(
    r"(codeql|trivy|snyk|grype|anchore/scan-action|pip-audit|safety check|\bnpm audit|\byarn audit|\bpnpm audit|"
    r"\bbandit\b|gosec|govulncheck|osv-scanner|semgrep|gitleaks|trufflehog|dependency-review-action|"
    r"scorecard-action|checkov|tfsec|kube-linter|kubesec|docker scout|cargo audit|bundler-audit|"
    r"owasp/dependency-check|dependency-check|Security/|Jobs/(SAST|Dependency-Scanning|Secret-Detection|"
    r"Container-Scanning))",
    re.IGNORECASE,
)
_DEPLOY = re.compile(
    r"\b(deploy|docker push|docker buildx build [^\n]*--push|build-push-action|kubectl (apply|set image|rollout)|"
    r"helm (upgrade|install)|flyctl deploy|fly deploy|vercel|netlify deploy|gh release|twine upload|"
    r"npm publish|cargo publish|gcloud run deploy|aws ecs update-service|terraform apply|ansible-playbook|"
    r"semantic-release|goreleaser|pypa/gh-action-pypi-publish|render\.com|railway up|heroku)\b",
    re.IGNORECASE,
)
_INSTALL = re.compile(
    r"\b(pip3? install|poetry install|uv sync|pipenv install|npm (ci|install)|yarn( install)?\s*($|\n|&&)|"
    r"pnpm install|go mod download|go (build|test)|bundle install|composer install|mvn\S* |gradlew? |"
    r"cargo (build|test)|dotnet restore)|actions/setup-(python|node|go|java|dotnet)|ruby/setup-ruby"
)
_CACHE_ACTIONS = re.compile(
    r"^(actions/cache|Swatinem/rust-cache|gradle/actions/setup-gradle|gradle/gradle-build-action)(/|@|$)"
)
_SECURITY_CONFIGS = (
    ".github/dependabot.yml",
    ".github/dependabot.yaml",
    "renovate.json",
    "renovate.json5",
    ".renovaterc",
    ".renovaterc.json",
    ".github/renovate.json",
    ".github/renovate.json5",
    ".gitlab/renovate.json",
)


@dataclass(slots=True)
class Step:
    file: str
    line: int
    name: str = ""
    run: str = ""
    uses: str = ""
    with_: YMap | None = None
    uses_line: int = 0

    @property
    def text(self) -> str:
        return "\n".join(p for p in (self.name, self.run, self.uses) if p)


@dataclass(slots=True)
class Job:
    file: str
    name: str
    line: int
    data: YMap
    steps: list[Step] = field(default_factory=list)
    uses: str = ""
    """A GitHub job that calls a reusable workflow (``jobs.x.uses``)."""


@dataclass(slots=True)
class Pipeline:
    file: str
    kind: str  # "github" or "gitlab"
    doc: YMap
    jobs: list[Job]

    def steps(self) -> list[Step]:
        return [s for j in self.jobs for s in j.steps]

    @property
    def jobs_line(self) -> int:
        return self.doc.line_of("jobs") if self.kind == "github" else 1


def github(path: str, doc: Any) -> Pipeline | None:
    if not isinstance(doc, YMap) or not isinstance(doc.get("jobs"), YMap):
        return None
    jobs: list[Job] = []
    block: YMap = doc["jobs"]
    for name, data in block.items():
        if not isinstance(data, YMap):
            continue
        job = Job(path, str(name), block.line_of(name), data, uses=str(data.get("uses") or ""))
        steps = data.seq("steps") or YList(data.line)
        for step in steps.maps():
            job.steps.append(
                Step(
                    path,
                    step.line,
                    str(step.get("name") or ""),
                    str(step.get("run") or ""),
                    str(step.get("uses") or ""),
                    step.map("with"),
                    step.line_of("uses"),
                )
            )
        jobs.append(job)
    return Pipeline(path, "github", doc, jobs)


_GITLAB_RESERVED = frozenset(
    {
        "stages",
        "variables",
        "default",
        "include",
        "workflow",
        "image",
        "services",
        "cache",
        "before_script",
        "after_script",
        "types",
    }
)


def _script_lines(value: Any, line: int) -> list[tuple[int, str]]:
    if isinstance(value, str):
        return [(line, value)]
    if isinstance(value, YList):
        out: list[tuple[int, str]] = []
        for index, item in enumerate(value):
            out += _script_lines(item, value.line_at(index))
        return out
    return []


def gitlab(path: str, doc: Any) -> Pipeline | None:
    if not isinstance(doc, YMap):
        return None
    jobs: list[Job] = []
    for name, data in doc.items():
        if name in _GITLAB_RESERVED or name.startswith(".") or not isinstance(data, YMap):
            continue
        if not any(k in data for k in ("script", "trigger", "extends", "run")):
            continue
        job = Job(path, name, doc.line_of(name), data)
        for key in ("before_script", "script", "after_script"):
            for line, text in _script_lines(data.get(key), data.line_of(key)):
                job.steps.append(Step(path, line, name, text))
        # A job's name and stage say what it is as much as its script ("unit-tests", "deploy").
        job.steps.append(Step(path, job.line, f"{name} {data.get('stage', '')}"))
        jobs.append(job)
    # Included templates (``template: Security/SAST.gitlab-ci.yml``) are steps of a kind.
    include = doc.get("include")
    items = include if isinstance(include, YList) else [include] if include is not None else []
    for item in items:
        text = " ".join(str(v) for v in item.values()) if isinstance(item, YMap) else str(item)
        line = item.line if isinstance(item, YMap) else doc.line_of("include")
        jobs.append(Job(path, "include", line, YMap(line), [Step(path, line, "include", "", text)]))
    return Pipeline(path, "gitlab", doc, jobs)


def _first(pipelines: list[Pipeline], pattern: re.Pattern[str], by_name: re.Pattern[str] | None = None) -> Step | None:
    """The first step whose text matches ``pattern``, or that runs a script under a name
    matching ``by_name`` ("Unit tests": ``./scripts/ci.sh``)."""
    for p in pipelines:
        for step in p.steps():
            if pattern.search(step.text) or (by_name and step.run and by_name.search(step.name)):
                return step
    return None


def _caches(pipeline: Pipeline) -> bool:
    if pipeline.kind == "gitlab":
        return (
            "cache" in pipeline.doc
            or any("cache" in j.data for j in pipeline.jobs)
            or bool((pipeline.doc.map("default") or YMap(0)).get("cache"))
        )
    for step in pipeline.steps():
        uses = step.uses
        action = uses.split("@")[0]
        with_ = step.with_ or YMap(0)
        if _CACHE_ACTIONS.match(uses):
            return True
        if re.match(r"actions/setup-(python|node|java|dotnet)$", action) and with_.get("cache"):
            return True
        if action == "actions/setup-go":
            # setup-go caches by default since v4.
            version = re.match(r"v?(\d+)", uses.split("@")[-1]) if "@" in uses else None
            if with_.get("cache") is not False and (version is None or int(version.group(1)) >= 4):
                return True
        if action == "astral-sh/setup-uv" and with_.get("enable-cache"):
            return True
        if action == "ruby/setup-ruby" and with_.get("bundler-cache"):
            return True
        if action == "docker/build-push-action" and with_.get("cache-from"):
            return True
        if re.search(r"--cache-from|type=gha", step.run):
            return True
    return False


def _ecosystem_hint(paths: Collection[str]) -> tuple[str, str]:
    """(test command, lint command) for the repository's language, for recommendations."""
    names = {p.rsplit("/", 1)[-1] for p in paths}
    if "go.mod" in names:
        return "go test ./...", "golangci-lint run"
    if "package.json" in names:
        return "npm test", "npm run lint"
    if "Cargo.toml" in names:
        return "cargo test", "cargo clippy -- -D warnings"
    return "pytest", "ruff check ."


def check(pipelines: list[Pipeline], paths: Collection[str]) -> list[Outcome]:
    out: list[Outcome] = []
    if not pipelines:
        return out
    first = pipelines[0]
    test_cmd, lint_cmd = _ecosystem_hint(paths)
    where = "`.gitlab-ci.yml`: a job with `script: [" if first.kind == "gitlab" else "a job step `- run: "
    close = "]`" if first.kind == "gitlab" else "`"

    step = _first(pipelines, _TESTS, re.compile(r"\btests?\b", re.IGNORECASE))
    if step is not None:
        out.append(Outcome("ci.tests", "ci", evidence=f"{step.file}:{step.line}"))
    else:
        out.append(
            Outcome(
                "ci.tests",
                "ci",
                Finding(
                    first.file,
                    first.jobs_line,
                    "no CI job runs tests",
                    f"Run the tests on every push and pull request: {where}{test_cmd}{close}.",
                ),
            )
        )
    step = _first(pipelines, _LINT, re.compile(r"\blint", re.IGNORECASE))
    if step is not None:
        out.append(Outcome("ci.lint", "ci", evidence=f"{step.file}:{step.line}"))
    else:
        out.append(
            Outcome(
                "ci.lint",
                "ci",
                Finding(
                    first.file,
                    first.jobs_line,
                    "no CI job runs a linter or type checker",
                    f"Add {where}{lint_cmd}{close} before the tests.",
                ),
            )
        )
    step = _first(pipelines, _DEPLOY)
    if step is not None or any(
        "environment" in j.data or str(j.data.get("stage", "")).lower() in ("deploy", "release")
        for p in pipelines
        for j in p.jobs
    ):
        evidence = f"{step.file}:{step.line}" if step else "a job with an environment"
        out.append(Outcome("ci.deploy", "ci", evidence=evidence))
    else:
        out.append(
            Outcome(
                "ci.deploy",
                "ci",
                Finding(
                    first.file,
                    first.jobs_line,
                    "no CI job deploys, pushes an image or publishes a release",
                    "Add a job that runs after the tests on the main branch (`needs: [test]`, "
                    "`if: github.ref == 'refs/heads/main'`) and pushes the image "
                    "(`docker/build-push-action` with `push: true`) or deploys (`kubectl apply`, `helm upgrade`), "
                    "with an `environment:` so it is recorded.",
                ),
            )
        )
    step = _first(pipelines, _SCAN)
    config = next((c for c in _SECURITY_CONFIGS if c in paths), None)
    if step is not None or config is not None:
        out.append(Outcome("ci.security-scan", "ci", evidence=f"{step.file}:{step.line}" if step else str(config)))
    else:
        out.append(
            Outcome(
                "ci.security-scan",
                "ci",
                Finding(
                    first.file,
                    first.jobs_line,
                    "nothing scans dependencies or images for known vulnerabilities",
                    "Add `.github/dependabot.yml` (or Renovate) for updates, and a scan step: "
                    "`aquasecurity/trivy-action` (`scan-type: fs`), or `pip-audit` / `npm audit --audit-level=high` "
                    "/ `govulncheck ./...`."
                    if first.kind == "github"
                    else "Add `include: [{template: Jobs/Dependency-Scanning.gitlab-ci.yml}, "
                    "{template: Jobs/SAST.gitlab-ci.yml}]`, or a job running `trivy fs .`.",
                ),
            )
        )

    for pipeline in pipelines:
        if any(_INSTALL.search(s.text) for s in pipeline.steps()):
            if _caches(pipeline):
                out.append(Outcome("ci.cache", pipeline.file))
            else:
                install = next(s for s in pipeline.steps() if _INSTALL.search(s.text))
                out.append(
                    Outcome(
                        "ci.cache",
                        pipeline.file,
                        Finding(
                            pipeline.file,
                            install.line,
                            "dependencies are installed afresh on every run",
                            "Cache them: `actions/setup-python` / `actions/setup-node` with `cache: pip` / "
                            "`cache: npm`, or `actions/cache` keyed on the lock file's hash."
                            if pipeline.kind == "github"
                            else "Add `cache: {key: {files: [<lock file>]}, paths: [<dependency directory>]}` to the "
                            "job (or `default:`).",
                        ),
                    )
                )
        if pipeline.kind != "github":
            continue
        doc = pipeline.doc
        top = doc.get("permissions")
        if _triggers(doc) == {"workflow_call"}:
            pass  # a reusable workflow's token is its caller's, and the caller's permissions bound it
        elif top == "write-all":
            out.append(
                Outcome(
                    "ci.permissions",
                    pipeline.file,
                    Finding(
                        pipeline.file,
                        doc.line_of("permissions"),
                        "`permissions: write-all` gives every job write access to everything",
                        "`permissions: {contents: read}` at the top; grant more per job where needed.",
                    ),
                )
            )
        elif top is not None or (pipeline.jobs and all("permissions" in j.data for j in pipeline.jobs)):
            out.append(Outcome("ci.permissions", pipeline.file))
        else:
            out.append(
                Outcome(
                    "ci.permissions",
                    pipeline.file,
                    Finding(
                        pipeline.file,
                        doc.line_of("on") if "on" in doc else 1,
                        "the workflow does not restrict its GITHUB_TOKEN",
                        "Add at the top level `permissions: {contents: read}`, and grant more only in the job that "
                        "needs it (e.g. `packages: write` where the image is pushed).",
                    ),
                )
            )
        for job in pipeline.jobs:
            if job.uses:
                continue  # a reusable workflow call cannot set timeout-minutes
            if "timeout-minutes" in job.data:
                out.append(Outcome("ci.timeout", f"{pipeline.file}:{job.name}"))
            else:
                out.append(
                    Outcome(
                        "ci.timeout",
                        f"{pipeline.file}:{job.name}",
                        Finding(
                            pipeline.file,
                            job.line,
                            f"job `{job.name}` has no `timeout-minutes` (GitHub's default is 360)",
                            f"Add `timeout-minutes: 15` (a bit above its usual duration) to job `{job.name}`.",
                        ),
                    )
                )
        uses = [(s.file, s.uses_line, s.uses) for s in pipeline.steps() if s.uses] + [
            (job.file, job.data.line_of("uses"), job.uses) for job in pipeline.jobs if job.uses
        ]
        for file, line, action in uses:
            if action.startswith("./"):
                continue
            subject = f"{file}:{line}"
            if action.startswith("docker://"):
                pinned = "@sha256:" in action
            else:
                pinned = bool(_SHA.match(action.rpartition("@")[2]))
            if pinned:
                out.append(Outcome("ci.pinned-actions", subject))
                continue
            repo, _, ref = action.partition("@")
            owner_repo = "/".join(repo.split("/")[:2])
            out.append(
                Outcome(
                    "ci.pinned-actions",
                    subject,
                    Finding(
                        file,
                        line,
                        f"`{action}` is pinned to a movable {'tag' if ref else 'reference'}",
                        f"`uses: {repo}@<40-character commit SHA> # {ref or 'version'}`; "
                        f"`git ls-remote https://github.com/{owner_repo} {ref or 'HEAD'}` prints it "
                        "(Dependabot keeps SHA pins up to date)."
                        if not action.startswith("docker://")
                        else f"`uses: {action.split('@')[0]}@sha256:<digest>`.",
                    ),
                )
            )
    return out


def _triggers(doc: YMap) -> set[str]:
    on = doc.get("on")
    if isinstance(on, str):
        return {on}
    if isinstance(on, YList):
        return {str(t) for t in on}
    return set(on) if isinstance(on, YMap) else set()


def text_of(pipelines: list[Pipeline]) -> list[tuple[str, int, str]]:
    """``(file, line, text)`` of every step, for the operations checks (backups)."""
    return [(s.file, s.line, s.text) for p in pipelines for s in p.steps()]


def scheduled(pipeline: Pipeline) -> bool:
    on = pipeline.doc.get("on")
    return pipeline.kind == "github" and isinstance(on, YMap) and "schedule" in on
