"""Shared fixtures: real engines, real photos, real indexes in temporary folders.

Photos come from what ships with the project (demo_photos), from installed packages, or are
generated here from those; LFW in ../shared is used where present and skipped with a reason
where not. In CI (FACEMATCH_REQUIRE_ALL_TESTS=1, set by .ci/run) nothing may skip: a test that
lacks ../shared, Chromium or a test tool fails with the same reason instead.
"""

from __future__ import annotations

import html
import io
import os
import re
from importlib import resources
from pathlib import Path
from typing import NoReturn

import numpy as np
import pytest
from PIL import Image

from facematch import demo
from facematch.app import serve
from facematch.engines import get_engine

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared"
LFW = SHARED / "data" / "lfw"


#: Set to 1 by .ci/run: CI always has ../shared, Chromium and the test extras, so a test that would skip
#: for want of one of them must fail there, or a missing data set would pass CI unnoticed.
REQUIRE_ALL = "FACEMATCH_REQUIRE_ALL_TESTS"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test for want of something outside the project; fail instead where REQUIRE_ALL is set (CI)."""
    if os.environ.get(REQUIRE_ALL) == "1":
        pytest.fail(f"{reason} [{REQUIRE_ALL}=1: every test must run here]", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def package_image(package: str, rel: str) -> Path:
    return Path(str(resources.files(package).joinpath(rel)))


@pytest.fixture(scope="session")
def t1_path() -> Path:
    """insightface's sample group photo: six different people."""
    return package_image("insightface", "data/images/t1.jpg")


@pytest.fixture(scope="session")
def demo_dir() -> Path:
    return demo.DEMO_DIR


@pytest.fixture(scope="session")
def lfw() -> Path:
    if not (LFW / "images").is_dir() or not (LFW / "pairs.txt").is_file():
        skip_or_fail(f"LFW subset not found at {LFW} (it lives in ../shared, outside the project)")
    return LFW


@pytest.fixture(scope="session")
def sface():
    return get_engine("sface")


@pytest.fixture(scope="session")
def dlib_engine():
    return get_engine("dlib")


@pytest.fixture(scope="module")
def app_index(tmp_path_factory) -> Path:
    """The demo archive with its records, indexed once per test module that drives the app."""
    from facematch.indexing import index_folder

    idx = tmp_path_factory.mktemp("app") / "index"
    index_folder(
        demo.build_gallery(idx / "photos"), idx, "sface", workers=1, records_csv=demo.records_csv(), progress=False
    )
    return idx


@pytest.fixture
def app(app_index, monkeypatch):
    """The real workbench (what `facematch app` runs) in Streamlit's AppTest, on the demo index, after its first run."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FACEMATCH_INDEX", str(app_index))
    at = AppTest.from_file(str(serve.APP), default_timeout=180)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def ok(at) -> None:
    """The app ran without an exception (an AppTest run records them instead of raising)."""
    assert not at.exception, [e.value for e in at.exception]


def save_facts(at, case_id: int, names: str = "", born: str = "", county: str = "", notes: str = "") -> None:
    """Fill in and save "what the family knows" for a case, as a person would."""
    at.text_area(key=f"facts_names_{case_id}").input(names)
    at.text_input(key=f"facts_born_{case_id}").input(born)
    at.text_input(key=f"facts_county_{case_id}").input(county)
    at.text_area(key=f"facts_notes_{case_id}").input(notes)
    next(b for b in at.button if b.label == "Save what the family knows").click()
    at.run()
    ok(at)


def shown(text: str) -> str:
    """What a person reads from a Markdown string the app wrote: its backslash escapes undone (the app escapes every
    character Markdown could read as markup, and keeps an address from becoming a link with a word joiner: text.py)."""
    return re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", str(text)).replace("\u2060", "")  # and the invisible word joiner


def html_text(body: str) -> str:
    """The text of an st.html element (style blocks dropped, tags removed, entities read)."""
    body = re.sub(r"<style.*?</style>", "", body, flags=re.S)
    return html.unescape(re.sub(r"<br>", "\n", re.sub(r"<(?!br>)[^>]+>", "", body)))


def raw_texts(at) -> str:
    """Everything an AppTest page says, as the app wrote it (Markdown escapes and HTML included)."""
    parts = [m.value for m in at.markdown] + [c.value for c in at.caption] + [t.value for t in at.title]
    parts += [x.value for x in at.success] + [x.value for x in at.info] + [x.value for x in at.warning]
    parts += [x.value for x in at.error] + [s.value for s in at.subheader]
    parts += [h.value for h in at.get("html")]
    return "\n".join(str(p) for p in parts)


_READ = {"Markdown", "Caption", "Title", "Subheader", "Header", "Success", "Info", "Warning", "Error"}


def texts(at) -> str:
    """Everything an AppTest page says, as one string in the page's order (main part, then the side panel), as a
    person reads it: Markdown escapes undone, HTML lines as their text."""
    out: list[str] = []

    def walk(node) -> None:
        kind = type(node).__name__
        if kind == "Html":
            if "<style" not in node.value:
                out.append(html_text(node.value))
        elif kind in _READ:
            out.append(shown(node.value))
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    walk(at.sidebar)
    return "\n".join(out)


def rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"))


def variants(dest: Path, n: int) -> list[Path]:
    """n distinct real photos made from the demo photos (crops, scales, mirror), as JPEG files.

    Each has a different sha256, a real face, and a deterministic content.
    """
    dest.mkdir(parents=True, exist_ok=True)
    sources = [
        demo.DEMO_DIR / "gallery" / "obama.jpg",
        demo.DEMO_DIR / "gallery" / "biden.jpg",
        package_image("skimage", "data/astronaut.png"),
        package_image("insightface", "data/images/t1.jpg"),
    ]
    base = [Image.open(p).convert("RGB") for p in sources]
    out = []
    for i in range(n):
        im = base[i % len(base)]
        k = i // len(base)
        w, h = im.size
        m = 0.02 * (k % 5)
        im2 = im.crop((int(w * m), int(h * m), w - int(w * m), h - int(h * m)))
        scale = 1.0 - 0.08 * (k % 4)
        im2 = im2.resize((max(64, int(im2.width * scale)), max(64, int(im2.height * scale))))
        if k % 2:
            im2 = im2.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        buf = io.BytesIO()
        im2.save(buf, "JPEG", quality=90 - (k % 7))
        p = dest / f"v{i:03d}.jpg"
        p.write_bytes(buf.getvalue())
        out.append(p)
    return out
