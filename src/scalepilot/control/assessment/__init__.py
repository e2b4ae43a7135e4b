"""The assessment of a repository's infrastructure files: Dockerfiles, docker-compose
files, Kubernetes manifests, CI workflows, dependency files. Pure: it takes the files'
texts and paths (``service/assessment.py`` reads them) and returns graded checks with
``file:line`` findings. See docs/assessment.md.
"""

from scalepilot.control.assessment.assess import assess, kind_of
from scalepilot.control.assessment.catalog import CATEGORIES, CHECKS
from scalepilot.control.assessment.model import (
    RULE,
    STATIC_NOTE,
    Assessment,
    CategoryResult,
    CheckResult,
    Finding,
    Status,
    grade_rank,
)

__all__ = [
    "CATEGORIES",
    "CHECKS",
    "RULE",
    "STATIC_NOTE",
    "Assessment",
    "CategoryResult",
    "CheckResult",
    "Finding",
    "Status",
    "assess",
    "grade_rank",
    "kind_of",
]
