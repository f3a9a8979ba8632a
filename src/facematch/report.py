"""Case exports: an HTML report that prints well, and the audit log as CSV.

A caseworker must be able to justify a decision months later, so the report carries everything
needed to check it again: the photos side by side, scores and ranks, the engine fingerprint, the
sha256 of every photo, who decided what and when, and the caveat.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import time

from . import messages, thumbs
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


def case_html(review: Review, case_id: int) -> str:
    """The case report: query photos, each decided candidate (latest decision), and the full log."""
    faces = review.index.faces
    case: Case = review.case(case_id)
    latest = sorted(review.current(case_id).values(), key=lambda d: (d.decision != "confirm", d.rank))
    log = review.log(case_id)
    queries = []
    for path, original in review.case_photos(case_id):
        if path.exists():
            data = thumbs.jpeg_bytes(thumbs.load_full(path))
            queries.append(
                f"<figure>{_img(data, alt=original)}<figcaption>{html.escape(original)}<br>"
                f"<code>sha256 {html.escape(path.stem)}…</code></figcaption></figure>"
            )
    if not queries:
        queries.append("<p>The family's photos were not kept in this case (they were used in memory only).</p>")
    rows = []
    for d in latest:
        rows.append(
            f"<tr class='{d.decision}'><td>{_face_img(faces, d)}</td><td><b>{LABELS[d.decision]}</b><br>"
            f"by {html.escape(d.reviewer)} on {d.when()}<br>{html.escape(d.note)}</td>"
            f"<td>rank {d.rank}<br>{messages.SCORE_LABEL} {d.score:.3f}</td>"
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
<html lang="en"><head><meta charset="utf-8"><title>facematch case: {html.escape(case.name)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em; color: #222; }}
.caveat {{ border: 2px solid #b00; padding: .8em; background: #fff6f6; }}
table {{ border-collapse: collapse; width: 100%; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: .4em; vertical-align: top; font-size: 90%; }}
img {{ max-width: 180px; }} figure {{ display: inline-block; margin: 0 1em 1em 0; }}
tr.confirm td:first-child {{ border-left: 6px solid #2a9d8f; }}
tr.reject td:first-child {{ border-left: 6px solid #999; }}
code {{ font-size: 80%; word-break: break-all; }}
@media print {{ tr {{ page-break-inside: avoid; }} }}
</style></head><body>
<h1>Case: {html.escape(case.name)}</h1>
<p>Reviewer: {html.escape(case.reviewer)} · opened {time.strftime("%Y-%m-%d", time.localtime(case.created_at))}
{" · closed " + time.strftime("%Y-%m-%d", time.localtime(case.closed_at)) if case.closed_at else ""}
· report written {time.strftime("%Y-%m-%d %H:%M")}</p>
<p>{html.escape(case.notes)}</p>
<p class="caveat">{html.escape(messages.CAVEAT)}</p>
<h2>Photos of the missing person</h2>{"".join(queries)}
<h2>Decided candidates (latest decision for each)</h2>
<table><tr><th>archive face</th><th>decision</th><th>rank / score</th><th>archive photo</th></tr>
{"".join(rows) or "<tr><td colspan=4>No decisions yet.</td></tr>"}</table>
<p>Engine(s): {", ".join(html.escape(e) for e in engines) or "none"}</p>
<h2>Audit log (every decision, never edited)</h2>
<table><tr><th>#</th><th>time</th><th>reviewer</th><th>decision</th><th>face</th><th>rank</th><th>score</th>
<th>note</th></tr>{log_rows}</table>
</body></html>"""
