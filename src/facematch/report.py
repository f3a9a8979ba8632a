"""Case exports: an HTML report that prints well, and the audit log as CSV.

A caseworker must be able to justify a decision months later, so the report carries everything
needed to check it again: what the family knows, their photos (the face chosen in each and its year),
the photos side by side, scores and ranks, what the screen said beside each candidate when the person
decided (strength, what agreed or differed, ages), the engine fingerprint, the sha256 of every photo,
who decided what and when, and the caveat.
"""

from __future__ import annotations

import base64
import html
import io
import time

from . import csvcells, fonts, images, messages, thumbs
from .i18n import _
from .review import Case, Decision, Review
from .store import Faces

LABELS = {"confirm": "Confirmed by a person", "reject": "Rejected", "unsure": "Unsure"}


def audit_csv(review: Review, case_id: int | None = None) -> str:
    """Every decision, oldest first, one row each (a change of mind is a later row). The header is in the active
    language (messages.COLUMNS); the values (decisions, hashes, times in UTC) are the stored ones."""
    out = io.StringIO()
    w = csvcells.writer(out)  # a note or file name beginning with = is text, never a formula
    w.writerow(messages.audit_header())  # English identifiers in English; the reader's language otherwise
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
        missing = _("archive photo not found on this computer")
        return f'<div class="missing">{html.escape(missing)}</div>'
    try:
        return _img(thumbs.jpeg_bytes(thumbs.crop(thumbs.load_full(path), d.box)), alt=_("archive face"))
    except Exception as e:  # a report must still be written when one photo has gone bad
        why = _("cannot read the archive photo ({why})", why=e)
        return f'<div class="missing">{html.escape(why)}</div>'


def _facts_html(review: Review, case: Case) -> str:
    """What the family knows, as the case holds it (names in every script, birth year, county, notes)."""
    facts = review.facts(case.id)
    rows = []
    if facts.names:
        rows.append((_("Names"), " · ".join(facts.names)))
    if facts.birth_year:
        years = messages.count(facts.birth_year_margin, "year")
        rows.append((_("Born"), _("about {year} (± {years})", year=facts.birth_year, years=years)))
    if facts.county:
        rows.append((_("Home county"), facts.county))
    if case.notes.strip():
        rows.append((_("Notes"), case.notes.strip()))
    if not rows:
        nothing = _("Nothing recorded.")
        return f"<p>{html.escape(nothing)}</p>"
    return "<table>" + "".join(f"<tr><th>{k}</th><td>{html.escape(v)}</td></tr>" for k, v in rows) + "</table>"


def _kept_photo_html(review: Review, case_id: int, kept) -> str:
    """A kept family photo with the chosen face boxed, its year and its hash (read through the Review: access
    checked, decrypted in team mode)."""
    rgb = images.decode(review.photo_bytes(case_id, kept.sha256), max_side=2000, upload=True).rgb  # a family photo
    if kept.face_box is not None:
        rgb = thumbs.draw_faces(rgb, [kept.face_box], chosen=1, max_side=900)
    year = _("taken about {year}", year=kept.photo_year) if kept.photo_year else _("year not given")
    chosen = _("chosen face boxed") if kept.face_box is not None else _("no face chosen yet (the largest is used)")
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
            html.escape(messages.decided_by(d.decision, d.reviewer, d.decided_at))
            + (f": {html.escape(d.note)}" if d.note else "")
            for d in v.decisions
        )  # fmt: skip
        shown = "<br>".join(html.escape(line) for line in first.shown) or _("(not kept)")
        css = "confirm" if v.state == "confirmed" else "reject" if v.state == "rejected" else ""
        rows.append(
            f"<tr class='{css}'><td>{_face_img(faces, first)}</td><td><b>{html.escape(v.text())}</b><br>{each}</td>"
            f"<td>{_rank_score(first)}</td><td class='shown'>{shown}</td>"
            f"<td>{html.escape(first.photo_path)}<br><code>{first.photo_sha256}</code><br>{_box(first)}</td></tr>"
        )
    return rows


def _rank_score(d: Decision) -> str:
    return _("rank {rank}", rank=d.rank) + f"<br>{html.escape(messages.score_label())} {messages.decimal(d.score, 3)}"


def _box(d: Decision) -> str:
    return _("box {box}", box=list(d.box))


def _day(when: float) -> str:
    return html.escape(messages.day(when))


