"""What people typed and what records say is shown as text, never as Markdown or HTML (issue 22, item 7; issue 24,
item 4): a case name `![x](http://...)` must not make a browser fetch anything, a link must not become a link, and
a Chinese label must not show its asterisks. Payloads go into every field a person types or a record supplies (case
name, family names, county, notes, an uploaded file's name, a decision note, a reviewer's name, archive record
fields) and the page is read through AppTest: each payload appears literally, and no Markdown element holds it
unescaped. The same is checked once in a real Chromium in test_browser_text.py (no request leaves localhost)."""

from __future__ import annotations

import re

import pytest
from streamlit.testing.v1 import AppTest

from conftest import ok, raw_texts, save_facts, shown, texts
from facematch import demo, i18n
from facematch.app import serve
from facematch.index import Index
from facematch.records import import_file
from facematch.review import Review

HOST = "127.0.0.1:9"  # nothing listens there; the browser test uses its own listener
PAYLOADS = {
    "image": f"![x](http://{HOST}/img.png)",
    "link": f"[click here](http://{HOST}/phish)",
    "html": f"<img src=http://{HOST}/tag.png> <b>bold</b>",
    "heading": "# Heading",
    "table": "| a | b |\n|---|---|\n| 1 | 2 |",
    "colour": ":red[red] $x^2$ **bold**",
}


FILE_NAME = "<img src=x onerror=alert(1)> [f](x) **photo**.jpg"  # an uploaded file's name (no slashes: a name)


def obama3_id() -> str:
    """The face id of obama3.jpg (the photo the hostile record names), as the candidate buttons end."""
    import os

    with Index.open(os.environ["FACEMATCH_INDEX"]) as index:
        row = (
            index.db.read()
            .execute("SELECT f.id FROM faces f JOIN photos p ON p.id = f.photo_id WHERE p.filename = 'obama3.jpg'")
            .fetchone()
        )
    return f"_{row[0]}"


def check_elements(at) -> None:
    """No Markdown element holds a payload unescaped; the HTML lines hold no tag but ours."""
    for element in [*at.markdown, *at.caption, *at.title, *at.info, *at.success, *at.warning, *at.error,
                    *at.subheader, *at.button]:  # fmt: skip
        value = getattr(element, "value", None) if not hasattr(element, "label") else element.label
        for payload in [*PAYLOADS.values(), FILE_NAME]:
            assert not unescaped(str(value), payload), value
    for h in at.get("html"):
        assert "<img" not in h.value and "<b>" not in h.value and "href" not in h.value


def unescaped(raw: str, payload: str) -> bool:
    """Does a Markdown string hold the payload's markup unescaped (e.g. `![x](` or `[click here](`)?"""
    marks = [
        "![x](",
        "[click here](",
        "<img",
        "<b>",
        "# Heading",
        "|---|",
        ":red[",
        "**bold**",
        "$x^2$",
        "[f](",
        "**photo**",
    ]
    return any(m in payload and re.search(r"(?<!\\)" + re.escape(m), raw) for m in marks)


@pytest.fixture(scope="module")
def hostile_index(app_index):
    """An archive record whose fields are payloads too (records come from leaks: anything may be in them)."""
    import csv

    path = app_index.parent / "hostile_records.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["record_id", "photo", "name", "county", "charge"])
        w.writerow(["HOSTILE-1", "obama3.jpg", PAYLOADS["link"], PAYLOADS["image"], PAYLOADS["html"]])
    with Index.open(app_index) as index:
        import_file(index, path)
    return app_index


def test_every_typed_or_recorded_text_is_shown_as_text(hostile_index, monkeypatch):
    monkeypatch.setenv("FACEMATCH_INDEX", str(hostile_index))
    at = AppTest.from_file(str(serve.APP), default_timeout=180)
    at.run()
    reviewer = PAYLOADS["link"]
    at.sidebar.text_input(key="reviewer").input(reviewer)
    name = PAYLOADS["image"] + " " + PAYLOADS["heading"]
    at.sidebar.text_input(key="new_case_name").input(name)
    next(b for b in at.sidebar.button if b.label == "Create case").click()
    at.run()
    ok(at)
    (case,) = [c for c in Review(Index.open(hostile_index)).cases() if c.name == name]
    save_facts(at, case.id, names=PAYLOADS["link"] + "\nBarack Obama", county=PAYLOADS["image"],
               notes=PAYLOADS["table"] + "\n" + PAYLOADS["colour"])  # fmt: skip
    ok(at)
    at.file_uploader[0].set_value([(FILE_NAME, demo.query_photo().read_bytes(), "image/jpeg")])
    at.run()
    ok(at)
    pages = [at]
    seen = [texts(at)]
    record_card = next(b for b in at.button if b.key and b.key.startswith("cmp_") and b.key.endswith(obama3_id()))
    record_card.click()
    at.run()
    ok(at)
    seen.append(texts(at))  # the compare panel: the archive record's fields, the file name
    check_elements(at)
    at.radio(key="decision").set_value("unsure")
    at.text_input(key="decision_note").input(PAYLOADS["image"] + " " + PAYLOADS["link"])
    next(b for b in at.button if b.label == "Record decision").click()
    at.run()
    ok(at)
    seen.append(texts(at))
    check_elements(at)
    t = "\n".join(seen)
    for what, payload in [*PAYLOADS.items(), ("file name", FILE_NAME)]:  # each appears as typed, in full
        for line in payload.split("\n"):
            assert line in t, (what, line)
    assert t.count(reviewer) >= 1 and pages
    # the start page's buttons carry case names too
    at.session_state["case_select"] = None
    at.run()
    button = next(b for b in at.button if b.key == f"open_{case.id}")
    assert shown(button.label) == name and "\\!\\[x\\]" in button.label


def test_a_chinese_label_is_not_markdown(app, app_index):
    """Issue 24 (4): `**姓名：**Ablikim` showed its asterisks (a bold run does not close after a full-width colon
    followed by a letter). Labels and values are HTML built from escaped text, in every language."""
    with Index.open(app_index) as index:
        rv = Review(index)
        case = rv.create_case("Ablikim")
        rv.set_facts(case.id, names=["Ablikim Ahmat"], birth_year="1979", birth_year_margin=2, county="Ghulja",
                     notes="He worked (1998-2016)")  # fmt: skip
    at = AppTest.from_file(str(serve.APP), default_timeout=180)
    at.query_params["lang"] = "zh_Hans"
    at.query_params["case"] = str(case.id)
    at.run()
    ok(at)
    raw = raw_texts(at)
    assert "**" not in raw.replace("\\*", "")
    t = texts(at)
    with i18n.language("zh_Hans"):
        label = i18n._("Names:")
    assert label != "Names:" and f"{label} Ablikim Ahmat" in t
    assert re.search(r'<span class="fm-label">[^<]+</span> <bdi>Ablikim Ahmat</bdi>', raw)
