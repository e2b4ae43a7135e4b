"""Prometheus's own PromQL test scripts (``promqltest`` format), ported into
``promql_testdata/``, run against our engine: every ``eval`` is one test case, named
``file:line`` so a failure points at the script line."""

from __future__ import annotations

import pytest

from tests.unit.test_promql_support import TESTDATA, Case, read_script, run_case

CASES: list[Case] = [case for path in sorted(TESTDATA.glob("*.test")) for case in read_script(path)]


def test_scripts_have_cases() -> None:
    # A loader that silently read nothing would make every other test here vacuous.
    assert len(CASES) > 100


@pytest.mark.parametrize(
    "case",
    CASES,
    ids=[f"{path.name}:{case.line}" for path in sorted(TESTDATA.glob("*.test")) for case in read_script(path)],
)
def test_script_case(case: Case) -> None:
    run_case(case)
