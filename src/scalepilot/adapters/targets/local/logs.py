"""Each replica's stdout and stderr, in a size-bounded file and the last lines in memory.

The output reaches scalepilot through a pipe rather than being written by the replica
straight into the file, for two reasons: the file can be rotated at a size bound
(``<id>.log`` → ``<id>.log.1``, so at most twice ``log_max_size`` on disk) without the
replica's cooperation, and the last lines of the current run are at hand when it crashes,
to be put into the crash event.

A failing disk must not take the replica down with it: write errors drop output (and
are logged once per run) rather than raising into the event loop.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger(__name__)

TAIL_LINES = 20
LINE_CHARS = 300
"""Lines kept for crash events are cut to this many characters (untrusted output)."""


class ReplicaLog:
    def __init__(self, path: Path, max_bytes: int, tail_lines: int = TAIL_LINES) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._tail: deque[str] = deque(maxlen=tail_lines)
        self._partial = b""
        self._file: BinaryIO | None = None
        self._size = 0
        self._failed = False

    def begin(self, header: str) -> None:
        """A new run of the replica: forget the previous run's tail, mark the file."""
        self._tail.clear()
        self._partial = b""
        self._failed = False
        self._append(f"--- scalepilot: {header}\n".encode())

    def write(self, fd: int, data: bytes) -> None:
        self._append(data)
        lines = (self._partial + data).split(b"\n")
        self._partial = lines.pop()[-LINE_CHARS * 4 :]
        for line in lines:
            self._tail.append(line.decode("utf-8", "replace").rstrip("\r")[:LINE_CHARS])

    def last_lines(self) -> list[str]:
        """The last lines of the current run, the unterminated one included."""
        out = list(self._tail)
        if self._partial:
            out.append(self._partial.decode("utf-8", "replace")[:LINE_CHARS])
        return out[-(self._tail.maxlen or TAIL_LINES) :]

    def close(self) -> None:
        if self._file is not None:
            with contextlib.suppress(OSError):
                self._file.close()
            self._file = None

    def _append(self, data: bytes) -> None:
        try:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("ab")
                self._size = self._file.tell()
            if self._max_bytes and self._size + len(data) > self._max_bytes and self._size > 0:
                self._file.close()
                self._file = None
                self.path.replace(self.path.with_name(self.path.name + ".1"))
                self._file = self.path.open("ab")
                self._size = 0
            self._file.write(data)
            self._file.flush()
            self._size += len(data)
        except OSError as exc:
            if not self._failed:
                log.warning("cannot write the replica log %s, dropping output: %s", self.path, exc)
            self._failed = True
