"""Query photos in, ranked candidates out: the one ranking path.

A Searcher is an open index plus the engine that built it. Every list of candidates anyone sees, in
the CLI, the app, the combined photo + name list and `facematch evaluate search`, comes out of
`Searcher.rank`: FAISS shortlist -> exact re-rank from the stored embeddings -> stranger counts. So
an evaluation measures what users get, and a score means the same thing on every screen.

The score is the cosine similarity corrected for hubness (neighbours.py): an archive face that is close
to everyone (blurred, small, very average-looking) would otherwise crowd the first candidates of
unrelated searches, so each face's score is lowered by how crowded its own neighbourhood is, relative to
the archive's average: score = cosine - HUB_ALPHA x (r_g - mean r), r_g without the nearest neighbours likely
to be the same person photographed again (neighbours.Scoring.cut). The raw cosine is kept beside it.
`progress`: a bar while neighbour lists of an older facematch's rule are computed again for this one (once,
on the first open after an upgrade, unless `facematch index` did it before).

It refuses to search with an engine other than the one that built the index: comparing vectors of two
different models gives numbers that look like scores and mean nothing. One Searcher may serve many
threads (the app's browser sessions): the database hands each thread its own connection, and the
engine, whose detector keeps state between calls, is used by one thread at a time.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import calibration, images, neighbours
from .calibration import ArchiveCalibration, Calibration
from .engines import Face, FaceEngine, get_engine
from .engines.base import normalise
from .i18n import _
from .index import Index
from .store import FaceRow
from .vectors import EngineMismatch, ExactVectors, FaceVectors, stored_vectors


@dataclass
class QueryPhoto:
    """A query photo and every face found in it, numbered from the left as archive faces are (face numbers start
    at 1; store.faces.face_numbers), so a family's group photo and an archive group photo count the same way."""

    name: str
    faces: list[Face]
    width: int
    height: int
    rgb: np.ndarray = field(repr=False)  # the decoded image, possibly scaled down by `scale`
    error: str | None = None
    scale: float = 1.0

    def in_rgb(self, face: Face) -> Face:
        """A face (in original-photo coordinates) in the coordinates of self.rgb, for drawing or aligning."""
        return face.scaled(1.0 / self.scale)

    def largest(self) -> Face:
        """The largest face (what a search uses when nobody chose one)."""
        return max(self.faces, key=lambda f: float(f.box[2] - f.box[0]) * float(f.box[3] - f.box[1]))

    def number_of(self, face: Face) -> int:
        """A face's number in this photo, from the left (1-based)."""
        return next(n for n, f in enumerate(self.faces, start=1) if f is face)

    def pick(self, number: int | None = None) -> Face:
        """The face a person chose (1-based), or the largest one."""
        if not self.faces:
            raise ValueError(_("{photo}: no face found", photo=self.name))
        if number is None:
            return self.largest()
        if not 1 <= number <= len(self.faces):
            raise ValueError(
                _(
                    "{photo}: there is no face {number}; faces found: {found}",
                    photo=self.name,
                    number=number,
                    found=len(self.faces),
                )
            )
        return self.faces[number - 1]


#: Weight of the hubness correction (neighbours.ALPHA): score = cosine - HUB_ALPHA x (r_g - mean r).
HUB_ALPHA = neighbours.ALPHA


@dataclass
class Candidate:
    """A face in the archive that looks similar. Not a match: a person decides that."""

    rank: int  # 1 = most similar; 0 = beyond the ranks searched (a face reached by name, not by photo)
    similarity: float  # the score candidates are ranked by (cosine corrected for hubness)
    face: FaceRow
    records: list[dict]  # records about this face: they name it, or its photo shows no other face
    cosine: float | None = None  # the plain cosine similarity of the two embeddings
    # Calibrated strength (calibration.py), None when this engine fingerprint has no calibration:
    fpr: float | None = None  # rate at which an unrelated face scores at least this similarity
    expected_strangers: float | None = None  # fpr x faces in the searched index
    band: str | None = None  # "strong" / "possible" / "weak", from expected_strangers
    bound: bool = False  # the score is above every stranger measured: the rate is an upper bound
    # Records of the whole photo when it shows several faces and the record does not say which: they may
    # be about someone else in the photo, so they are shown as such and not weighed against the family's facts.
    photo_records: list[dict] = field(default_factory=list)
    face_number: int = 1  # this face's number in its photo, from the left (records name faces that way)
    faces_in_photo: int = 1


