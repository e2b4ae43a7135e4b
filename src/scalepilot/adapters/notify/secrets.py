"""Secrets from a file or an environment variable, read at each send.

Read per send, not once: a rotated token or a file mounted after start-up is picked up
without a restart, as Alertmanager does with its ``*_file`` keys. Errors name the file or
the variable, never the value.
"""

from __future__ import annotations

import os
from pathlib import Path

from scalepilot.adapters.notify.errors import SecretUnavailable


def read_secret(file: Path | None, env: str | None, base_dir: Path, what: str) -> str | None:
    if file is not None:
        path = file if file.is_absolute() else base_dir / file
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SecretUnavailable(f"{what}: cannot read {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            raise SecretUnavailable(f"{what}: {path} is not UTF-8 text") from exc
    if env is not None:
        value = os.environ.get(env)
        if not value:
            raise SecretUnavailable(f"{what}: the environment variable {env} is not set")
        return value.strip()
    return None
