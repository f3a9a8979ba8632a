"""An index built by an older facematch (other pre-processing, so another fingerprint) is refused with a way
out, and `--reindex` rebuilds it with flip averaging and hubness correction while every decision is kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from facematch import demo
from facematch.cli import main
from facematch.engines.sface import SFaceEngine
from facematch.index import Index
from facematch.indexing import index_folder
from facematch.review import Review
from facematch.search import Searcher
from facematch.vectors import EngineMismatch

OLD = {"upscale": "640", "border": "miss", "flip": False}  # sface as shipped before issue 16


def obama_candidates(idx: Path):
    with Searcher(idx) as s:
        return s, s.search([s.detect_file(demo.query_photo()).pick()], k=11)


def test_an_old_index_is_refused_then_reindexed_in_place_with_its_decisions(tmp_path, monkeypatch, capsys):
    idx = tmp_path / "index"
    photos = demo.build_gallery(idx / "photos")
    with monkeypatch.context() as m:  # what an older facematch wrote: no flip, one up-scaling, border on a miss
        m.setattr(SFaceEngine, "DEFAULTS", OLD)
        index_folder(photos, idx, "sface", workers=1, progress=False)
        old_searcher, old = obama_candidates(idx)
        old_fp = old_searcher.fingerprint
        rv = Review(Index.open(idx))
        case = rv.create_case("Brother", "Ayse")
        confirmed, rejected = [c for c in old if c.face.filename != "t1.jpg"][:2]
        rv.decide(case.id, confirmed, "confirm", "Ayse", "same scar")
        rv.decide(case.id, rejected, "reject", "Ayse")
    assert "+" not in old_fp  # the old policy keeps its suffix-free fingerprint

    with pytest.raises(EngineMismatch, match="--reindex"):
        index_folder(photos, idx, "sface", workers=1, progress=False)
    assert main(["index", str(photos), "--index", str(idx), "--quiet", "--workers", "1", "--reindex"]) == 0
    assert f"Replaced the faces made by {old_fp}" in capsys.readouterr().out

    searcher, new = obama_candidates(idx)
    assert searcher.fingerprint.endswith("+up=both+border=edge+flip") and searcher.alpha > 0
    with Index.open(idx) as index:
        assert list(index.engines()) == [searcher.fingerprint]  # the old faces are gone, not mixed in
        fp = searcher.fingerprint
        assert index.neighbours.count(fp, *searcher.scoring.lists) == index.faces.count(fp)
        rv = Review(index)
        marks = {c.face.filename: (d.decision, d.note) for c, d in rv.annotate(case.id, new) if d is not None}
        assert rv.case(case.id).name == "Brother" and len(rv.log(case.id)) == 2
    assert marks == {confirmed.face.filename: ("confirm", "same scar"), rejected.face.filename: ("reject", "")}
    assert {c.face.id for c in new}.isdisjoint({c.face.id for c in old})  # new faces, the same decisions
