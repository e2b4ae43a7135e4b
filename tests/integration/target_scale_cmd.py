"""A stand-in for ``kubectl scale`` / ``kubectl get`` in the command target tests.

Usage::

    python target_scale_cmd.py scale STATE_FILE --replicas=N [--fail-first K] [--sleep S] [ANY...]
    python target_scale_cmd.py status STATE_FILE [--ready R] [--garbage]

``scale`` writes N to STATE_FILE and its whole argv, as JSON, to
``STATE_FILE.args``. With ``--fail-first K`` the first K invocations (counted in
``STATE_FILE.attempts``) print ``api unavailable (attempt N)`` to stderr and exit 1.
With ``--sleep S`` it writes its pid to ``STATE_FILE.pid`` and sleeps S seconds first.

``status`` prints the replicas in STATE_FILE (nothing if it does not exist, as kubectl's
jsonpath prints nothing for zero), followed by R if ``--ready R`` is given;
``--garbage`` prints something that is not a count.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("action", choices=["scale", "status"])
    parser.add_argument("state", type=Path)
    parser.add_argument("--replicas")
    parser.add_argument("--fail-first", type=int, default=0)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--ready", default=None)
    parser.add_argument("--garbage", action="store_true")
    args, _ = parser.parse_known_args()
    state: Path = args.state
    if args.action == "status":
        if args.garbage:
            print("replicas: three")
        elif state.exists():
            print(state.read_text().strip(), *([args.ready] if args.ready else []))
        return
    attempts_file = state.with_name(state.name + ".attempts")
    attempt = int(attempts_file.read_text()) + 1 if attempts_file.exists() else 1
    attempts_file.write_text(str(attempt))
    if attempt <= args.fail_first:
        print(f"api unavailable (attempt {attempt})", file=sys.stderr)
        sys.exit(1)
    if args.sleep:
        state.with_name(state.name + ".pid").write_text(str(os.getpid()))
        time.sleep(args.sleep)
    state.with_name(state.name + ".args").write_text(json.dumps(sys.argv))
    state.write_text(args.replicas)
    print(f"deployment.apps/shop scaled to {args.replicas}")


if __name__ == "__main__":
    main()
