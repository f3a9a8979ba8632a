"""The archive cross-checked against itself (issue 17), on real photos with real models.

A small archive of two collections (tests/linkdata.py: LFW people whose first photo is in "leak-a" and
second in "leak-b", strangers in both, and a re-encoded and a cropped copy of one leak-a photo in leak-b):
every known pair across the collections is found, the copies come out as duplicate images and not as
persons, a confirmed pair lets the photo-only face say which record a reviewer linked it to, decisions
survive re-indexing and a removed photo, the Ray path gives the same pairs, and a run killed with SIGKILL
resumes without duplicating a pair.
"""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import linkdata
import pytest

from conftest import LFW, skip_or_fail
from facematch import messages
from facematch.cli import main
from facematch.crosscheck import SAME, CrossCheck, Pair
from facematch.crosscheck.ranker import Ranker
from facematch.crosscheck.run import link
from facematch.engines.sface import SFaceEngine
from facematch.indexing import index_folder
from facematch.search import Searcher
from facematch.store import DB_NAME

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def archive(tmp_path_factory) -> dict:
    if not (LFW / "images").is_dir():
        skip_or_fail(f"LFW subset not found at {LFW} (it lives in ../shared, outside the project)")
    root = tmp_path_factory.mktemp("link")
    info = linkdata.build(LFW / "images", root / "photos")
    idx = root / "index"
    index_folder(info["a"], idx, "sface", workers=2, records_csv=info["records"], progress=False, collection="leak-a")
    assert main(["index", str(info["b"]), "--index", str(idx), "--quiet", "--workers", "2"]) == 0  # default name
    info["index"] = idx
    return info


def copy_index(info: dict, dest: Path) -> Path:
    shutil.copytree(info["index"], dest)
    return dest


def state(idx: Path) -> list[tuple]:
    """The stored pairs, without when they were found: what two runs must agree on."""
    con = sqlite3.connect(idx / DB_NAME)
    try:
        return con.execute(
            "SELECT engine, a, b, round(cosine, 5), round(score, 5), rank_ab, rank_ba, kind, duplicate, reasons "
            "FROM link_pairs ORDER BY a, b"
        ).fetchall()
    finally:
        con.close()


def names(p: Pair) -> tuple[str, str]:
    return p.a.filename, p.b.filename


