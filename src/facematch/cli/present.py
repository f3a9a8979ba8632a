"""The CLI's one presenter: what more than one command shows, formatted once.

Numbers and decimals in the language's way, the indexing report and the FAISS index line (index, retrain,
demo), and the search result: its table, its JSON for scripts, the calibrated strength of each candidate
and the calibration it was measured with (search, demo). Commands print their own one-off lines.
"""

from __future__ import annotations

import json
from pathlib import Path

from .. import messages
from ..i18n import _, ngettext

num = messages.number  # counts in the language's digit grouping
dec = messages.decimal  # decimals likewise (3.2 / 3,2)


def print_json(doc, *, ascii: bool = False, default=None) -> None:
    """A document for scripts. `ascii` escapes every non-ASCII character (`info` and `link` do, as before)."""
    print(json.dumps(doc, indent=1, ensure_ascii=ascii, default=default))


def box_text(box) -> str:
    """A face box as the search table shows it: (x1,y1)-(x2,y2) in whole pixels."""
    x1, y1, x2, y2 = (round(float(v)) for v in box)
    return f"({x1},{y1})-({x2},{y2})"


def box_json(box) -> list[float]:
    """A face box in JSON: x1, y1, x2, y2 to 0.1 px."""
    return [round(float(v), 1) for v in box]


def retrain_advice(advice: str, index_dir) -> str:
    """Why a retrain of the FAISS index would help, and the command that does it (index, retrain, info)."""
    return _("A retrain would help: {advice}. Run `facematch retrain --index {index}`.", advice=advice,
             index=index_dir)  # fmt: skip


def print_vectors(index_dir: Path, engine: str) -> None:
    """The FAISS index of an engine after index or retrain: its kind, its faces, and whether a retrain helps."""
    from ..vectors import FaceVectors

    vecs = FaceVectors.load(Path(index_dir), engine)
    if vecs is None:
        return
    print(
        "  " + _("FAISS index: {kind}, {faces}.", kind=vecs.spec.describe(), faces=messages.count(vecs.count, "face"))
    )
    advice = vecs.retrain_advice()
    if advice:
        print("  " + retrain_advice(advice, index_dir))


def print_index_report(report, index_dir: Path) -> None:
    """What an indexing run did (index, demo): files seen and read, faces found, every file skipped and why."""
    print("\n" + _("Index: {index}  (engine {engine})", index=index_dir, engine=report.engine))
    for fp in getattr(report, "replaced", []):
        print("  " + _("Replaced the faces made by {engine}: cases, decisions and records are kept.", engine=fp))
    print("  " + ngettext(
        "{n} photo file seen: {scanned} read now, {unchanged} unchanged since the last run; {faces} found in "
        "{photos} photos, in {seconds} s.",
        "{n} photo files seen: {scanned} read now, {unchanged} unchanged since the last run; {faces} found in "
        "{photos} photos, in {seconds} s.",
        report.seen, scanned=num(report.scanned), unchanged=num(report.unchanged),
        faces=messages.count(report.faces, "face"), photos=num(report.with_faces), seconds=dec(report.seconds),
    ))  # fmt: skip
    if report.records:
        print("  " + ngettext("{n} archive record imported.", "{n} archive records imported.", report.records))
    for problem in getattr(report, "record_problems", []):
        print("    " + _("records file, {problem}", problem=problem))
    if report.no_face:
        print("  " + ngettext("{n} photo with no face found:", "{n} photos with no face found:", len(report.no_face)))
        for s in report.no_face:
            print(f"    - {s.path}")
    if report.errors:
        print("  " + ngettext("{n} file skipped:", "{n} files skipped:", len(report.errors)))
        for s in report.errors:
            print(f"    - {s.path}: {s.reason}")
    if report.interrupted:
        print("  " + _("Interrupted: what was finished is saved; run the same command again to continue."))


def _listed(candidates, result) -> list:
    """The candidates shown, each with what the family's facts said of it (None: searched by photo alone)."""
    if result is None:
        return [(c, None) for c in candidates]
    return [(it.candidate, it) for it in result.faces]


def _reviewers_links(searcher):
    """A candidate's lines saying what a cross-check reviewer linked its face to (only a face with no record)."""
    from ..crosscheck import CrossCheck

    linked = CrossCheck(searcher)
    return lambda c: [] if c.records else linked.linked_records(c.face)


