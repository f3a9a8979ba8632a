"""The `facematch` command as a user runs it: a real process, the real demo, real output."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import demo_photo
from facematch import demo, messages


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    beside = Path(sys.executable).parent / "facematch"  # the console script of this venv
    exe = str(beside) if beside.exists() else shutil.which("facematch")
    cmd = [exe] if exe else [sys.executable, "-m", "facematch.cli"]
    return subprocess.run([*cmd, *args], capture_output=True, text=True, timeout=600, cwd=cwd)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    idx = tmp_path_factory.mktemp("cli") / "demo"
    out = run("demo", "--index", str(idx))
    assert out.returncode == 0, out.stderr
    return idx, out.stdout


def test_demo_builds_an_index_and_lists_candidates(demo_run):
    idx, stdout = demo_run
    assert "8 photo files seen: 8 read now" in stdout
    assert "11 faces found in 6 photos" in stdout
    assert "chelsea.png" in stdout and "coffee.png" in stdout  # the faceless photos, listed
    rows = re.findall(r"^\s+(\d+)\s+([0-9.]+)\s+(\S+)", stdout, re.M)
    assert [int(r[0]) for r in rows] == list(range(1, 11))
    assert {Path(rows[0][2]).name, Path(rows[1][2]).name} == {"obama.jpg", "obama3.jpg"}
    assert "uncalibrated similarity" in stdout
    assert "These are candidates, not matches" in stdout
    # nothing unreviewed is called a match: the word appears only in the caveat's own warning
    words = re.findall(r"\bmatch(?:es|ed)?\b", stdout.lower())
    assert len(words) == stdout.count("not matches") + stdout.count("confirm a match") == 2


def test_rerunning_the_demo_reads_nothing_again(demo_run):
    idx, _ = demo_run
    out = run("demo", "--index", str(idx))
    assert out.returncode == 0, out.stderr
    assert "0 read now, 8 unchanged" in out.stdout


def test_search_json_for_scripts(demo_run):
    idx, _ = demo_run
    out = run("search", str(demo.query_photo()), "--index", str(idx), "-k", "3", "--json")
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    assert set(doc) == {"engine", "gallery_faces", "score", "caveat", "queries", "candidates", "calibration"}
    assert doc["gallery_faces"] == 11 and doc["score"] == "uncalibrated similarity"
    # 11 faces: too few to count strangers from; the shipped LFW table for these scores, and it says why.
    assert doc["calibration"]["kind"] == "reference table" and "at least 500 faces" in doc["calibration"]["source"]
    assert doc["calibration"]["scores"] == (
        "cosine similarity corrected for hubness (k=10, weight 0.5; up to 6 neighbours at cosine >= 0.363 left out)"
    )
    assert [c["rank"] for c in doc["candidates"]] == [1, 2, 3]
    c = doc["candidates"][0]
    assert set(c) == {"rank", "similarity", "photo", "sha256", "box", "face_id", "records", "photo_records"} | {
        "face_number",
        "faces_in_photo",  # records per face (issue 13)
        "fpr",
        "expected_strangers",
        "band",
        "strength",  # calibrated strength (issue 5)
        "cosine",  # the plain cosine beside the hubness-corrected score (issue 16)
        "linked_by_reviewers",  # what a cross-check reviewer linked a photo-only face to (issue 17)
    }
    assert doc["queries"][0]["faces"][0]["used"] is True


def test_search_picks_a_face_and_fuses_photos(demo_run):
    idx, _ = demo_run
    t1 = demo_photo("t1.jpg")
    out = run("search", str(t1), "--index", str(idx), "--face", "3", "-k", "1", "--json")
    doc = json.loads(out.stdout)
    used = [f["used"] for f in doc["queries"][0]["faces"]]
    assert used == [False, False, True, False, False, False]
    # the same face is in the gallery: it comes back first, its cosine ~1 (the shown score is corrected for hubness)
    assert doc["candidates"][0]["photo"].endswith("t1.jpg") and doc["candidates"][0]["cosine"] > 0.99
    two = run(
        "search",
        str(demo.query_photo()),
        str(demo.DEMO_DIR / "gallery" / "biden.jpg"),
        "--index",
        str(idx),
        "--face",
        "1",
        "--face",
        "1",
        "-k",
        "2",
    )
    assert "combined into one query" in two.stdout


def test_faceless_and_broken_queries_say_what_helps(demo_run, tmp_path):
    idx, _ = demo_run
    out = run("search", str(demo_photo("coffee.png")), "--index", str(idx))
    assert out.returncode == 1
    assert "No face was found" in out.stdout and "sharper" in out.stdout
    bad = tmp_path / "bad.jpg"
    bad.write_text("not a photo")
    out = run("search", str(bad), "--index", str(idx))
    assert out.returncode == 1 and "not an image" in out.stdout


def test_clear_errors_for_missing_index_and_wrong_engine(demo_run, tmp_path):
    idx, _ = demo_run
    out = run("search", str(demo.query_photo()), "--index", str(tmp_path / "nothing"))
    assert out.returncode == 2 and "no facematch index" in out.stderr and "Traceback" not in out.stderr
    out = run("search", str(demo.query_photo()), "--index", str(idx), "--engine", "dlib")
    assert out.returncode == 2 and "built with sface, not 'dlib'" in out.stderr
    out = run("index", str(tmp_path / "no-such-folder"), "--index", str(tmp_path / "i"))
    assert out.returncode == 2 and "photo folder not found" in out.stderr


def test_info(demo_run):
    idx, _ = demo_run
    out = run("info", "--index", str(idx), "--json")
    doc = json.loads(out.stdout)
    assert doc["photos"] == 8 and doc["records"] == 10
    (engine,) = doc["engines"].values()
    assert engine["faces"] == 11 and engine["photos"] == {"ok": 6, "no_face": 2}
    assert engine["faiss_file"] == "in step"


def test_search_with_what_the_family_knows_ranks_as_the_app(demo_run):
    """`search --name/--born/--county/--photo-year` goes through combined.combine, as the app does."""
    idx, _ = demo_run
    out = run(
        "search", str(demo.query_photo()), "--index", str(idx), "-k", "4", "--json",
        "--name", "巴拉克·奥巴马", "--born", "1961", "--county", "Honolulu", "--photo-year", "2009",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    doc = json.loads(out.stdout)
    top = doc["candidates"][0]
    assert Path(top["photo"]).name == "obama.jpg" and top["found_by"] == "photo and name" and top["lift"] == 0.2
    assert top["reasons"][0] == (
        "Agrees with what the family knows: name (巴拉克 → balake ≈ balake; 奥巴马 → aobama ≈ aobama); "
        "same birth year (1961); same county"
    )
    assert (
        "Your photo: about 2009 (age about 48); archive photo: about 2012 (age about 51); 3 years apart."
        in (top["reasons"])
    )
    text = run("search", "--index", str(idx), "--name", "Joe Biden", "--name", "Tursun Memet")
    assert text.returncode == 0, text.stderr
    assert "Records found by name without a face to compare (2):" in text.stdout
    assert "name (Joe ≈ joe; Biden ≈ biden)" in text.stdout and messages.NO_PHOTO in text.stdout
    nothing = run("search", "--index", str(idx), "--name", "Zzyzx Qqqq")
    assert nothing.returncode == 1 and messages.no_name_hits(["Zzyzx Qqqq"], 88) in nothing.stdout
    assert run("search", "--index", str(idx)).returncode == 2  # neither a photo nor a name: a clear error


def test_after_the_demo_search_in_the_same_folder_uses_the_demo_index(tmp_path):
    """`facematch demo` puts its index in ./index/demo; a following `facematch search PHOTO` (default ./index, not
    there) searches the demo's and says so, while `facematch index` never writes into the demo."""
    from facematch import demo

    env_free = tmp_path / "work"
    env_free.mkdir()
    assert run("demo", cwd=env_free).returncode == 0
    found = run("search", str(demo.query_photo()), "-k", "2", cwd=env_free)
    assert found.returncode == 0, found.stderr
    assert "using the demo index" in found.stderr and "obama" in found.stdout
    info = run("info", "--json", cwd=env_free)
    assert info.returncode == 0 and [e["faces"] for e in json.loads(info.stdout)["engines"].values()] == [11]
    mine = tmp_path / "photos"
    shutil.copytree(demo.DEMO_DIR / "query", mine)
    assert run("index", str(mine), "--quiet", cwd=env_free).returncode == 0
    assert (env_free / "index" / "facematch.sqlite").is_file()  # a new ./index of its own, beside the demo
    mine_only = run("info", "--json", cwd=env_free)
    assert "using the demo index" not in mine_only.stderr
    assert [e["faces"] for e in json.loads(mine_only.stdout)["engines"].values()] == [1]
