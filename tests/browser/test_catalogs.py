"""The dashboard's string catalogs (no browser needed).

Covers: en.json and tr.json have exactly the same keys, none empty, with the same
``{placeholders}``; every key the scripts name literally (``t("...")``, ``data-i18n``)
exists; the Turkish catalog is Turkish (its own letters, not a copy of the English).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from scalepilot.faces.web import STATIC_DIR

CATALOGS = {
    lang: json.loads((STATIC_DIR / "i18n" / f"{lang}.json").read_text(encoding="utf-8")) for lang in ("en", "tr")
}


def test_same_keys_and_none_empty() -> None:
    en, tr = CATALOGS["en"], CATALOGS["tr"]
    assert sorted(en) == sorted(tr), {"only en": set(en) - set(tr), "only tr": set(tr) - set(en)}
    for lang, catalog in CATALOGS.items():
        empty = [k for k, v in catalog.items() if not isinstance(v, str) or not v.strip()]
        assert not empty, f"{lang}: empty strings for {empty}"


def test_placeholders_match() -> None:
    names = re.compile(r"\{(\w+)\}")
    for key, text in CATALOGS["en"].items():
        assert set(names.findall(text)) == set(names.findall(CATALOGS["tr"][key])), key


def test_every_literal_key_used_exists() -> None:
    used: set[str] = set()
    for path in [*STATIC_DIR.glob("js/**/*.js"), STATIC_DIR / "index.html"]:
        text = Path(path).read_text(encoding="utf-8")
        used |= set(re.findall(r'\bt\("([\w.]+)"', text))
        used |= set(re.findall(r'data-i18n(?:-aria)?="([\w.]+)"', text))
    missing = sorted(used - set(CATALOGS["en"]))
    assert not missing, missing


def test_turkish_is_turkish() -> None:
    tr = CATALOGS["tr"]
    assert tr["nav.overview"] == "Genel bakış"
    assert tr["nav.alerts"] == "Uyarılar"
    assert tr["status.healthy"] == "Sağlıklı"
    letters = set("".join(tr.values()))
    assert set("çğıİöşü") <= letters | {"İ"}, set("çğıİöşü") - letters
    same = [k for k, v in tr.items() if v == CATALOGS["en"][k] and re.search(r"[a-z]{4,}", v)]
    assert len(same) < 15, same
