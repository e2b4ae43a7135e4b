"""What every channel's notifier offers, and what it is built from."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from scalepilot.adapters.notify.message import Message
from scalepilot.config.alertmanager import GlobalConfig


@dataclass(frozen=True, slots=True)
class NotifierContext:
    global_config: GlobalConfig
    base_dir: Path
    """Relative ``*_file`` paths are resolved against the config file's directory."""
    user_agent: str


class Notifier(Protocol):
    async def send(self, message: Message) -> None:
        """Deliver one notification; raise :class:`~.errors.NotifyError` if it was not
        accepted. Must be safe to call again with the same message (a retry)."""
        ...

    async def aclose(self) -> None: ...