def search_json(searcher, queries, chosen, candidates, result=None) -> dict:
    """`search --json`: the query photos and their faces, the candidates, the calibration."""
    chosen_ids = {id(face) for _, face in chosen}
    links = _reviewers_links(searcher)
    doc = {
        "engine": searcher.engine.fingerprint,
        "gallery_faces": searcher.gallery_size,
        "score": messages.score_label(),
        "caveat": messages.caveat(),
        "queries": [
            {
                "photo": q.name,
                "error": q.error,
                "faces": [
                    {
                        "number": n,
                        "box": box_json(f.box),
                        "size": round(f.size),
                        "detector_score": round(f.score, 3),
                        "used": id(f) in chosen_ids,
                    }
                    for n, f in enumerate(q.faces, start=1)
                ],
            }
            for q in queries
        ],
        "candidates": [
            {
                "rank": c.rank,
                "similarity": round(c.similarity, 4),
                "cosine": None if c.cosine is None else round(c.cosine, 4),
                "photo": str(c.face.path),
                "sha256": c.face.sha256,
                "box": box_json(c.face.box),
                "face_id": c.face.id,
                "face_number": c.face_number,
                "faces_in_photo": c.faces_in_photo,
                "records": c.records,
                "photo_records": c.photo_records,
                "linked_by_reviewers": links(c),
                **strength_json(searcher, c),
                **facts_json(it),
            }
            for c, it in _listed(candidates, result)
        ],
        "calibration": calibration_json(searcher),
    }
    if result is not None:  # searched with what the family knows: records found by name with no face too
        doc["records_without_face"] = [
            {"record": it.records[0], "note": it.note, "reasons": it.reason_lines()} for it in result.no_face
        ]
    return doc


def facts_json(item) -> dict:
    """What the family's facts did to a candidate: how it was found, the lift, the reasons."""
    if item is None:
        return {}
    return {"found_by": item.found_by, "lift": round(item.lift, 2), "reasons": item.reason_lines()}


def print_search(searcher, queries, chosen, candidates, result=None) -> None:
    """`search`: the faces found in each query photo, then the candidates as a table, then the notes."""
    from ..records import record_lines

    chosen_ids = {id(face) for _, face in chosen}
    for q in queries:
        if q.error:
            print(_("{photo}: cannot use this photo: {why}", photo=q.name, why=q.error))
            continue
        if not q.faces:
            print(f"{q.name}: {messages.no_face_hint()}")
            continue
        print(messages.faces_found(q.name, len(q.faces)))
        for n, f in enumerate(q.faces, start=1):
            mark = "  <- " + _("used") if id(f) in chosen_ids else ""
            line = _("face {n}: box {box}, {size} px, detector score {score}", n=n, box=box_text(f.box),
                     size=round(f.size), score=dec(f.score, 2))  # fmt: skip
            print(f"  {line}{mark}")
    if result is not None and result.facts.names and not result.name_hits:
        print("\n" + messages.no_name_hits(result.facts.names, result.name_threshold))
    if chosen:
        print("\n" + messages.search_summary(len(candidates), searcher.gallery_size, searcher.engine.fingerprint,
                                            fused=len(chosen) > 1, lifted=result is not None))  # fmt: skip
        rank, similarity, rest = _("rank"), _("similarity"), _("photo / face box / record")
        print(f"{rank:>4}  {similarity:>10}  {rest}")
    elif result is None:
        print(_("Nothing to search with."))
        return
    links = _reviewers_links(searcher)
    for c, it in _listed(candidates, result):
        rank = str(c.rank) if c.rank else _("name")
        print(f"{rank:>4}  {dec(c.similarity, 3):>10}  {c.face.path}  {box_text(c.face.box)}")
        print(f"{'':>18}{strength_text(searcher, c)}")
        for r in c.records:
            skip = (messages.record_label("record"), messages.record_label("photos"))
            shown = ", ".join(f"{k}: {v}" for k, v in record_lines(r) if k not in skip)
            print(f"{'':>18}" + _("record {id}: {fields}", id=r.get("record_id", ""), fields=shown))
        for line in links(c):  # a cross-check reviewer's link, no record
            print(f"{'':>18}{line}")
        for line in it.reason_lines() if it is not None else []:
            print(f"{'':>18}{line}")
    if result is not None and result.no_face:
        print("\n" + _("Records found by name without a face to compare ({n}):", n=num(len(result.no_face))))
        for it in result.no_face:
            print(f"  {it.records[0].get('record_id', '')}: {it.note}")
            for line in it.reason_lines():
                print(f"      {line}")
    if searcher.calibration is not None and chosen:
        print("\n" + messages.calibration_note(searcher.calibration.kind))
    if result is not None:
        print("\n" + messages.facts_note())
    print("\n" + messages.caveat())


# -- calibrated strength in search output (calibration.py) ---------------------------------------
def strength_text(searcher, c) -> str:
    """How strong a candidate is: the strangers of this archive expected to score as high."""
    return messages.candidate_strength(c, searcher.gallery_size)


def strength_json(searcher, c) -> dict:
    """The same in JSON: the stranger rate, the strangers expected, the band and the sentence."""
    return {
        "fpr": None if c.fpr is None else float(f"{c.fpr:.4g}"),
        "expected_strangers": None if c.expected_strangers is None else float(f"{c.expected_strangers:.4g}"),
        "band": c.band,
        "strength": strength_text(searcher, c),
    }


def calibration_json(searcher) -> dict | None:
    """Which stranger rates the strengths come from (the archive's own estimate or the reference table)."""
    cal = searcher.calibration
    if cal is None:
        return None
    return {
        "kind": cal.kind,  # "archive estimate" (from this index's own faces) or "reference table" (LFW)
        "engine": cal.engine,
        "scores": searcher.scoring.describe(),
        "source": cal.source,
        "impostor_pairs": cal.impostor_pairs,
        "faces": getattr(cal, "faces", None),
        "note": messages.calibration_note(cal.kind),
    }
