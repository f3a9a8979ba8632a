"""Case exports: an HTML report that prints well, and the audit log as CSV.

A caseworker must be able to justify a decision months later, so the report carries everything
needed to check it again: what the family knows, their photos (the face chosen in each and its year),
the photos side by side, scores and ranks, what the screen said beside each candidate when the person
decided (strength, what agreed or differed, ages), the engine fingerprint, the sha256 of every photo,
who decided what and when, and the caveat.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import time

from . import images, messages, thumbs
from .review import Case, Decision, Review
from .store import Faces

LABELS = {"confirm": "Confirmed by a person", "reject": "Rejected", "unsure": "Unsure"}


def audit_csv(review: Review, case_id: int | None = None) -> str:
    """Every decision, oldest first, one row each (a change of mind is a later row)."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(
        [
            "decision_id",
            "case_id",
            "decided_at_utc",
            "reviewer",
            "decision",
            "photo_sha256",
            "x1",
            "y1",
            "x2",
            "y2",
            "photo_path",
            "engine",
            "similarity_uncalibrated",
            "rank",
            "note",
            "shown_on_screen",
        ]
    )
    for d in review.log(case_id):
        w.writerow(
            [
                d.id,
                d.case_id,
                time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(d.decided_at)),
                d.reviewer,
                d.decision,
                d.photo_sha256,
                *d.box,
                d.photo_path,
                d.engine,
                f"{d.score:.4f}",
                d.rank,
                d.note,
                " | ".join(d.shown),
            ]
        )
    return out.getvalue()


def _img(data: bytes, mime: str = "image/jpeg", alt: str = "") -> str:
    return f'<img alt="{html.escape(alt)}" src="data:{mime};base64,{base64.b64encode(data).decode()}">'


def _face_img(faces: Faces, d: Decision) -> str:
    path = faces.photo_path_by_sha(d.photo_sha256)
    if path is None or not path.exists():
        return '<div class="missing">archive photo not found on this computer</div>'
    try:
        return _img(thumbs.jpeg_bytes(thumbs.crop(thumbs.load_full(path), d.box)), alt="archive face")
    except Exception as e:  # a report must still be written when one photo has gone bad
        return f'<div class="missing">cannot read the archive photo ({html.escape(str(e))})</div>'


def _facts_html(review: Review, case: Case) -> str:
    """What the family knows, as the case holds it (names in every script, birth year, county, notes)."""
    facts = review.facts(case.id)
    rows = []
    if facts.names:
        rows.append(("Names", " · ".join(facts.names)))
    if facts.birth_year:
        rows.append(("Born", f"about {facts.birth_year} (± {messages.plural(facts.birth_year_margin, 'year')})"))
    if facts.county:
        rows.append(("Home county", facts.county))
    if case.notes.strip():
        rows.append(("Notes", case.notes.strip()))
    if not rows:
        return "<p>Nothing recorded.</p>"
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in rows) + "</table>"


def _kept_photo_html(review: Review, case_id: int, kept) -> str:
    """A kept family photo with the chosen face boxed, its year and its hash (read through the Review: access
    checked, decrypted in team mode)."""
    rgb = images.decode(review.photo_bytes(case_id, kept.sha256), max_side=2000).rgb
    if kept.face_box is not None:
        rgb = thumbs.draw_faces(rgb, [kept.face_box], chosen=1, max_side=900)
    year = f"taken about {kept.photo_year}" if kept.photo_year else "year not given"
    chosen = "chosen face boxed" if kept.face_box is not None else "no face chosen yet (the largest is used)"
    return (
        f"<figure>{_img(thumbs.jpeg_bytes(rgb), alt=kept.original_name)}<figcaption>"
        f"{html.escape(kept.original_name)}<br>{year}; {chosen}<br>"
        f"<code>sha256 {html.escape(kept.sha256)}</code></figcaption></figure>"
    )


def _verdict_rows(review: Review, case: Case, faces: Faces) -> list[str]:
    """A two-reviewer case: one row per decided face with where it stands and every reviewer's latest decision
    (as far as the reader may see them: a face only others decided says so and shows nothing of theirs)."""
    rows = []
    for v in review.verdicts(case.id):
        if not v.decisions:
            rows.append(f"<tr><td colspan=5>{html.escape(v.text())}</td></tr>")
            continue
        first = v.decisions[0]
        each = "<br>".join(
            f"{LABELS[d.decision]} by {html.escape(d.reviewer)} on {d.when()}"
            + (f": {html.escape(d.note)}" if d.note else "")
            for d in v.decisions
        )
        shown = "<br>".join(html.escape(line) for line in first.shown) or "(not kept)"
        css = "confirm" if v.state == "confirmed" else "reject" if v.state == "rejected" else ""
        rows.append(
            f"<tr class='{css}'><td>{_face_img(faces, first)}</td><td><b>{html.escape(v.text())}</b><br>{each}</td>"
            f"<td>rank {first.rank}<br>{messages.SCORE_LABEL} {first.score:.3f}</td><td class='shown'>{shown}</td>"
            f"<td>{html.escape(first.photo_path)}<br><code>{first.photo_sha256}</code><br>box {first.box}</td></tr>"
        )
    return rows


