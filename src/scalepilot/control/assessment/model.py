"""What an assessment is made of, and the grading rule.

A *check* judges *subjects* (a Dockerfile, a compose service, a container, a workflow
job...): each subject passes or yields one finding. A check with no subject is n/a, one
with any finding fails, otherwise it passes. Categories and the overall grade are
computed from the checks' statuses by ``grade_category`` and ``overall`` — the rule is
``RULE``, quoted verbatim in the docs and in ``scalepilot assess --help``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum


class Severity(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


WEIGHTS: dict[Severity, int] = {Severity.HIGH: 3, Severity.MEDIUM: 2, Severity.LOW: 1}
"""A high check counts three times a low one: a literal password or a pod without a
readiness probe hurts more than a missing ``.dockerignore``."""


class Status(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NA = "n/a"


GRADES: tuple[tuple[str, float], ...] = (("A", 90.0), ("B", 80.0), ("C", 70.0), ("D", 60.0), ("F", 0.0))
"""The lowest score of each grade: the usual school scale, so nobody needs a legend."""

NA = "n/a"

RULE = (
    "A check passes when nothing it applies to fails it, and is n/a when the repository has "
    "nothing it applies to. A category's score is the severity-weighted share of its applicable "
    "checks that pass (high 3, medium 2, low 1), from 0 to 100; a category without an applicable "
    "check is n/a, not F. Grades: A >= 90, B >= 80, C >= 70, D >= 60, F below. The overall score "
    "is the mean of the graded categories' scores, graded the same way."
)

STATIC_NOTE = (
    "A static reading of the repository's files: nothing was built, run or measured, so this "
    "says how the infrastructure is written, not how the running system behaves."
)


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem, where it is written and what to write instead."""

    file: str
    line: int
    message: str
    recommendation: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """One subject judged by one check: passed (``finding`` is None) or not."""

    check: str
    subject: str
    finding: Finding | None = None
    evidence: str = ""
    """For a pass that rests on something found (``ci.yml:12 pytest``), where it is."""


@dataclass(frozen=True, slots=True)
class CheckSpec:
    id: str
    category: str
    severity: Severity
    title: str
    why: str
    applies_to: str
    """What the check judges, for the n/a explanation ("Dockerfiles that install packages")."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    spec: CheckSpec
    status: Status
    findings: tuple[Finding, ...]
    subjects: int
    detail: str


@dataclass(frozen=True, slots=True)
class CategoryResult:
    name: str
    checks: tuple[CheckResult, ...]
    score: float | None
    grade: str

    @property
    def applicable(self) -> int:
        return sum(1 for c in self.checks if c.status is not Status.NA)

    @property
    def passed(self) -> int:
        return sum(1 for c in self.checks if c.status is Status.PASS)


@dataclass(frozen=True, slots=True)
class FileEntry:
    """A file that was read, what it was read as, and what it declares."""

    file: str
    kind: str
    objects: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Note:
    """Something found and deliberately not read (a Helm template, a Jenkinsfile...)."""

    file: str
    message: str


@dataclass(frozen=True, slots=True)
class Assessment:
    files: tuple[FileEntry, ...]
    problems: tuple[Finding, ...]
    """Files that could not be parsed (malformed YAML), each at the parser's line."""
    notes: tuple[Note, ...]
    categories: tuple[CategoryResult, ...]
    score: float | None
    grade: str
    sources_scanned: int = 0

    def category(self, name: str) -> CategoryResult:
        return next(c for c in self.categories if c.name == name)

    def check(self, check_id: str) -> CheckResult:
        return next(r for c in self.categories for r in c.checks if r.spec.id == check_id)


def grade_for(score: float | None) -> str:
    if score is None:
        return NA
    return next(grade for grade, floor in GRADES if score >= floor)


def grade_rank(grade: str) -> int:
    """A → 4 … F → 0, for ``--fail-under``. Raises ValueError for anything else."""
    letters = [g for g, _ in GRADES]
    upper = grade.strip().upper()
    if upper not in letters:
        raise ValueError(f"not a grade: {grade!r} (use one of {', '.join(letters)})")
    return len(letters) - 1 - letters.index(upper)


def judge(spec: CheckSpec, outcomes: Sequence[Outcome]) -> CheckResult:
    """The check's status from its subjects' outcomes."""
    if not outcomes:
        return CheckResult(spec, Status.NA, (), 0, f"nothing to check: no {spec.applies_to}")
    findings = tuple(
        sorted(
            {o.finding for o in outcomes if o.finding is not None},
            key=lambda f: (f.file, f.line, f.message),
        )
    )
    subjects = len({o.subject for o in outcomes})
    failed = len({o.subject for o in outcomes if o.finding is not None})
    if findings:
        return CheckResult(spec, Status.FAIL, findings, subjects, f"{failed} of {subjects} failed")
    evidence = sorted({o.evidence for o in outcomes if o.evidence})
    detail = f"{subjects} checked, all pass" if subjects > 1 else "passes"
    if evidence:
        more = f" (+{len(evidence) - 3} more)" if len(evidence) > 3 else ""
        detail += ": " + "; ".join(evidence[:3]) + more
    return CheckResult(spec, Status.PASS, (), subjects, detail)


def grade_category(name: str, checks: Sequence[CheckResult]) -> CategoryResult:
    total = sum(WEIGHTS[c.spec.severity] for c in checks if c.status is not Status.NA)
    if total == 0:
        return CategoryResult(name, tuple(checks), None, NA)
    passed = sum(WEIGHTS[c.spec.severity] for c in checks if c.status is Status.PASS)
    score = round(100.0 * passed / total, 1)
    return CategoryResult(name, tuple(checks), score, grade_for(score))


def overall(categories: Sequence[CategoryResult]) -> tuple[float | None, str]:
    scores = [c.score for c in categories if c.score is not None]
    if not scores:
        return None, NA
    score = round(sum(scores) / len(scores), 1)
    return score, grade_for(score)