#: Fonts that have Uyghur's Arabic letters and Simplified Chinese, named first so a browser or a printer uses them
#: when installed; the shipped Noto slices the report's own text needs are inlined last (fonts.embedded), so the
#: file stays self-contained and still renders on a computer that has neither script.
FONTS = (
    'system-ui, "Noto Sans", "Noto Sans Arabic", "Noto Naskh Arabic", "UKIJ Tuz Tom", "Microsoft Uighur", '
    '"Noto Sans SC", "Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
    + ", ".join(f'"{f}"' for f in fonts.FAMILIES)
    + ", sans-serif"
)


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
                why = _("cannot read ({why})", why=e)
                queries.append(f'<div class="missing">{html.escape(kept.original_name)}: {html.escape(why)}</div>')
    if not queries:
        not_kept = _("The family's photos were not kept in this case (they were used in memory only).")
        queries.append(f"<p>{html.escape(not_kept)}</p>")
    rows = _verdict_rows(review, case, faces) if case.two_reviewers else []
    for d in [] if case.two_reviewers else latest:
        shown = "<br>".join(html.escape(line) for line in d.shown) or _("(not kept: decided before facematch kept it)")
        by = _("by {reviewer} on {when}", reviewer=d.reviewer, when=d.when())
        rows.append(
            f"<tr class='{d.decision}'><td>{_face_img(faces, d)}</td>"
            f"<td><b>{messages.decision_label(d.decision)}</b><br>"
            f"{html.escape(by)}<br>"
            f"{html.escape(d.note)}</td>"
            f"<td>{_rank_score(d)}</td>"
            f"<td class='shown'>{shown}</td>"
            f"<td>{html.escape(d.photo_path)}<br><code>{d.photo_sha256}</code><br>{_box(d)}</td></tr>"
        )
    engines = sorted({d.engine for d in log})
    log_rows = "".join(
        f"<tr><td>{d.id}</td><td>{d.when()}</td><td>{html.escape(d.reviewer)}</td>"
        f"<td>{html.escape(messages.decision_word(d.decision))}</td>"
        f"<td><code>{d.photo_sha256[:16]}…</code> {d.box}</td><td>{d.rank}</td><td>{messages.decimal(d.score, 3)}</td>"
        f"<td>{html.escape(d.note)}</td></tr>"
        for d in log
    )
    closed = (" · " + _("closed {day}", day=_day(case.closed_at))) if case.closed_at else ""
    heading = (
        _("Decided candidates (each reviewer's latest decision; two reviewers must confirm)")
        if case.two_reviewers
        else _("Decided candidates (latest decision for each)")
    )
    t = {k: html.escape(v) for k, v in {
        "title": _("facematch case: {name}", name=case.name),
        "case": _("Case: {name}", name=case.name),
        "meta": _(
            "Reviewer: {reviewer} · opened {opened}", reviewer=case.reviewer, opened=messages.day(case.created_at)
        ),
        "written": _("report written {when}", when=messages.day(time.time()) + time.strftime(" %H:%M")),
        "knows": _("What the family knows"), "photos": _("Photos of the missing person"), "decided": heading,
        "face": _("archive face"), "decision": _("decision"), "rank_score": _("rank / score"),
        "shown": _("what the screen showed when deciding"), "photo": _("archive photo"),
        "none": _("No decisions yet."), "audit": _("Audit log (every decision, never edited)"),
        "time": _("time"), "reviewer": _("reviewer"), "rank": _("rank"), "score": _("score"), "note": _("note"),
        "engines": _("Engine(s): {engines}", engines=", ".join(engines) or _("none")),
    }.items()}  # fmt: skip
    page = f"""<!doctype html>
<html {messages.html_lang_dir()}>
<head><meta charset="utf-8"><title>{t["title"]}</title>
<style>
/*FONTS*/
body {{ font-family: {FONTS}; margin: 2em; color: #222; }}
.caveat {{ border: 2px solid #b00; padding: .8em; background: #fff6f6; }}
table {{ border-collapse: collapse; width: 100%; margin: 1em 0; }}
td, th {{ border: 1px solid #ccc; padding: .4em; vertical-align: top; font-size: 90%; }}
img {{ max-width: 180px; }} figure img {{ max-width: 260px; }} th {{ text-align: start; }}
td.shown {{ max-width: 28em; }} figure {{ display: inline-block; margin-block: 0 1em; margin-inline: 0 1em; }}
tr.confirm td:first-child {{ border-inline-start: 6px solid #2a9d8f; }}
tr.reject td:first-child {{ border-inline-start: 6px solid #999; }}
code {{ font-size: 80%; word-break: break-all; unicode-bidi: isolate; direction: ltr; }}
@media print {{ tr {{ page-break-inside: avoid; }} }}
</style></head><body>
<h1>{t["case"]}</h1>
<p>{t["meta"]}{closed} · {t["written"]}</p>
<p class="caveat">{html.escape(messages.caveat())}</p>
<h2>{t["knows"]}</h2>{_facts_html(review, case)}
<h2>{t["photos"]}</h2>{"".join(queries)}
<h2>{t["decided"]}</h2>
<table><tr><th>{t["face"]}</th><th>{t["decision"]}</th><th>{t["rank_score"]}</th><th>{t["shown"]}</th>
<th>{t["photo"]}</th></tr>
{"".join(rows) or f"<tr><td colspan=5>{t['none']}</td></tr>"}</table>
<p>{html.escape(messages.calibration_note())}</p>
<p>{t["engines"]}</p>
<h2>{t["audit"]}</h2>
<table><tr><th>#</th><th>{t["time"]}</th><th>{t["reviewer"]}</th><th>{t["decision"]}</th><th>{t["face"]}</th>
<th>{t["rank"]}</th><th>{t["score"]}</th><th>{t["note"]}</th></tr>{log_rows}</table>
</body></html>"""
    return page.replace("/*FONTS*/", fonts.embedded(page), 1)
