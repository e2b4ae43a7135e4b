"""The README tells the truth: its example config is valid, and its test command is the
one CI runs.

Covers: the YAML block under "Configuration" loads without errors (every key in it
exists and every value is accepted); .ci/run ends with the README's test command.
"""

from __future__ import annotations

import re
from pathlib import Path

from scalepilot.config.loader import load_text

ROOT = Path(__file__).resolve().parents[2]


def test_readme_config_example_is_valid() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Configuration") :]
    block = re.search(r"```yaml\n(.*?)```", section, re.S)
    assert block is not None
    config = load_text(block.group(1), "README.md")
    assert [s.name for s in config.services] == ["shop", "checkout", "api"]
    assert config.services[0].autoscaling is not None and config.services[1].autoscaling is not None


def test_ci_runs_the_readme_test_command() -> None:
    readme = (ROOT / "README.md").read_text()
    commands = re.findall(r"```sh\n(.*?)\n```", readme, re.S)
    test_command = next(c for c in commands if "pytest" in c)
    assert (ROOT / ".ci" / "run").read_text().rstrip().endswith(test_command)
