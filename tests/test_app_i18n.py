"""The workbench's languages through Streamlit's AppTest (real app, model and demo index), and the shipped fonts.

The browser side (the flow in ug/tr/zh_Hans, no English left, right to left on a phone, the picker and a reload)
is tests/test_browser_i18n.py; team accounts remembering their language is tests/test_app_team.py."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from streamlit.testing.v1 import AppTest

from conftest import ok, texts
from facematch import fonts, i18n
from facematch.app import serve
from facematch.i18n import _

ROOT = Path(__file__).resolve().parents[1]


def app_in(app_index, monkeypatch, lang: str | None) -> AppTest:
    monkeypatch.setenv("FACEMATCH_INDEX", str(app_index))
    at = AppTest.from_file(str(serve.APP), default_timeout=180)
    if lang is not None:
        at.query_params["lang"] = lang
    at.run()
    ok(at)
    return at


def test_the_fonts_ship_with_their_licence_and_every_declared_file_exists():
    css = (fonts.FOLDER / "fonts.css").read_text(encoding="utf-8")
    files = re.findall(r"url\(\./([^)]+)\)", css)
    assert len(files) == 103  # Noto Sans Arabic 400 + 700, Noto Sans SC 400 in 101 unicode-range slices
    assert all((fonts.FOLDER / f).is_file() for f in files)
    assert {p.name for p in fonts.FOLDER.glob("*.woff2")} == set(files)  # nothing shipped that is not used
    size = sum((fonts.FOLDER / f).stat().st_size for f in files)
    assert 2.5e6 < size < 3.0e6  # measured: 2.8 MB (README, docs/fonts.md)
    for licence in ("OFL-NotoSansArabic.txt", "OFL-NotoSansSC.txt"):
        assert "SIL Open Font License, Version 1.1" in (fonts.FOLDER / licence).read_text()
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["facematch"]
    assert "app/static/fonts/*" in data  # a plain `pip install .` has them (Streamlit serves app/static)
    assert serve.SETTINGS["server.enableStaticServing"] == "true"  # and the server serves them
    page_css = fonts.css("app/static/fonts")
    assert '@import url("app/static/fonts/fonts.css")' in page_css
    assert "'facematch Noto Sans Arabic'" in page_css and "'facematch Noto Sans SC'" in page_css


def test_the_app_speaks_uyghur_right_to_left_with_names_isolated(app_index, monkeypatch):
    at = app_in(app_index, monkeypatch, "ug")
    with i18n.language("ug"):
        assert _("Search an archive for a missing relative") in texts(at)
        assert _("The tool suggests candidates. People decide.") in texts(at)
    styles = "\n".join(str(h.proto.body) for h in at.get("html"))
    assert "direction: rtl" in styles and "facematch Noto Sans Arabic" in styles
    assert at.query_params["lang"] == ["ug"] or at.query_params["lang"] == "ug"
    at.text_input(key="new_case_main").input("Alim Ahmat, 1972")
    next(b for b in at.button if b.label == i18n.translations("ug").gettext("Create case")).click()
    at.run()
    ok(at)
    with i18n.language("ug"):  # the Latin name and its year keep their order inside the Uyghur title
        assert _("Case: {name}", name="\u2068Alim Ahmat, 1972\u2069") in texts(at)


def test_english_stays_as_it_was_and_an_unknown_language_is_english(app_index, monkeypatch):
    at = app_in(app_index, monkeypatch, "xx")
    t = texts(at)
    assert "Search an archive for a missing relative" in t and "\u2068" not in t
    assert at.segmented_control(key="lang").value == "en"
    styles = "\n".join(str(h.proto.body) for h in at.get("html"))
    assert "direction: rtl" not in styles and "stFileUploaderDropzoneInstructions" not in styles


def test_schema_6_adds_the_account_language_and_keeps_every_account(tmp_path):
    """An index written before schema 6 opens, gains accounts.language (NULL: not chosen) and keeps its accounts."""
    import sqlite3

    from facematch.store import db

    path = tmp_path / "old.sqlite"
    conn = sqlite3.connect(path, isolation_level=None)
    db.migrate(conn)  # a new index, at the newest schema; then made into a schema-5 one
    conn.executemany(
        "INSERT INTO accounts(name, role, pw_hash, created_at) VALUES (?, ?, 'hash', 0)",
        [("amina", "family"), ("cw", "caseworker")],
    )
    conn.execute("ALTER TABLE accounts DROP COLUMN language")
    conn.execute("UPDATE meta SET value = '5' WHERE key = 'schema_version'")
    db.migrate(conn)
    assert conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()[0] == "7"
    assert conn.execute("SELECT name, language FROM accounts ORDER BY name").fetchall() == [
        ("amina", None),
        ("cw", None),
    ]
    db.migrate(conn)  # idempotent
    assert [r[1] for r in conn.execute("PRAGMA table_info(accounts)")].count("language") == 1
