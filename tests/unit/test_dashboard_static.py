"""The dashboard's static files: the page preloads its whole module graph, and nothing
is loaded from outside the package."""

from __future__ import annotations

import re

from scalepilot.faces.web import STATIC_DIR


def test_index_preloads_every_module_the_page_imports() -> None:
    html = (STATIC_DIR / "index.html").read_text()
    preloaded = set(re.findall(r'<link rel="modulepreload" href="/ui/(js/[^"]+)">', html))
    modules = {p.relative_to(STATIC_DIR).as_posix() for p in (STATIC_DIR / "js").rglob("*.js")}
    assert preloaded == modules - {"js/main.js"}


def test_no_file_reaches_outside_the_server() -> None:
    for path in STATIC_DIR.rglob("*"):
        if path.suffix in (".html", ".js", ".css") and "vendor" not in path.parts:
            text = path.read_text()
            assert not re.search(r"(src|href)=\"https?://", text), path
            assert 'fetch("http' not in text, path
