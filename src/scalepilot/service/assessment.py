"""Find and read a repository's files for ``scalepilot assess``; the checks and grading
are ``control.assessment``'s.

The walk skips what is not the repository's own (``.git``, ``node_modules``,
virtualenvs — any directory holding a ``pyvenv.cfg`` —, ``dist``, ``build``, caches),
does not follow symlinks, reads only the files ``kind_of`` names and at most
files up to ``MAX_FILE_BYTES``, and stops at ``MAX_PATHS`` paths, ``MAX_READ`` files
read and ``MAX_SOURCES`` source files searched, saying so in the notes: a monorepo or a
mistaken ``assess /`` ends in seconds.
"""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from scalepilot.control.assessment import Assessment, assess, kind_of
from scalepilot.control.assessment.model import Note

SKIP_DIRS = frozenset(
    {
        ".git",
        ".hg",
        ".svn",
        "node_modules",
        ".venv",
        "venv",
        "dist",
        "build",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        ".hypothesis",
        ".tox",
        ".nox",
        ".terraform",
        ".import_linter_cache",
        "vendor",
        "bower_components",
        ".next",
        ".nuxt",
        "target",
    }
)
MAX_FILE_BYTES = 1024 * 1024
"""Larger files are skipped: no hand-written manifest is this big, and a generated one (a
bundled OpenAPI spec, a lock file) is not what is being assessed."""
MAX_PATHS = 100_000
MAX_READ = 5_000
"""Infrastructure and dependency files read at most."""
MAX_SOURCES = 3_000
"""Source files searched for health and metrics routes at most: a budget of their own, so
a large codebase cannot crowd the manifests out."""


@dataclass(slots=True)
class Collected:
    """What the walk found: every path (repository-relative, POSIX), the texts read, and
    what was skipped."""

    paths: list[str] = field(default_factory=list)
    texts: dict[str, str] = field(default_factory=dict)
    notes: list[Note] = field(default_factory=list)


def _excluded(rel: str, patterns: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(rel, p) or fnmatch.fnmatch(rel, p.rstrip("/") + "/*") for p in patterns)


def collect(root: Path, exclude: Sequence[str] = ()) -> Collected:
    """Walk ``root`` (a directory, or one file) and read the files the checks read."""
    out = Collected()
    if root.is_file():
        candidates = [(root.parent, root.name)]
        walk_root = root.parent
    else:
        candidates = []
        walk_root = root
    read = {"source": 0, "other": 0}

    def consider(directory: Path, name: str) -> None:
        full = directory / name
        rel = full.relative_to(walk_root).as_posix()
        if _excluded(rel, exclude) or full.is_symlink():
            return
        out.paths.append(rel)
        kind = kind_of(rel)
        if kind is None:
            return
        budget = "source" if kind == "source" else "other"
        limit = MAX_SOURCES if budget == "source" else MAX_READ
        if read[budget] >= limit:
            if read[budget] == limit:
                read[budget] += 1  # say it once
                what = "source files searched" if budget == "source" else "files read"
                out.notes.append(Note(rel, f"not read, nor any later: the limit of {limit} {what} was reached"))
            return
        try:
            size = full.stat().st_size
            if size > MAX_FILE_BYTES:
                # A bundled script or generated source is no loss; a manifest this big is worth saying.
                if kind != "source":
                    out.notes.append(Note(rel, f"not read: {size / 1048576:.1f} MiB, over the 1 MiB limit"))
                return
            data = full.read_bytes()
        except OSError as exc:
            out.notes.append(Note(rel, f"not read: {exc.strerror or exc}"))
            return
        read[budget] += 1
        # utf-8-sig: editors on Windows put a BOM in front of Dockerfiles and YAML.
        out.texts[rel] = data.decode("utf-8-sig", errors="replace")

    if candidates:
        for directory, name in candidates:
            consider(directory, name)
        return out

    for current, dirs, files in os.walk(walk_root, followlinks=False):
        here = Path(current)
        rel_dir = here.relative_to(walk_root).as_posix()
        dirs[:] = sorted(
            d
            for d in dirs
            if d not in SKIP_DIRS
            and not (here / d / "pyvenv.cfg").exists()
            and not _excluded(d if rel_dir == "." else f"{rel_dir}/{d}", exclude)
        )
        for name in sorted(files):
            if len(out.paths) >= MAX_PATHS:
                out.notes.append(Note(rel_dir, f"stopped after {MAX_PATHS} files; narrow it with --exclude"))
                return out
            consider(here, name)
    return out


def assess_path(root: Path, exclude: Sequence[str] = ()) -> Assessment:
    """Collect ``root``'s files and assess them. Raises FileNotFoundError when ``root``
    does not exist."""
    if not root.exists():
        raise FileNotFoundError(f"no such file or directory: {root}")
    collected = collect(root, exclude)
    result = assess(collected.texts, collected.paths)
    if collected.notes:
        result = replace(result, notes=(*collected.notes, *result.notes))
    return result
