"""Query photos in, ranked candidates out.

A Searcher opens an index once (database, engine, FAISS) so the CLI and the app share one code
path. It refuses to search with an engine other than the one that built the index: comparing
vectors of two different models gives numbers that look like scores and mean nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import calibration, images
from .calibration import Calibration
from .engines import DEFAULT_ENGINE, Face, FaceEngine, get_engine
from .engines.base import normalise
from .store import FaceRow, Store
from .vectors import EngineMismatch, FaceVectors, stored_vectors, sync


@dataclass
class QueryPhoto:
    """A query photo and every face found in it, largest first (face numbers start at 1)."""

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

    def pick(self, number: int | None = None) -> Face:
        """The face a person chose (1-based), or the largest one."""
        if not self.faces:
            raise ValueError(f"{self.name}: no face found")
        if number is None:
            return self.faces[0]
        if not 1 <= number <= len(self.faces):
            raise ValueError(f"{self.name}: there is no face {number}; faces found: {len(self.faces)}")
        return self.faces[number - 1]


@dataclass
class Candidate:
    """A face in the archive that looks similar. Not a match: a person decides that."""

    rank: int
    similarity: float
    face: FaceRow
    records: list[dict]
    # Calibrated strength (calibration.py), None when this engine fingerprint has no calibration:
    fpr: float | None = None  # rate at which an unrelated face scores at least this similarity
    expected_strangers: float | None = None  # fpr x faces in the searched index
    band: str | None = None  # "strong" / "possible" / "weak", from expected_strangers


def index_engine(store: Store, requested: str | None) -> str:
    """The engine fingerprint to search with: the requested engine's, checked against the index."""
    present = {fp: n for fp, n in store.engines().items() if n > 0} or store.engines()
    if not present:
        raise EngineMismatch("this index holds no faces yet; run `facematch index PHOTO_DIR` first")
    by_name = {fp.split("@", 1)[0]: fp for fp in present}
    if requested is None:
        if len(by_name) == 1:
            return next(iter(by_name.values()))
        if DEFAULT_ENGINE in by_name:
            return by_name[DEFAULT_ENGINE]
        raise EngineMismatch(
            f"this index holds faces from several engines ({', '.join(by_name)}); choose one with --engine"
        )
    if requested not in by_name:
        raise EngineMismatch(
            f"this index was built with {', '.join(by_name)}, not '{requested}'. Search with "
            f"--engine {next(iter(by_name))}, or index the photos again with --engine {requested}."
        )
    return by_name[requested]


class Searcher:
    """An open index ready to answer queries."""

    def __init__(self, index_dir: Path, engine: str | None = None, models: Path | None = None) -> None:
        self.index_dir = Path(index_dir)
        if not (self.index_dir / "facematch.sqlite").is_file():
            raise FileNotFoundError(f"no facematch index in {self.index_dir}; run `facematch index PHOTO_DIR` first")
        self.store = Store(self.index_dir)
        fp = index_engine(self.store, engine)
        self.engine: FaceEngine = get_engine(fp.split("@", 1)[0], models=models)
        if self.engine.fingerprint != fp:
            raise EngineMismatch(
                f"this index was built with {fp}, but the installed '{self.engine.name}' model is "
                f"{self.engine.fingerprint}. Scores between different model weights mean nothing; "
                "index the photos again into a new folder."
            )
        self.vectors: FaceVectors = sync(self.store, self.index_dir, fp, self.engine.dim)
        # Only a calibration made with exactly these weights says how strangers score (else None).
        self.calibration: Calibration | None = calibration.for_engine(fp)

    def close(self) -> None:
        self.store.close()

    def __enter__(self) -> Searcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def gallery_size(self) -> int:
        return self.vectors.count

    def detect(self, data: bytes, name: str) -> QueryPhoto:
        """Find and embed every face in a query photo; a bad photo gives a QueryPhoto with .error set."""
        try:
            dec = images.decode(data)
        except images.ImageError as e:
            return QueryPhoto(name, [], 0, 0, np.zeros((1, 1, 3), np.uint8), error=str(e))
        try:
            faces = [f.scaled(dec.scale) for f in self.engine.analyze(dec.rgb)]
        except Exception as e:  # a model failure on one odd photo is a message, like a bad file
            return QueryPhoto(name, [], 0, 0, np.zeros((1, 1, 3), np.uint8), error=f"face detection failed ({e})")
        return QueryPhoto(name, faces, dec.width, dec.height, dec.rgb, scale=dec.scale)

    def detect_file(self, path: Path) -> QueryPhoto:
        try:
            data = images.read_file(Path(path))
        except images.ImageError as e:
            return QueryPhoto(str(path), [], 0, 0, np.zeros((1, 1, 3), np.uint8), error=str(e))
        return self.detect(data, str(path))

    def aligned_pair(self, query: QueryPhoto, face: Face, candidate: Candidate) -> tuple[np.ndarray, np.ndarray]:
        """The query face and the candidate face aligned the same way, for a side-by-side comparison."""
        from .thumbs import load_full

        q = self.engine.align(query.rgb, query.in_rgb(face))
        c = self.engine.align(load_full(candidate.face.path), archive_face(candidate.face))
        return q, c

    def search(self, faces: list[Face], k: int = 50) -> list[Candidate]:
        """Candidates for one person shown in one or more query faces (embeddings fused by their mean)."""
        if not faces:
            raise ValueError("no query face to search with")
        query = fuse([f.embedding for f in faces])
        # An approximate index only proposes a shortlist; the stored embeddings give the exact scores.
        scores, ids = self.vectors.search(query, k, exact=stored_vectors(self.store, self.engine.dim))
        ids_list = [int(i) for i in ids[0] if i >= 0]
        rows = self.store.faces_by_id(ids_list)
        records = self.store.records_for_files(r.filename for r in rows.values())
        out = []
        for score, fid in zip(scores[0], ids[0], strict=True):
            if fid < 0 or int(fid) not in rows:
                continue
            row = rows[int(fid)]
            out.append(self.calibrated(Candidate(len(out) + 1, float(score), row, records.get(row.filename, []))))
        return out

    def calibrated(self, c: Candidate) -> Candidate:
        """Fill in how many strangers in this index are expected to look at least this similar."""
        if self.calibration is not None:
            c.fpr = self.calibration.fpr_at(c.similarity)
            c.expected_strangers = c.fpr * self.gallery_size
            c.band = calibration.band(c.expected_strangers)
        return c


def archive_face(row: FaceRow) -> Face:
    """A stored face as an engine Face (full-resolution photo coordinates), e.g. to align it for display."""
    return Face(np.array(row.box, np.float32), np.array(row.landmarks, np.float32), row.det_score)


def fuse(embeddings: list[np.ndarray]) -> np.ndarray:
    """Several photos of one person -> one query: the normalised mean of their embeddings."""
    return normalise(np.mean(normalise(np.stack(embeddings)), axis=0))
