"""Shared fixtures: real engines, real photos, real indexes in temporary folders.

Photos come from what ships with the project (demo_photos) or are generated here from those; LFW in
../shared is used where present and skipped with a reason where not. In CI (FACEMATCH_REQUIRE_ALL_TESTS=1, set
by .ci/run) nothing may skip: a test that lacks ../shared, Chromium or a test tool fails with the same reason.

Two runs: `pytest` runs every behaviour once, fast (a few minutes on 2 cores); `pytest --all` adds the slow
tests (SLOW below: whole LFW searches, kill-and-resume loops, every language in a real browser, Ray, HTTPS,
OIDC), which CI runs.
"""

from __future__ import annotations

import html
import io
import os
import re
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


#: The slow tests, by node id, with what they cost when chosen (seconds of a full run on 2 loaded cores, where
#: the whole suite took 43 min; about a quarter of that on a quiet machine). One place, so the fast run's
#: cover is visible: each slow test's behaviour is also exercised, on less data, by a fast one.
SLOW = {
    "test_lfw_search.py::test_lfw_rank1": 321,  # all of LFW searched with sface and dlib
    "test_calibration.py::test_the_shipped_sface_table_is_what_the_default_pipeline_measures_on_lfw_now": 300,
    "test_strangers.py::test_east_asian_layout": 232,  # east-asian-dev embedded and its stranger layout counted
    # the same embedded folder (72 s of fixture): its pinned check and `evaluate calibrate` on it; the check itself
    # runs fast on synthetic archives (test_synthetic_*) and `evaluate calibrate` on LFW people (test_calibration)
    "test_strangers.py::test_east_asian_stranger_check_pinned": 10,
    "test_strangers.py::test_evaluate_calibrate_on_east_asian_prints_the_check": 5,
    "test_resume.py::test_ten_sigkills_then_resume_give_the_uninterrupted_result": 172,
    "test_privacy.py::test_index_search_evaluate_check_backup_and_app_make_no_connection_and_write_only_where_asked": (
        139
    ),
    "test_workers.py::test_a_photo_that_kills_its_worker_twice_is_an_error_and_everything_else_is_indexed": 108,
    "test_cluster.py": 101,  # a local Ray cluster
    "test_browser_i18n.py": 96,  # the browser flow in Uyghur, Turkish and Chinese (test_browser.py: English)
    "test_records.py::test_cli_records_import_and_search": 89,
    "test_upkeep.py::test_backup_while_indexing_and_deciding_is_consistent_and_restores": 65,
    "test_names.py::test_per_kind_targets_on_the_held_out_half": 58,
    "test_oidc.py": 49,  # a real OpenID Connect provider
    "test_link.py::test_ray_gives_the_same_pairs_as_one_machine": 48,
    "test_team.py::test_users_cli_reads_passwords_from_stdin_never_argv": 45,
    "test_https.py": 42,  # Caddy in front, real TLS
    # a second team server with a 40 s idle limit, waited out (the rule itself: test_door_sessions_end_when_idle...)
    "test_security.py::test_a_session_idle_past_the_limit_opens_nothing": 62,
    "test_security.py::test_in_chromium_the_login_survives_a_reload_and_an_idle_page_leaves_the_screen": 75,
    "test_link.py::test_an_index_of_two_engines_is_linked_per_engine": 35,
    "test_link.py::test_decisions_survive_reindexing": 34,
    "test_install.py": 34,  # a wheel built and installed
    "test_scale.py::test_cli_approximate_index_on_real_photos_finds_the_same_person_with_exact_scores": 60,
    "test_reindex.py": 26,
    "test_decisions_durable.py::test_a_writer_killed_mid_decision_leaves_whole_decisions_only": 25,
    "test_accuracy_lfw.py": 23,
    "test_hostile.py::test_every_hostile_file_is_reported_or_indexed_and_the_batch_goes_on": 19,
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--all", action="store_true", help="also run the slow tests (conftest.SLOW); CI does")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the SLOW tests and, without --all (or an explicit -m), leave them out of the run."""
    matched: set[str] = set()
    for item in items:
        file_and_test = item.nodeid.split("/")[-1].split("[")[0]
        for key in (file_and_test, file_and_test.split("::")[0]):
            if key in SLOW:
                item.add_marker(pytest.mark.slow)
                matched.add(key)
    files = {item.nodeid.split("/")[-1].split("::")[0] for item in items}
    unknown = sorted(k for k in set(SLOW) - matched if k.split("::")[0] in files and not config.getoption("-k"))
    if unknown:  # a renamed test must not drop out of the slow set unnoticed
        raise pytest.UsageError(f"conftest.SLOW names tests that do not exist: {unknown}")
    if config.getoption("--all") or config.getoption("-m"):
        return
    fast = [i for i in items if i.get_closest_marker("slow") is None]
    if len(fast) < len(items):
        config.hook.pytest_deselected(items=[i for i in items if i.get_closest_marker("slow") is not None])
        items[:] = fast


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test for want of something outside the project; fail instead where REQUIRE_ALL is set (CI)."""
    if os.environ.get(REQUIRE_ALL) == "1":
        pytest.fail(f"{reason} [{REQUIRE_ALL}=1: every test must run here]", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def demo_photo(name: str) -> Path:
    """A photo of the committed demo gallery (demo_photos/SOURCES.md), e.g. the group photo t1.jpg."""
    return demo.DEMO_DIR / "gallery" / name


@pytest.fixture(scope="session")
def t1_path() -> Path:
    """The demo's group photo (insightface's sample t1.jpg): six different people."""
    return demo_photo("t1.jpg")


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
        demo_photo("astronaut.png"),
        demo_photo("t1.jpg"),
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