def test_collections_known_pairs_duplicates_and_groups(archive, tmp_path, capsys):
    idx = copy_index(archive, tmp_path / "index")
    assert main(["info", "--index", str(idx), "--json"]) == 0
    colls = {c["name"]: c for c in json.loads(capsys.readouterr().out)["collections"]}
    assert set(colls) == {"leak-a", "leak-b"}  # leak-b named after its folder
    assert colls["leak-b"]["photos"] == linkdata.PEOPLE + linkdata.STRANGERS // 2 + 2

    assert main(["link", "--index", str(idx), "--across", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "candidate pairs" in out and not re.search(r"\bmatch", out, re.I)  # never "match" before a person
    with Searcher(idx) as s:
        cc = CrossCheck(s)
        pairs = cc.pairs()
        found = {names(p) for p in pairs}
        assert all(p.collections[0] != p.collections[1] for p in pairs)  # --across
        # Every known same-person pair across the two collections is found (with the default band floor).
        assert set(archive["known"]) <= found, set(archive["known"]) - found
        top = pairs[: len(archive["known"])]
        assert {names(p) for p in top} == set(archive["known"])  # and they are the strongest pairs
        assert all(p.mutual and p.band == "strong" for p in top)
        # The copies are duplicate images of the leak-a photo, never a person pair with it.
        dups = {names(p) for p in cc.duplicates()}
        copied = archive["copied"]
        assert {(copied, "copy-cropped.jpg"), (copied, "copy-reencoded.jpg")} <= dups
        assert not any(copied in n and "copy-" in "".join(n) for n in found)
        # Groups: only strong mutual pairs; here, exactly the known people.
        groups = cc.groups()
        assert {names(g[0]) for g in groups} == set(archive["known"]) and all(len(g) == 1 for g in groups)

    # Linking again does nothing new: incremental.
    r = link(idx, across=True, progress=False)
    assert r.linked == 0 and r.already == r.faces


def test_review_decide_export_and_the_photo_only_face(archive, tmp_path, capsys):
    idx = copy_index(archive, tmp_path / "index")
    assert main(["link", "--index", str(idx), "--quiet"]) == 0  # within collections too: copies fold
    capsys.readouterr()
    with Searcher(idx) as s:
        cc = CrossCheck(s)
        first = archive["known"][0]
        target = next(p for p in cc.pairs() if names(p) == first)
        # Pairs through the copies of the leak-a photo are folded into the pair with the original.
        through_copies = [p for p in cc.pairs(fold=False) if first[1] in names(p) and "copy-" in "".join(names(p))]
        assert through_copies and target.copies >= 1
        assert all(first[1] not in names(p) or "copy-" not in "".join(names(p)) for p in cc.pairs())
    assert main(["link", "review", "--next", "--index", str(idx)]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith("pair ") and "strong resemblance" in shown
    assert (
        main(["link", "decide", target.id, "same", "--reviewer", "Ana", "--why", "same ear", "--index", str(idx)]) == 0
    )
    with pytest.raises(SystemExit):
        main(["link", "decide", target.id, "maybe", "--reviewer", "Ana", "--index", str(idx)])
    capsys.readouterr()
    with Searcher(idx) as s:
        cc = CrossCheck(s)
        photo_only = target.b if target.b.filename == first[1] else target.a
        lines = cc.linked_records(photo_only)
        assert (
            len(lines) == 1
            and lines[0].startswith("Ana linked this face to record A000 on ")
            and "same ear" in lines[0]
        )
        assert cc.next().id != target.id
        # The log is append-only: the database refuses edits and deletions.
        with pytest.raises(sqlite3.DatabaseError, match="append-only"), s.index.db.write() as c:
            c.execute("UPDATE link_decisions SET decision = 'different'")
        with pytest.raises(sqlite3.DatabaseError, match="append-only"), s.index.db.write() as c:
            c.execute("DELETE FROM link_decisions")
        assert s.index.records.by_id(["A000"])["A000"]["photos"] == [first[0]]  # nothing copied into a record

    # A family's search that finds the photo-only face says what the reviewer linked it to (nothing copied).
    capsys.readouterr()
    assert main(["search", str(Path(archive["b"]) / first[1]), "--index", str(idx), "-k", "5", "--json"]) == 0
    found = {c["photo"].rsplit("/", 1)[-1]: c for c in json.loads(capsys.readouterr().out)["candidates"]}
    assert found[first[1]]["records"] == [] and found[first[1]]["linked_by_reviewers"][0].startswith("Ana linked")

    assert main(["link", "export", str(tmp_path / "out"), "--index", str(idx)]) == 0
    for name in ("pairs", "duplicates", "groups", "decisions"):
        text = (tmp_path / "out" / f"crosscheck-{name}.csv").read_text()
        assert text.startswith("# These are candidates, not matches.")
        lines = (tmp_path / "out" / f"crosscheck-{name}.jsonl").read_text().splitlines()
        assert "not an identification" in json.loads(lines[0])["caveat"]
    decided = [json.loads(x) for x in (tmp_path / "out" / "crosscheck-decisions.jsonl").read_text().splitlines()[1:]]
    assert [(d["decision"], d["reviewer"], d["note"]) for d in decided] == [("same", "Ana", "same ear")]

    # A removed or changed photo: its faces go (as Faces.save_scan drops them when a file's content changes),
    # its pairs leave the queue, the decision stays in the audit log.
    con = sqlite3.connect(idx / DB_NAME)
    con.execute("PRAGMA foreign_keys=ON")
    con.execute("DELETE FROM faces WHERE photo_id IN (SELECT id FROM photos WHERE filename = ?)", (first[1],))
    con.commit()
    con.close()
    with Searcher(idx) as s:
        cc = CrossCheck(s)
        assert not any(first[1] in names(p) for p in cc.pairs())
        assert [d["decision"] for d in cc.log()] == ["same"]


def test_decisions_survive_reindexing(archive, tmp_path, monkeypatch):
    """An index from an older facematch is linked and decided, then `facematch index --reindex` scans it again:
    new face ids, new pairs, the same decisions (they point at sha256 + box)."""
    idx = tmp_path / "index"
    old = {"upscale": "640", "border": "miss", "flip": False}
    with monkeypatch.context() as m:
        m.setattr(SFaceEngine, "DEFAULTS", old)
        for folder in (archive["a"], archive["b"]):
            index_folder(folder, idx, "sface", workers=1, progress=False)  # in this process: patched
        link(idx, across=True, progress=False)
        with Searcher(idx) as s:
            cc = CrossCheck(s)
            known = {names(p): p for p in cc.pairs()}
            decided = [known[archive["known"][0]], known[archive["known"][1]]]
            cc.decide(decided[0], "same", "Ana", "scar")
            cc.decide(decided[1], "different", "Ben")
            old_ids = {p.id for p in decided}
    for folder in (archive["a"], archive["b"]):
        assert main(["index", str(folder), "--index", str(idx), "--quiet", "--workers", "2", "--reindex"]) == 0
    link(idx, across=True, progress=False)
    with Searcher(idx) as s:
        cc = CrossCheck(s)
        marks = {names(p): (p.decision["decision"], p.decision["reviewer"]) for p in cc.pairs() if p.decision}
        assert marks == {names(decided[0]): ("same", "Ana"), names(decided[1]): ("different", "Ben")}
        assert old_ids.isdisjoint({p.id for p in cc.pairs() if p.decision})  # new face ids, same decisions
        assert len(cc.log()) == 2


@pytest.mark.parametrize("kind", ["flat", "ivf"])
def test_resume_after_sigkill_gives_the_uninterrupted_pairs(archive, tmp_path, kind, capsys):
    """Flat index (FAISS's search per block) and IVF index (the list-major join per block, selfjoin.py)."""
    whole = copy_index(archive, tmp_path / "whole")
    killed = copy_index(archive, tmp_path / "killed")
    if kind == "ivf":
        as_ivf(whole), as_ivf(killed)
        capsys.readouterr()
    link(whole, progress=False, block=4)
    # link_slow.py beside this file, and the facematch this process runs (not whichever one is installed)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(Path(messages.__file__).parents[1])])}
    for wait_for in (8, 24):  # faces linked before each kill: one early, one late
        proc = subprocess.Popen(
            [sys.executable, str(HERE / "link_slow.py"), str(killed), "0.05", "4", str(wait_for)],
            env=env, start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 300  # the child stops by itself once wait_for faces are linked
        while proc.poll() is None and done(killed) < wait_for and time.monotonic() < deadline:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it was killed"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    faces = sqlite3.connect(killed / DB_NAME).execute("SELECT COUNT(*) FROM faces").fetchone()[0]
    assert 24 <= done(killed) < faces  # killed twice mid-run, part of the work saved
    r = link(killed, progress=False, block=4)
    assert r.already > 0 and r.linked > 0
    assert state(killed) == state(whole)


def done(idx: Path) -> int:
    try:
        con = sqlite3.connect(idx / DB_NAME, timeout=5)
        try:
            return con.execute("SELECT COUNT(*) FROM link_done").fetchone()[0]
        finally:
            con.close()
    except sqlite3.OperationalError:
        return 0


def as_ivf(idx: Path) -> Path:
    """The same index with an IVF FAISS index (4 lists), so linking goes through the list-major join."""
    assert main(["retrain", "--index", str(idx), "--index-type", "ivf-sq8", "--index-params", "nlist=4,nprobe=4"]) == 0
    return idx


def test_ray_gives_the_same_pairs_as_one_machine(archive, tmp_path, capsys):
    """Flat index (FAISS's search per block) and IVF index (the list-major join per block, selfjoin.py)."""
    try:
        import ray.data  # noqa: F401
    except ImportError:
        skip_or_fail("ray[data] is not installed (pip install -e '.[test]' installs it)")
    for kind in ("flat", "ivf"):
        local = copy_index(archive, tmp_path / f"local-{kind}")
        on_ray = copy_index(archive, tmp_path / f"ray-{kind}")
        if kind == "ivf":
            as_ivf(local), as_ivf(on_ray)
        r = link(local, progress=False, block=8, nprobe=2)
        assert (r.nprobe, "join" in r.settings) == ((2, True) if kind == "ivf" else (None, False))
        link(on_ray, progress=False, block=8, nprobe=2, ray="local")
        assert state(on_ray) == state(local) and len(state(local)) > 0
    capsys.readouterr()


def faces_by_photo(idx: Path) -> dict[int, tuple]:
    con = sqlite3.connect(idx / DB_NAME)
    try:
        rows = con.execute(
            "SELECT f.id, p.filename, round(f.x1), round(f.y1) FROM faces f JOIN photos p ON p.id = f.photo_id"
        ).fetchall()
    finally:
        con.close()
    return {r[0]: tuple(r[1:]) for r in rows}


def pairs_by_photo(idx: Path) -> set[tuple]:
    """The stored pairs by photo and face position (face ids differ between indexes), with which side ranked."""
    key = faces_by_photo(idx)
    out = set()
    for _, a, b, cos, _, rab, rba, kind, *_ in state(idx):
        (ka, ra), (kb, rb) = sorted([(key[a], rab is not None), (key[b], rba is not None)])
        out.add((ka, kb, ra, rb, kind, round(cos, 4)))
    return out


def test_incremental_linking_offers_new_faces_to_older_ones(archive, tmp_path, capsys):
    """Collection A indexed and linked, then B indexed and linked: only B's faces are ranked, and each pair of a
    new face with an older one is offered to the older face (run.offer), so the pairs and which face ranked
    which are those of linking A and B at once. Without the offer the known pairs (A photo, B photo) would
    be one-sided: A's faces were ranked before B existed."""
    idx = tmp_path / "inc"
    index_folder(
        archive["a"], idx, "sface", workers=2, records_csv=archive["records"], progress=False, collection="leak-a"
    )
    link(idx, progress=False)
    assert main(["index", str(archive["b"]), "--index", str(idx), "--quiet", "--workers", "2"]) == 0
    r = link(idx, progress=False)
    assert 0 < r.already < r.faces and r.linked == r.faces - r.already
    whole = copy_index(archive, tmp_path / "whole")
    link(whole, progress=False)
    grown, at_once = pairs_by_photo(idx), pairs_by_photo(whole)
    assert at_once <= grown  # every pair, ranked by the same faces
    with Searcher(idx) as s:
        now = {tuple(sorted(names(p))): p for p in CrossCheck(s).pairs(fold=False)}
        assert all(now[tuple(sorted(pair))].mutual for pair in archive["known"])
        # The only extra pairs: found among A's faces when A was alone, and 'weak' in the grown archive (a
        # stranger rate x a larger archive), which linking A and B at once dropped by --min-band.
        extra = [now[(a[0], b[0])] for a, b, *_ in grown - at_once]
        assert all(p.band == "weak" for p in extra), [p.band for p in extra]  # measured: 4 such of 23
    capsys.readouterr()


def test_crosscheck_page_in_the_app(archive, tmp_path, monkeypatch):
    """The app's Cross-check page lists the pairs strongest first, compares one and records a decision
    through the same library call as the CLI (CrossCheck.decide)."""
    from streamlit.testing.v1 import AppTest

    from conftest import texts
    from facematch.app import serve

    idx = copy_index(archive, tmp_path / "index")
    link(idx, across=True, progress=False)
    monkeypatch.setenv("FACEMATCH_INDEX", str(idx))
    at = AppTest.from_file(str(serve.APP), default_timeout=120)
    at.query_params["page"] = "crosscheck"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    page = texts(at)
    assert "Cross-check the archive against itself" in page and "candidate pairs" in page
    assert not re.search(r"\bmatch(es)?\b", page.replace(messages.CAVEAT, ""), re.I)  # only the caveat says it
    with Searcher(idx) as s:
        first = CrossCheck(s).pairs()[0]
    assert f"#1 · pair {first.id}" in page  # strongest first
    at.button(key=f"xcmp_{first.id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"Compare pair {first.id}" in texts(at)
    at.sidebar.text_input(key="reviewer").set_value("Ana")
    at.radio(key="xdecision").set_value("same")
    at.text_input(key="xwhy").set_value("same scar")
    at.button[[b.label for b in at.button].index("Record decision")].click().run()
    assert not at.exception, [e.value for e in at.exception]
    with Searcher(idx) as s:
        log = CrossCheck(s).log()
    assert [(d["decision"], d["reviewer"], d["note"]) for d in log] == [("same", "Ana", "same scar")]


def test_ivf_join_is_exact_within_each_faces_probed_lists_whatever_the_blocks():
    """On an IVF index, linking joins blocks of faces list by list (selfjoin.py): each face's answer is the exact
    best among the members of the lists its own search would probe (cosine >= tau), so the blocks change the
    speed, never the answer; with every list probed and no tau, the exact self-join. (Synthetic clustered
    vectors: the property is about the join's arithmetic, not faces.)"""
    import faiss
    import numpy as np

    from facematch import ann, selfjoin
    from facematch.vectors import FaceVectors

    rng = np.random.default_rng(5)
    centres = rng.standard_normal((300, 32))
    x = centres[rng.integers(0, 300, 6000)] + 0.6 * rng.standard_normal((6000, 32))
    x = (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)
    ids = np.arange(1, len(x) + 1, dtype=np.int64)
    spec = ann.user_spec("ivf-sq8", {"nlist": 64, "nprobe": 64}, len(x), 32)
    index, spec = ann.build(spec, 32, lambda: iter([(ids, x)]), len(x))
    fv = FaceVectors("test", index, spec)
    lists = selfjoin.Lists.of(index, ids)
    assert sorted(lists.members.tolist()) == list(range(len(x)))  # every face in exactly one list
    todo = ids[::7]
    list_of = np.empty(len(x), np.int64)
    for lst in range(lists.nlist):
        list_of[lists.members[lists.bounds[lst] : lists.bounds[lst + 1]]] = lst
    offsets = (0.02 * rng.standard_normal(len(x))).astype(np.float32)  # hubness offsets change the order
    for nprobe, tau in ((4, 0.5), (64, float("-inf"))):  # at 64 = nlist, no tau: the exact self-join by score
        answers = []
        for block in (256, len(todo)):
            r = Ranker(fv, ids, x, offsets, 0.0, nprobe, lists, threads=2, tau=tau)
            got = {}
            for b in r.plan(todo, block):
                q_ids, (sc, cos, nb) = r.rank(b, 10)
                got.update({int(q): (row.tolist(), c, s_) for q, row, c, s_ in zip(q_ids, nb, cos, sc, strict=True)})
            assert sorted(got) == todo.tolist()
            answers.append(got)
        assert all(answers[0][q][0] == answers[1][q][0] for q in todo.tolist())  # blocks: the same answer
        flat = faiss.IndexFlatIP(32)
        flat.add(lists.centroids)
        probed = flat.search(x[todo - 1], nprobe)[1]
        for q, mine in zip(todo.tolist(), probed, strict=True):
            cos = x @ x[q - 1]
            ok = np.isin(list_of, mine) & (cos >= tau)
            score = np.where(ok, cos - offsets, -np.inf)
            want = np.argsort(-score, kind="stable")[:10]
            want = want[np.isfinite(score[want])] + 1
            row, c, s_ = answers[0][q]
            assert row[: len(want)] == want.tolist() and all(g == -1 for g in row[len(want) :])
            assert np.allclose(c[: len(want)], cos[want - 1], atol=1e-6)
            assert np.allclose(s_[: len(want)], cos[want - 1] - offsets[want - 1], atol=1e-6)


def test_an_index_of_two_engines_is_linked_per_engine(archive, tmp_path, capsys):
    """Embeddings of two engines are never compared: `facematch link` links each engine on its own and says
    so; review and decide take --engine (the default engine otherwise)."""
    idx = copy_index(archive, tmp_path / "index")
    index_folder(archive["a"], idx, "dlib", workers=1, progress=False)
    capsys.readouterr()
    assert main(["link", "--index", str(idx), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert out.count("each engine is linked on its own") == 2
    con = sqlite3.connect(idx / DB_NAME)
    engines = {e.split("@")[0]: n for e, n in con.execute("SELECT engine, COUNT(*) FROM link_pairs GROUP BY engine")}
    mixed = con.execute(
        "SELECT COUNT(*) FROM link_pairs p JOIN faces a ON a.id = p.a JOIN faces b ON b.id = p.b "
        "WHERE a.engine != b.engine OR a.engine != p.engine"
    ).fetchone()[0]
    con.close()
    assert set(engines) == {"sface", "dlib"} and mixed == 0
    assert main(["link", "review", "--next", "--engine", "dlib", "--index", str(idx), "--json"]) == 0
    pairs = json.loads(capsys.readouterr().out)["pairs"]
    assert len(pairs) == 1 and pairs[0]["collection_a"] == pairs[0]["collection_b"] == "leak-a"


def test_team_roles_the_cross_check_and_its_reviewer(archive, tmp_path):
    """On a team server a family account may not open the cross-check (library check), and a researcher's
    decision records the account, whatever name is typed."""
    from facematch.access import AccessDenied, Accounts

    idx = copy_index(archive, tmp_path / "index")
    assert main(["link", "--index", str(idx), "--quiet"]) == 0
    with Searcher(idx) as s:
        accounts = Accounts(s.index.db)
        family = accounts.add("fam", "family", "a long enough password")
        researcher = accounts.add("res", "researcher", "a long enough password")
        with pytest.raises(AccessDenied, match="researchers, caseworkers and admins"):
            CrossCheck(s, family)
        cc = CrossCheck(s, researcher)
        p = cc.pairs()[0]
        cc.decide(p, SAME, "someone else", "same ear")
        assert [d["reviewer"] for d in cc.log()] == ["res"]


def test_components_join_every_chain_to_its_smallest_face():
    """Sets of duplicate images and groups come from one union-find (review.components). The loop it replaced
    re-rooted a face halfway up a chain (`x = parent[x] = ...` assigns x first): edges (3, 4), (2, 3), (1, 2)
    gave {2, 3, 4} and {1}, two sets for one."""
    from facematch.crosscheck.review import components

    assert components([(3, 4), (2, 3), (1, 2)]) == {1: 1, 2: 1, 3: 1, 4: 1}
    assert components([(5, 9), (7, 8), (8, 9), (10, 11)]) == {5: 5, 7: 5, 8: 5, 9: 5, 10: 10, 11: 10}
    assert components([]) == {}
    rng = random.Random(3)
    edges = [(rng.randrange(60), rng.randrange(60)) for _ in range(45)]
    near: dict[int, set[int]] = {}
    for a, b in edges:
        near.setdefault(a, set()).add(b)
        near.setdefault(b, set()).add(a)
    want = {}
    for start in sorted(near):  # by search from each smallest face not yet reached
        todo = [start]
        while todo:
            f = todo.pop()
            if f not in want:
                want[f] = start
                todo += near[f]
    assert components(edges) == want


def test_reading_deciding_and_exporting_pairs_needs_no_engine_and_leaves_the_index_folder_alone(
    archive, tmp_path, monkeypatch
):
    """CrossCheck from an Index: the gallery size, the stranger rates and the engine's fingerprint come from the
    index. Reading, deciding and exporting pairs loads no model and does not bring derived files in step (a
    Searcher would rebuild the missing FAISS file here), and reads what a CrossCheck over a Searcher reads."""
    from facematch import engines, search
    from facematch.crosscheck import export, pair_row
    from facematch.index import Index

    idx = copy_index(archive, tmp_path / "index")
    link(idx, across=True, progress=False)
    with Searcher(idx) as s:
        cc = CrossCheck(s)
        want = ([pair_row(p) for p in cc.pairs()], [[pair_row(p) for p in g] for g in cc.groups()], s.gallery_size)
    for faiss_file in idx.glob("faces-*.faiss"):
        faiss_file.unlink()  # a Searcher would rebuild it from the database (and save it) on opening
    before = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in idx.iterdir() if p.is_file()}
    loaded = []

    def no_engine(*args, **kwargs):
        loaded.append(args)
        raise AssertionError("an engine was loaded to read pairs")

    monkeypatch.setattr(engines, "get_engine", no_engine)
    monkeypatch.setattr(search, "get_engine", no_engine)
    monkeypatch.setattr(SFaceEngine, "__init__", no_engine)
    con = sqlite3.connect(idx / DB_NAME)
    derived = "SELECT (SELECT COUNT(*) || ':' || TOTAL(hub) FROM face_neighbours), (SELECT COUNT(*) FROM link_pairs)"
    tables = con.execute(derived).fetchone()
    with Index.open(idx) as index:
        cc = CrossCheck(index)
        assert cc.gallery_size == want[2] and cc.s is None
        pairs = cc.pairs()
        assert [pair_row(p) for p in pairs] == want[0]
        assert [[pair_row(p) for p in g] for g in cc.groups()] == want[1]
        assert cc.duplicates() and cc.next() is not None
        first = archive["known"][0]
        target = next(p for p in pairs if names(p) == first)
        cc.decide(target, SAME, "Ana", "same ear")
        photo_only = target.b if target.b.filename == first[1] else target.a
        assert cc.linked_records(photo_only)[0].startswith("Ana linked this face to record A000")
        written = export(cc, tmp_path / "out")
        assert len(written) == 8
    assert loaded == []
    after = {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in idx.iterdir() if p.is_file()}
    database = {DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm"}  # the decision is appended there, by design
    unchanged = {n: v for n, v in before.items() if n not in database}
    assert {n: v for n, v in after.items() if n not in database} == unchanged
    assert not list(idx.glob("faces-*.faiss"))  # not rebuilt
    assert con.execute(derived).fetchone() == tables  # neighbour lists and pairs as they were
    assert con.execute("SELECT COUNT(*) FROM link_decisions").fetchone()[0] == 1
    con.close()