def _bad_photo(name: str, reason: str) -> QueryPhoto:
    return QueryPhoto(name, [], 0, 0, np.zeros((1, 1, 3), np.uint8), error=reason)


class Searcher:
    """An open index ready to answer queries (thread-safe; see the module docstring)."""

    def __init__(
        self,
        index: Index | Path,
        engine: str | None = None,
        models: Path | None = None,
        hubness: float = HUB_ALPHA,
        progress: bool = False,
    ) -> None:
        self._owns_index = not isinstance(index, Index)
        self.index: Index = Index.open(Path(index)) if self._owns_index else index  # type: ignore[arg-type]
        try:
            fp = self.index.engine(engine)
            self.engine: FaceEngine = get_engine(fp.name, models=models)
            if self.engine.fingerprint != fp:
                raise EngineMismatch(
                    _(
                        "this index was built with {built}, but the installed '{name}' model is {installed}. Scores "
                        "between different model weights mean nothing; index the photos again into a new folder.",
                        built=fp, name=self.engine.name, installed=self.engine.fingerprint,
                    )
                )  # fmt: skip
            self.vectors: FaceVectors = self.index.vectors(fp, self.engine.dim)
            self.scoring = neighbours.Scoring.for_engine(fp, alpha=float(hubness))
            self.alpha = self.scoring.alpha
            if self.alpha:  # lists missing after an interrupted run or from an older facematch are made now
                done = self.index.update_neighbours(fp, self.vectors, self.scoring, progress)
                self.hub_mean, self.hub_min = done.hub
            else:
                self.hub_mean, self.hub_min = self.index.neighbours.hub_range(fp, *self.scoring.lists)
            # How often strangers reach a score, for these weights and these scores: the archive's own
            # estimate where it is large enough, else the shipped reference table, else None (uncalibrated).
            self.calibration: Calibration | ArchiveCalibration | None = self.index.stranger_rates(fp, self.scoring)
        except BaseException:
            self.close()
            raise
        self._engine_lock = threading.Lock()
        self.state = self.archive_state()

    def archive_state(self) -> tuple:
        """What this Searcher was opened on, cheaply: the engine's faces (count, highest id), the records (count,
        highest row) and the FAISS file (size, time). `facematch index` or `records import` run while an app is
        open changes it; `changed()` says so, and a new Searcher on the same Index sees the new archive."""
        from .vectors import FaceVectors

        fp = str(self.engine.fingerprint)
        row = (
            self.index.db.read()
            .execute(
                """SELECT (SELECT COUNT(*) FROM faces WHERE engine = ?), (SELECT COALESCE(MAX(id), 0) FROM faces
               WHERE engine = ?), (SELECT COUNT(*) FROM records), (SELECT COALESCE(MAX(rowid), 0) FROM records)""",
                (fp, fp),
            )
            .fetchone()
        )
        faiss = FaceVectors.paths(self.index.folder, fp)[0]
        st = faiss.stat() if faiss.exists() else None
        return (*tuple(row), st.st_size if st else 0, st.st_mtime_ns if st else 0)

    def changed(self) -> bool:
        """Has the archive changed since this Searcher was opened (new photos or records indexed meanwhile)?"""
        return self.archive_state() != self.state

    def close(self) -> None:
        if self._owns_index:
            self.index.close()

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def fingerprint(self):
        return self.engine.fingerprint

    @property
    def gallery_size(self) -> int:
        return self.vectors.count

    # -- query photos -----------------------------------------------------------------------------
    def detect(self, data: bytes, name: str) -> QueryPhoto:
        """Find and embed every face in a query photo; a bad photo gives a QueryPhoto with .error set."""
        try:
            images.check_upload(data)
            dec = images.decode(data, upload=True)  # held to the upload limits: any account can send one
        except images.ImageError as e:
            return _bad_photo(name, str(e))
        try:
            with self._engine_lock:
                found = self.engine.analyze(dec.rgb)
        except Exception:  # a model failure on one odd photo is a message, like a bad file (never its internals)
            why = _("faces could not be looked for in this photo (an unusual file, or the server is short of memory)")
            return _bad_photo(name, why)
        faces = sorted((f.scaled(dec.scale) for f in found), key=from_the_left)
        return QueryPhoto(name, faces, dec.width, dec.height, dec.rgb, scale=dec.scale)

    def detect_file(self, path: Path) -> QueryPhoto:
        try:
            data = images.read_file(Path(path))
        except images.ImageError as e:
            return _bad_photo(str(path), str(e))
        return self.detect(data, str(path))

    def aligned_pair(self, query: QueryPhoto, face: Face, candidate: Candidate) -> tuple[np.ndarray, np.ndarray]:
        """The query face and the candidate face aligned the same way, for a side-by-side comparison."""
        from .thumbs import load_full

        archive = load_full(candidate.face.path)
        with self._engine_lock:
            return self.engine.align(query.rgb, query.in_rgb(face)), self.engine.align(
                archive, archive_face(candidate.face)
            )

    def aligned_archive(self, face: FaceRow) -> np.ndarray:
        """An archive face aligned as the engine aligns faces, to compare two archive faces side by side."""
        from .thumbs import load_full

        rgb = load_full(face.path)
        with self._engine_lock:
            return self.engine.align(rgb, archive_face(face))

    # -- ranking ----------------------------------------------------------------------------------
    def search(self, faces: list[Face], k: int = 50) -> list[Candidate]:
        """Candidates for one person shown in one or more query faces (embeddings fused by their mean)."""
        if not faces:
            raise ValueError(_("no query face to search with"))
        return self.rank(fuse([f.embedding for f in faces])[None, :], k)[0]

    def rank(self, queries: np.ndarray, k: int = 50) -> list[list[Candidate]]:
        """The k best candidates for each query embedding (rows of `queries`), best first (rank_ids)."""
        scores, cos, ids = self.rank_ids(queries, k)
        return self._candidates(scores, cos, ids, numbered=True)

    def rank_ids(self, queries: np.ndarray, k: int = 50) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(scores, cosines, face ids) of the k best archive faces for each query, best first: what `rank`
        shows, without building Candidates (the archive cross-check, crosscheck/ranker.py, ranks a million faces so)."""
        return rank_ids(
            self.vectors,
            normalise(np.atleast_2d(queries)),
            k,
            stored_vectors(self.index.faces, self.engine.dim),
            self.offsets if self.alpha else None,
            self.alpha * (self.hub_mean - self.hub_min),
        )

    def offsets(self, ids: np.ndarray) -> np.ndarray:
        """What the hubness correction takes off each archive face's cosine: HUB_ALPHA x (r_g - mean r)
        (0 for a face without r_g, and for id -1)."""
        hub = self.index.neighbours.hub(np.where(ids >= 0, ids, 0).ravel(), *self.scoring.lists).reshape(ids.shape)
        return self.scoring.offsets(hub, self.hub_mean, np.float32)

    def candidates_for(self, faces: list[Face], face_ids: set[int], ranked: list[Candidate]) -> dict[int, Candidate]:
        """Candidates for chosen archive faces (e.g. found by name), scored against the query as `rank` scores.

        `ranked` is what `search` returned for the same query: a face in it keeps its rank there; any
        other gets rank 0 ("beyond the ranks searched").
        """
        if not faces or not face_ids:
            return {}
        known = {c.face.id: c for c in ranked}
        out = {fid: known[fid] for fid in face_ids if fid in known}
        rest = np.array(sorted(face_ids - set(out)), dtype=np.int64)[None, :]
        if rest.size:
            vecs = stored_vectors(self.index.faces, self.engine.dim)(rest[0])
            cos = np.nan_to_num(vecs @ fuse([f.embedding for f in faces]), nan=-np.inf)[None, :]
            for c in self._candidates(self.shown_scores(cos, rest), cos, rest, numbered=False)[0]:
                out[c.face.id] = c
        return out

    def shown_scores(self, cos: np.ndarray, ids: np.ndarray) -> np.ndarray:
        """Cosines with archive faces `ids` -> the scores this search shows for them (rank and candidates rank
        by these): minus HUB_ALPHA x (r_g - mean r), no correction for a face without r_g or with hubness off."""
        return neighbours.shown_score(cos, self.offsets(ids) if self.alpha else None)

    def _candidates(
        self, scores: np.ndarray, cos: np.ndarray, ids: np.ndarray, numbered: bool
    ) -> list[list[Candidate]]:
        """Rows of (score, cosine, face id) -> Candidates with their photo, records and stranger counts."""
        rows = self.index.faces.by_id({int(i) for row in ids for i in row if i >= 0})
        records = self.index.records.for_files({r.filename for r in rows.values()})
        numbers = self.index.faces.numbers(rows.values())
        out = []
        for row in zip(scores, cos, ids, strict=True):
            cands: list[Candidate] = []
            for score, c, fid in zip(*row, strict=True):
                face = rows.get(int(fid))
                if fid < 0 or face is None or not np.isfinite(score):
                    continue
                rank = len(cands) + 1 if numbered else 0
                number, count = numbers.get(face.id, (1, 1))
                own, photo = split_records(records.get(face.filename, []), face.filename, number, count)
                cand = Candidate(rank, float(score), face, own, cosine=float(c), photo_records=photo)
                cand.face_number, cand.faces_in_photo = number, count
                cands.append(self.calibrated(cand))
            out.append(cands)
        return out

    def calibrated(self, c: Candidate) -> Candidate:
        """Fill in how many strangers in this index are expected to look at least this similar."""
        st = calibration.strangers(self.calibration, c.similarity, self.gallery_size)
        if st is not None:
            c.fpr, c.expected_strangers, c.band, c.bound = st.fpr, st.expected, st.band, st.bound
        return c


def rank_ids(
    vectors: FaceVectors,
    q: np.ndarray,
    k: int,
    exact: ExactVectors | None,
    offsets: Callable[[np.ndarray], np.ndarray] | None = None,
    spread: float = 0.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The one ranking path: (scores, cosines, ids), each (len(q), k), best first; id -1 in empty slots.

    FAISS proposes a shortlist by cosine (an approximate index: by its codes); the exact embeddings
    (`exact`) give the true cosines, and the hubness correction (`offsets`: what to take off each face's
    cosine) the final order. The shortlist is widened, for the rows that need it only, until no face
    outside it could rise into the first k: a face outside has a cosine at most the shortlist's last,
    and its correction can add at most `spread` (= HUB_ALPHA x (mean r - smallest r)).
    `q` must hold unit rows; a whole block of queries goes to FAISS in one call (where it is fast).
    """
    total = vectors.count
    out = [np.full((len(q), k), fill, dtype) for fill, dtype in ((-np.inf, np.float32), (-np.inf, np.float32),
                                                                 (-1, np.int64))]  # fmt: skip
    rows = np.arange(len(q))
    wide = min(total, max(2 * k, k + 20)) if offsets is not None else k
    while len(rows) and total:
        cos, ids = vectors.search(q[rows], wide, exact=exact)
        scores = np.where(ids >= 0, neighbours.shown_score(cos, offsets(ids) if offsets is not None else None), -np.inf)
        order = np.argsort(-scores, axis=1, kind="stable")[:, :k]
        top = [np.take_along_axis(a, order, 1) for a in (scores, cos, ids)]
        n = top[0].shape[1]
        if offsets is None or wide >= total:
            done = np.ones(len(rows), bool)
        else:
            floor = np.where(ids >= 0, cos, np.inf).min(axis=1)  # the shortlist's smallest cosine
            done = floor + spread < top[0][:, -1]
        for a, t in zip(out, top, strict=True):
            a[rows[done], :n] = t[done]
        rows = rows[~done]
        wide = min(total, wide * 4)
    return out[0], out[1], out[2]


