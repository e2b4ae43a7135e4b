#!/usr/bin/env bash
# Start the bundled example shop API (with a little traffic of its own) and scalepilot
# watching it and itself. Ctrl-C stops both.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${VENV:-.venv}/bin"
# The app runs in its own session so Ctrl-C reaches scalepilot alone; the app is stopped
# after scalepilot has finished, so its last probe does not see the app going away.
setsid "$bin/python" -m scalepilot.examples.shop --port 8431 --self-traffic 20 &
app=$!
trap 'kill "$app" 2>/dev/null || true; wait "$app" 2>/dev/null || true' EXIT
"$bin/scalepilot" run -c examples/scalepilot.yaml "$@"
