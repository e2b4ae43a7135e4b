"""PromQL conformance report: scalepilot's engine against a real Prometheus, same samples.

Runs exactly what ``tests/integration/test_promql_conformance.py`` runs (see
``tests/integration/conformance/`` for the data set, the corpus and the rules of
comparison) and prints the agreement rate and every difference — the query, the time,
what differs, and both answers truncated — then the excluded cases with their reasons.

    .venv/bin/python bench/conformance_report.py
    .venv/bin/python bench/conformance_report.py --seed 7 --width 2000   # another data set, full answers
    .venv/bin/python bench/conformance_report.py --group histogram        # one family of queries
    .venv/bin/python bench/conformance_report.py --query-seed 9 --group random   # other random queries

Needs Debian's ``prometheus`` and ``promtool`` (``/usr/bin``). Exit status 0 when every
counted evaluation agrees, 1 otherwise.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.integration.conformance

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from tests.integration.conformance.harness import run_conformance
from tests.integration.conformance.query_gen import corpus
from tests.integration.conformance.series_gen import DEFAULT_SEED


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="data set seed")
    parser.add_argument("--query-seed", type=int, default=None, help="seed of the random part of the corpus")
    parser.add_argument("--group", action="append", default=[], help="only queries of this group (repeatable)")
    parser.add_argument("--width", type=int, default=400, help="characters of each answer to print")
    parser.add_argument("--prometheus", default=shutil.which("prometheus") or "/usr/bin/prometheus")
    parser.add_argument("--promtool", default=shutil.which("promtool") or "/usr/bin/promtool")
    args = parser.parse_args()

    cases = [c for c in corpus(args.query_seed) if not args.group or c.group in args.group]
    console = Console(stderr=True)
    with (
        tempfile.TemporaryDirectory(prefix="conformance-") as tmp,
        Progress(
            TextColumn("evaluating"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        task = progress.add_task("evaluating", total=None)

        def step(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        report = run_conformance(
            Path(tmp),
            prometheus=args.prometheus,
            promtool=args.promtool,
            seed=args.seed,
            cases=cases,
            progress=step,
        )
    print(report.render(width=args.width))
    return 0 if not report.differences else 1


if __name__ == "__main__":
    sys.exit(main())