def split_records(records: list[dict], filename: str, number: int, count: int) -> tuple[list[dict], list[dict]]:
    """(records about this face, records of its whole group photo). A record is about a face when it names
    that face ("photo.jpg#2") or names the photo and the photo shows no other face; a record naming
    another face of the photo is left out, and one naming a photo of several faces is the photo's."""
    own, photo = [], []
    for r in records:
        named = (r.get("photo_faces") or {}).get(filename)
        if named == number or (named is None and count == 1):
            own.append(r)
        elif named is None:
            photo.append(r)
    return own, photo


def from_the_left(face: Face) -> tuple[float, float]:
    """The order faces of a photo are numbered in: by the centre, left to right, then top first (as
    store.faces.face_numbers numbers archive faces, and as a caption reads a group photo)."""
    x1, y1, x2, y2 = (float(v) for v in face.box)
    return ((x1 + x2) / 2, (y1 + y2) / 2)


def archive_face(row: FaceRow) -> Face:
    """A stored face as an engine Face (full-resolution photo coordinates), e.g. to align it for display."""
    return Face(np.array(row.box, np.float32), np.array(row.landmarks, np.float32), row.det_score)


def fuse(embeddings: list[np.ndarray]) -> np.ndarray:
    """Several photos of one person -> one query: the normalised mean of their embeddings."""
    return normalise(np.mean(normalise(np.stack(embeddings)), axis=0))