def case_html(review: Review, case_id: int) -> str:
    """The case report: what the family knows, their photos, each decided candidate (latest decision, with
    what the screen showed), and the full log."""
    faces = review.index.faces
    case: Case = review.case(case_id)
    latest = sorted(review.current(case_id).values(), key=lambda d: (d.decision != "confirm", d.rank))
    log = review.log(case_id)
    queries = []
    for kept in review.case_photos(case_id):
        if kept.path.exists():
            try:
                queries.append(_kept_photo_html(review, case_id, kept))
            except Exception as e:  # one unreadable kept photo must not stop the report
                queries.append(f'<div class="missing">{html.escape(kept.original_name)}: cannot read ({e})</div>')
    if not queries:
        queries.append("<p>The family's photos were not kept in this case (they were used in memory only).</p>")
    rows = _verdict_rows(review, case, faces) if case.two_reviewers else []
    for d in [] if case.two_reviewers else latest:
        shown = "<br>".join(html.escape(line) for line in d.shown) or "(not kept: decided before facematch kept it)"
        rows.append(
            f"<tr class='{d.decision}'><td>{_face_img(faces, d)}</td>"
            f"<td><b>{messages.decision_label(d.decision)}</b><br>"
            f"by {html.escape(d.reviewer)} on {d.when()}<br>{html.escape(d.note)}</td>"
            f"<td>rank {d.rank}<br>{messages.score_label()} {d.score:.3f}</td>"
            f"<td class='shown'>{shown}</td>"
            f"<td>{html.escape(d.photo_path)}<br><code>{d.photo_sha256}</code><br>box {d.box}</td></tr>"
        )
    engines = sorted({d.engine for d in log})
    log_rows = "".join(
        f"<tr><td>{d.id}</td><td>{d.when()}</td><td>{html.escape(d.reviewer)}</td><td>{d.decision}</td>"
        f"<td><code>{d.photo_sha256[:16]}…</code> {d.box}</td><td>{d.rank}</td><td>{d.score:.3f}</td>"
        f"<td>{html.escape(d.note)}</td></tr>"
        for d in log
    )
    return f"""<!doctype html>
<html {messages.html_lang_dir()}>
<head><meta charset="utf-8"><title>facematch case: {html.escape(case.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
.caveat {{ border: 2px solid #b00; padding: .8em; background: #fff6f6; }}
table {{ border-collapse: collapse; width: 100%; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: .4em; vertical-align: top; font-size: 90%; }}
img {{ max-width: 180px; }} figure img {{ max-width: 260px; }} th {{ text-align: left; }}
td.shown {{ max-width: 28em; }} figure {{ display: inline-block; margin: 0 1em 1em 0; }}
tr.confirm td:first-child {{ border-left: 6px solid #2a9d8f; }}
tr.reject td:first-child {{ border-left: 6px solid #999; }}
code {{ font-size: 80%; word-break: break-all; }}
@media print {{ tr {{ page-break-inside: avoid; }} }}
</style></head><body>
<h1>Case: {html.escape(case.name)}</h1>
<p>Reviewer: {html.escape(case.reviewer)} · opened {time.strftime("%Y-%m-%d", time.localtime(case.created_at))}
{" · closed " + time.strftime("%Y-%m-%d", time.localtime(case.closed_at)) if case.closed_at else ""}
· report written {time.strftime("%Y-%m-%d %H:%M")}</p>
<p class="caveat">{html.escape(messages.caveat())}</p>
<h2>What the family knows</h2>{_facts_html(review, case)}
<h2>Photos of the missing person</h2>{"".join(queries)}
<h2>Decided candidates ({
        "each reviewer's latest decision; two reviewers must confirm"
        if case.two_reviewers
        else "latest decision for each"
    })</h2>
<table><tr><th>archive face</th><th>decision</th><th>rank / score</th><th>what the screen showed when deciding</th>
<th>archive photo</th></tr>
{"".join(rows) or "<tr><td colspan=5>No decisions yet.</td></tr>"}</table>
<p>{html.escape(messages.calibration_note())}</p>
<p>Engine(s): {", ".join(html.escape(e) for e in engines) or "none"}</p>
<h2>Audit log (every decision, never edited)</h2>
<table><tr><th>#</th><th>time</th><th>reviewer</th><th>decision</th><th>face</th><th>rank</th><th>score</th>
<th>note</th></tr>{log_rows}</table>
</body></html>"""
