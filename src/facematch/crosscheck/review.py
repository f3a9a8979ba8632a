"""Stored pairs read back for people: folded duplicates, decisions, groups, linked records (`CrossCheck`).

A pair is never called a match; a group is never merged; nothing is copied into a record. Decisions
(same, different, unsure) are appended to their own append-only log, keyed by both photos' sha256 and face
boxes, so they survive re-indexing and a change of engine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from .. import calibration, faces, messages, neighbours, quality, records
from ..access import Account, check_cross_check
from ..i18n import _
from ..index import Index
from ..messages import DIFFERENT, SAME
from ..search import Searcher, split_records
from ..store import FaceRow
from .reasons import reason_text

#: Groups ("possibly the same person") are built only from pairs that are mutual and at least this band.
GROUP_BAND = "strong"

PAIR_DECISIONS = messages.PAIR_DECISIONS


@dataclass
class Pair:
    """A candidate pair: two archive faces that may show the same person. Not a match: a person decides."""

    id: str  # "A-B" (face ids), what `facematch link decide` takes
    a: FaceRow
    b: FaceRow
    score: float
    cosine: float
    mutual: bool
    kind: str  # "person" or "duplicate"
    duplicate: str  # why it is a duplicate image
    reasons: list[str]
    collections: tuple[str, str]
    expected_strangers: float | None = None
    band: str | None = None
    copies: int = 0  # duplicate images folded into this pair's faces
    decision: dict | None = None  # the latest decision on this pair (by both photos' sha256 + box)
    quality: tuple[quality.Quality, quality.Quality] | None = field(default=None, repr=False)  # of faces a, b

    @property
    def low(self) -> bool:
        """Is either face of low quality (quality.py)? Such a pair stays out of groups and comes after the
        others of its band in the queue."""
        return self.quality is not None and (self.quality[0].low or self.quality[1].low)

    def strength(self, gallery: int) -> str:
        if self.expected_strangers is None:
            return _("{label} {score} (no stranger rates for this engine)", label=messages.score_label(),
                     score=messages.decimal(self.score, 3))  # fmt: skip
        return messages.strength(self.band or "weak", self.expected_strangers, gallery=gallery)


def pair_id(a: int, b: int) -> str:
    return f"{min(a, b)}-{max(a, b)}"


def parse_pair_id(text: str) -> tuple[int, int]:
    try:
        a, b = (int(x) for x in str(text).split("-"))
    except ValueError:
        raise ValueError(
            _("a pair is written as two face ids joined by '-', e.g. 12-345, not '{text}'", text=text)
        ) from None
    return min(a, b), max(a, b)


class CrossCheck:
    """The stored pairs of an index read for people: folded duplicates, decisions, groups, review, export.

    Reading and deciding pairs needs only the index: the engine's fingerprint, the number of its faces (the
    gallery the stranger counts are for) and its stranger rates all come from the index, so no model is
    loaded and no derived file (FAISS file, neighbour lists, stranger estimate) is brought in step or
    rewritten. Only linking (run.link) needs a Searcher.
    """

    def __init__(self, source: Index | Searcher, account: Account | None = None, engine: str | None = None) -> None:
        """`source`: an open Index (with `engine`: which engine's pairs, by name; the index's default otherwise)
        or a Searcher (its index and engine; kept for the app and CLI, which hold one). `account`: the
        logged-in account on a team server (None in single-user mode). Its role must allow the cross-check
        (access.check_cross_check), and it is the reviewer of every decision made through it."""
        check_cross_check(account)
        self.account = account
        if isinstance(source, Index):
            self.s: Searcher | None = None  # kept for callers reading cc.s.gallery_size; use cc.gallery_size
            self.index = source
            self.fp = source.engine(engine)
            self.gallery_size = source.faces.count(self.fp)  # what a Searcher counts once FAISS is in step
            self.calibration = source.stranger_rates(self.fp, neighbours.Scoring.for_engine(self.fp), save=False)
        else:
            self.s = source
            self.index = source.index
            self.fp = source.fingerprint
            self.gallery_size = source.gallery_size
            self.calibration = source.calibration

    # -- pairs ------------------------------------------------------------------------------------
    def _load(self, rows: list[dict]) -> list[Pair]:
        ids = {r[x] for r in rows for x in ("a", "b")}
        faces = self.index.faces.by_id(ids)
        colls = self.index.faces.collection_of(ids)
        cal = self.calibration
        out = []
        for r in rows:
            fa, fb = faces.get(r["a"]), faces.get(r["b"])
            if fa is None or fb is None:
                continue
            mutual = r["rank_ab"] is not None and r["rank_ba"] is not None
            p = Pair(
                pair_id(r["a"], r["b"]), fa, fb, r["score"], r["cosine"], mutual,
                r["kind"], _(r["duplicate"]) if r["duplicate"] else "", [reason_text(x) for x in r["reasons"]],
                (colls.get(r["a"], ""), colls.get(r["b"], "")),
            )  # fmt: skip
            st = calibration.strangers(cal, p.score, self.gallery_size)
            if st is not None:
                p.expected_strangers, p.band = st.expected, st.band
            p.quality = (self._quality(fa), self._quality(fb))
            out.append(p)
        self._attach_decisions(out)
        return out

    def _quality(self, f: FaceRow) -> quality.Quality:
        if not hasattr(self, "_qualities"):
            self._qualities: dict[int, quality.Quality] = {}
        q = self._qualities.get(f.id)
        if q is None:
            q = self._qualities[f.id] = quality.of_row(f)
        return q

    def duplicates(self) -> list[Pair]:
        """Duplicate images (not evidence of the same person), most similar first."""
        return self._load(self.index.links.pairs(self.fp, "duplicate"))

    def copies(self) -> dict[int, int]:
        """face id -> the face that stands for its set of duplicate images (the lowest id)."""
        return components((r["a"], r["b"]) for r in self.index.links.pairs(self.fp, "duplicate"))

    def pairs(self, fold: bool = True, undecided: bool = False) -> list[Pair]:
        """Person pairs, strongest first: by band, within a band pairs of two good-quality faces first (a pair
        with a low-quality face, quality.py, after them), then by score. Folded: a pair through a copy of an
        image is shown once, through the face standing for its copies (the strongest such pair), with how many
        copies were folded."""
        rows = self.index.links.pairs(self.fp, "person")
        if fold:
            rep = self.copies()
            best: dict[tuple[int, int], dict] = {}
            folded: dict[tuple[int, int], int] = {}
            for r in rows:  # strongest first: the first seen stays
                key = tuple(sorted((rep.get(r["a"], r["a"]), rep.get(r["b"], r["b"]))))
                if key[0] == key[1]:
                    continue
                if key in best:
                    folded[key] = folded.get(key, 0) + 1
                else:
                    best[key] = r
            rows = list(best.values())
        out = self._load(rows)
        if fold:
            rep = self.copies()
            for p in out:
                key = tuple(sorted((rep.get(p.a.id, p.a.id), rep.get(p.b.id, p.b.id))))
                p.copies = folded.get(key, 0)
        if undecided:
            out = [p for p in out if p.decision is None]
        rank = {b: n for n, b in enumerate(calibration.BANDS)}
        return sorted(out, key=lambda p: (rank.get(p.band, 0), p.low))  # stable: by score within each

    def queue(
        self, count: int | None = None, band: str = "possible", every: bool = False, pairs: list[Pair] | None = None
    ) -> list[Pair]:
        """The review queue, strongest first (pairs()), undecided only unless `every`. Without `count`: the pairs
        of at least `band`. With `count`: the next `count` pairs whatever their band, going past `band` once its
        pairs run out ("the next 100 most likely pairs"); each pair keeps its band (Pair.band) to show. Only
        stored pairs: `facematch link` keeps person pairs of at least its --min-band. `pairs`: pairs() already
        read (a page that shows counts too reads them once)."""
        pairs = self.pairs() if pairs is None else pairs
        if not every:
            pairs = [p for p in pairs if p.decision is None]
        if count is not None:
            return pairs[: max(count, 0)]
        floor = calibration.BANDS.index(band)
        return [p for p in pairs if p.band is None or calibration.BANDS.index(p.band) <= floor]

    def review(
        self, count: int | None = None, band: str = "possible", every: bool = False, pairs: list[Pair] | None = None
    ) -> Queue:
        """The queue as `facematch link review` and the app's queue show it: queue(count, band, every) with what
        to say about it (Queue: how its pairs spread over the bands, from which one they are past `band`)."""
        return Queue(self.queue(count, band, every, pairs), band, count, every)

    def pair(self, text: str) -> Pair:
        a, b = parse_pair_id(text)
        rows = [r for r in self.index.links.pairs(self.fp) if (r["a"], r["b"]) == (a, b)]
        if not rows:
            raise ValueError(
                _(
                    "no candidate pair {pair} in this index (it may have left the queue: photo removed)",
                    pair=pair_id(a, b),
                )
            )
        return self._load(rows)[0]

    def next(self) -> Pair | None:
        """The strongest pair no one has decided yet."""
        todo = self.pairs(undecided=True)
        return todo[0] if todo else None

    # -- decisions --------------------------------------------------------------------------------
    def decide(self, pair: Pair | str, decision: str, reviewer: str, why: str = "", shown: list[str] = ()) -> dict:
        """Append a person's decision on a pair to the append-only log (keyed by both photos' sha256 + box)."""
        if decision not in PAIR_DECISIONS:
            raise ValueError(_("decision must be one of {choices}", choices=", ".join(PAIR_DECISIONS)))
        if self.account is not None:  # team mode: the reviewer is the account, never a typed name
            reviewer = self.account.name
        if not reviewer.strip():
            raise ValueError(_("say who is deciding: every decision records its reviewer"))
        p = self.pair(pair) if isinstance(pair, str) else pair
        (ka, fa), (kb, fb) = sorted([(face_key(p.a), p.a), (face_key(p.b), p.b)], key=lambda t: t[0])
        return self.index.links.append_decision(
            a=ka, b=kb, decision=decision, reviewer=reviewer.strip(), engine=self.fp, score=p.score,
            note=why.strip(), a_path=fa.relpath, b_path=fb.relpath,
            shown=list(shown) or pair_lines(p, self.gallery_size),
        )  # fmt: skip

    def log(self) -> list[dict]:
        """Every pair decision, oldest first: the audit log (it outlives pairs whose photos are gone)."""
        return self.index.links.decisions()

    def _attach_decisions(self, pairs: list[Pair]) -> None:
        shas = {f.sha256 for p in pairs for f in (p.a, p.b)}
        decided = [d for d in self.index.links.decisions() if d["a_sha256"] in shas and d["b_sha256"] in shas]
        if not decided:
            return
        for p in pairs:
            (ka, _), (kb, _) = sorted([(face_key(p.a), 0), (face_key(p.b), 0)], key=lambda t: t[0])
            same = [d for d in decided if faces.same_face(d["a_sha256"], d["a_box"], *ka)
                    and faces.same_face(d["b_sha256"], d["b_box"], *kb)]  # fmt: skip
            p.decision = same[-1] if same else None

    def linked_records(self, face: FaceRow) -> list[str]:
        """For a face with no record of its own: "a reviewer linked this face to record R on DATE" for each pair
        with a face that has a record, decided 'same' (latest decision). Nothing is copied into any record."""
        out = []
        latest: dict[tuple, dict] = {}
        for d in self.index.links.decisions(sha256=face.sha256):
            latest[(d["a_sha256"], d["a_box"], d["b_sha256"], d["b_box"])] = d
        for d in latest.values():
            if d["decision"] != SAME:
                continue
            for mine, other in (("a", "b"), ("b", "a")):
                if faces.same_face(d[f"{mine}_sha256"], d[f"{mine}_box"], face.sha256, face.box):
                    for r in self._records_of(d[f"{other}_sha256"], d[f"{other}_box"]):
                        when = messages.day(d["decided_at"])
                        why = f" ({d['note']})" if d["note"] else ""
                        out.append(
                            _("{reviewer} linked this face to record {record} on {when}{why}; nothing was copied "
                              "into a record", reviewer=d["reviewer"], record=r["record_id"], when=when, why=why)
                        )  # fmt: skip
        return out

    def _records_of(self, sha256: str, box: tuple) -> list[dict]:
        path = self.index.faces.photo_path_by_sha(sha256)
        if path is None:
            return []
        rows = self.index.db.execute(
            "SELECT f.id FROM faces f JOIN photos p ON p.id = f.photo_id WHERE p.sha256 = ? AND f.engine = ?",
            (sha256, self.fp),
        ).fetchall()
        same = [f for f in self.index.faces.by_id(r[0] for r in rows).values() if faces.same_box(f.box, box)]
        if not same:
            return []
        f = same[0]
        number, count = self.index.faces.numbers([f]).get(f.id, (1, 1))
        own, _ = split_records(
            self.index.records.for_files([f.filename]).get(f.filename, []), f.filename, number, count
        )
        return own

    def set_aside(self) -> SetAside:
        """How many low-quality faces (quality.py) the person pairs hold: kept out of groups, listed later."""
        return count_set_aside(self.pairs())

    # -- groups -----------------------------------------------------------------------------------
    def groups(self) -> list[list[Pair]]:
        """Groups "possibly the same person": connected faces through pairs that are (1) mutual (each face is
        among the other's k nearest), (2) strong (band GROUP_BAND: fewer than 1 stranger in 100 expected at
        that score in this archive), (3) not decided 'different' by a reviewer; duplicate images folded first.
        (4) between two faces of good quality (quality.py: a blurred or low-confidence face is close to everyone;
        set_aside() counts what this leaves out). A group is a suggestion, never merged: it is listed as its
        pairs, each reviewable on its own."""
        strong = [
            p for p in self.pairs() if p.mutual and p.band == GROUP_BAND and not p.low
            and not (p.decision is not None and p.decision["decision"] == DIFFERENT)
        ]  # fmt: skip
        group_of = components((p.a.id, p.b.id) for p in strong)
        out: dict[int, list[Pair]] = {}
        for p in strong:
            out.setdefault(group_of[p.a.id], []).append(p)
        return sorted(out.values(), key=lambda g: (-len(g), -g[0].score))


@dataclass
class Queue:
    """A stretch of the review queue (CrossCheck.review): the pairs, strongest first, and the band it is read
    against. With `count` it is "the next N most likely pairs", which go past the band once its pairs run out:
    each pair keeps its band, and `past` says from which one on they are past it. One text for the CLI and the
    app (lines, short)."""

    pairs: list[Pair]
    band: str
    count: int | None = None  # None: the pairs of at least `band`
    every: bool = False  # decided pairs too

    @property
    def past(self) -> int | None:
        """The number (from 1) of the first pair past the band, or None."""
        floor = calibration.BANDS.index(self.band)
        return next(
            (n for n, p in enumerate(self.pairs, 1) if p.band and calibration.BANDS.index(p.band) > floor), None
        )

    def counts(self) -> dict[str, int]:
        """Pairs per band (strong, possible, weak)."""
        return {b: sum(p.band == b for p in self.pairs) for b in calibration.BANDS}

    def lines(self, num: Callable[[int], str] = messages.number) -> list[str]:
        """What a researcher going down the queue by count is told first: how the pairs spread over the bands,
        and from which one on they are past the band (none without `count`)."""
        if self.count is None or not self.pairs:
            return []
        c = self.counts()
        head = _("The next {n} pairs no one has decided yet, strongest first: {strong} strong, {possible} possible, "
                 "{weak} weak.", n=num(len(self.pairs)), strong=num(c["strong"]), possible=num(c["possible"]),
                 weak=num(c["weak"]))  # fmt: skip
        out = [head]
        if self.past is not None:
            out.append(self.past_text(num))
        return out

    def past_text(self, num: Callable[[int], str] = messages.number) -> str:
        return _("From #{n} on they are past the band '{band}': less likely, shown by count as asked.",
                 n=num(self.past or 0), band=messages.band_text(self.band, decided=True))  # fmt: skip

    def short(self, num: Callable[[int], str] = messages.number) -> str | None:
        """When fewer pairs are stored than were asked for: why, and how to keep weaker ones."""
        if self.count is None or len(self.pairs) >= self.count:
            return None
        return _("Only {n} undecided pairs are stored: `facematch link` keeps person pairs of at least its "
                 "--min-band (default possible); `facematch link --min-band weak --full` keeps the weaker ones "
                 "too.", n=num(len(self.pairs)))  # fmt: skip


@dataclass
class SetAside:
    """Low-quality faces among the person pairs (quality.py): kept out of groups, their pairs listed after the
    others of their band."""

    faces: int  # faces of low quality in at least one person pair
    pairs: int  # person pairs with such a face (listed after the others of their band)
    from_groups: int  # of them, pairs a group would have taken (mutual, strong, not decided different)
    reasons: dict[str, int]  # faces per reason key (quality.Quality.tags: small, blurred, low_confidence, turned)

    def text(self) -> str:
        """One line for people, in the active language."""
        why = ", ".join(f"{_(quality.REASON_NAMES[k])} {n}" for k, n in sorted(self.reasons.items()))
        return _(
            "{faces} of low quality set aside ({why}): kept out of groups, their {pairs} listed after the others "
            "of their band ({groups} of them would otherwise be in groups)",
            faces=messages.count(self.faces, "face"), why=why or "-", pairs=messages.count(self.pairs, "pair"),
            groups=self.from_groups,
        )  # fmt: skip


def count_set_aside(pairs: list[Pair]) -> SetAside:
    """What quality set aside among these person pairs (CrossCheck.pairs())."""
    low: dict[int, quality.Quality] = {}
    n_pairs = n_groups = 0
    for p in pairs:
        if not p.low or p.quality is None:
            continue
        n_pairs += 1
        n_groups += p.mutual and p.band == GROUP_BAND and not (p.decision and p.decision["decision"] == DIFFERENT)
        for f, q in zip((p.a, p.b), p.quality, strict=True):
            if q.low:
                low[f.id] = q
    reasons: dict[str, int] = {}
    for q in low.values():
        for k in q.tags():
            reasons[k] = reasons.get(k, 0) + 1
    return SetAside(len(low), n_pairs, n_groups, reasons)


def components(edges: Iterable[tuple[int, int]]) -> dict[int, int]:
    """Connected faces: every face named by an edge -> the smallest face id joined to it through edges
    (union-find; the one used for sets of duplicate images and for groups)."""
    parent: dict[int, int] = {}

    def root(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]  # path halving: a step towards the root, never away from it
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = root(a), root(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)  # the smaller root stays: a root is its set's smallest id
    return {x: root(x) for x in list(parent)}


def face_key(f: FaceRow) -> faces.FaceKey:
    return faces.key(f.sha256, f.box)


def pair_lines(p: Pair, gallery: int) -> list[str]:
    """What a screen says beside a pair, as kept with a decision (and exported)."""
    lines = [f"{messages.score_label()} {messages.decimal(p.score, 3)}", p.strength(gallery)]
    lines.append(
        _("mutual: each face is among the other's nearest") if p.mutual
        else _("one-sided: only one face lists the other")
    )  # fmt: skip
    lines.append(_("collections: {a} / {b}", a=p.collections[0], b=p.collections[1]))
    lines += [_("records: {reason}", reason=r) for r in p.reasons]
    if p.duplicate:
        lines.append(_("duplicate image: {why}", why=p.duplicate))
    for side, q in zip("AB", p.quality or (), strict=False):
        if q.low:
            lines.append(_("face {side} set aside, low quality: {why}", side=side, why="; ".join(q.text())))
    return lines


def record_summary(index: Index, f: FaceRow) -> str:
    """One line about a face's own records (or that it has none)."""
    number, count = index.faces.numbers([f]).get(f.id, (1, 1))
    own, photo = split_records(index.records.for_files([f.filename]).get(f.filename, []), f.filename, number, count)
    if own:
        return "; ".join(records.record_summary(r) for r in own)
    if photo:  # a record of a group photo that does not say which face: about someone in it, maybe not this one
        return f"{messages.photo_record_only(count)}: " + "; ".join(records.record_summary(r) for r in photo)
    return _("no archive record")
