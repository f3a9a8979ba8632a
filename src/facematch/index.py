"""An open index folder: the one object everything else goes through to reach an index.

An index folder holds the SQLite database (the source of truth: photos, faces, records, cases,
decisions), one FAISS file per engine (derived from the database, rebuilt from it when needed) and
the photos kept in cases. `Index.open` opens it or fails once, with the one message a person sees
wherever they came from (CLI, app, backup, check). After that, every reader and writer uses its
parts: `faces`, `records` and `cases` (storage by subject, store/), `vectors()` for an engine's FAISS
index brought in step with the database, and `engine()` for the fingerprint a search must use.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import calibration, neighbours
from .engines import DEFAULT_ENGINE
from .fingerprint import Fingerprint
from .i18n import _
from .store import DB_NAME, Cases, Database, Faces, Links, Neighbours, Records
from .vectors import EngineMismatch, FaceVectors, VectorsState, state, sync


class NoIndex(FileNotFoundError):
    """The folder holds no facematch index."""


def no_index_message(folder: Path) -> str:
    """The one thing a person is told, wherever they came from, when a folder holds no index."""
    return _(
        "no facematch index in {folder}; build one with `facematch index PHOTO_DIR --index {folder}`", folder=folder
    )


#: The derived files of an index folder, rebuilt from the database whenever they are missing: one FAISS file and
#: its sidecar per engine, and the archive's own stranger estimate per engine. Backups copy them and a restore
#: replaces them as a set, so no file of another index is left beside a restored database.
DERIVED_FILES = ("faces-*.faiss", "faces-*.json", "strangers-*.json")


def derived_files(folder: Path) -> list[Path]:
    """The derived files present in an index folder (DERIVED_FILES), sorted."""
    return sorted(f for pattern in DERIVED_FILES for f in Path(folder).glob(pattern) if f.is_file())


class Index:
    """An index folder, open for reading on any thread and writing through one path (store.Database)."""

    def __init__(self, folder: Path, db: Database) -> None:
        self.folder = Path(folder)
        self.db = db
        self.faces = Faces(db)
        self.neighbours = Neighbours(db)
        self.records = Records(db)
        self.cases = Cases(db)
        self.links = Links(db)

    @classmethod
    def open(cls, folder: Path, create: bool = False) -> Index:
        """Open an index folder; with create, make it (and its database) if it does not exist yet."""
        folder = Path(folder)
        if not (folder / DB_NAME).is_file():
            if not create:
                raise NoIndex(no_index_message(folder))
            folder.mkdir(parents=True, exist_ok=True)
        return cls(folder, Database(folder))

    @staticmethod
    def exists(folder: Path) -> bool:
        return (Path(folder) / DB_NAME).is_file()

    def close(self) -> None:
        self.db.close()

    # -- the families' data (team mode) -----------------------------------------------------------
    @property
    def encrypted(self) -> bool:
        """Are this index's families' data encrypted (a team server has unlocked it at least once)?"""
        return self.db.get_meta("vault") is not None

    def unlock(self, passphrase: str | None) -> bool:
        """Open (or, the first time, create) the key of the families' data; returns True when it was created.

        A wrong passphrase raises vault.VaultError and changes nothing. Every unlock then brings the families'
        data into its sealed form (Cases.seal_existing): the first time, what single-user mode wrote, sealed in
        the same transaction that records the key; after a kill at any point of that, whatever it left; after an
        upgrade, values sealed before they were bound to their case and row.
        """
        from .vault import Vault

        stored = self.db.get_meta("vault")
        vault, record = Vault.unlock(stored, passphrase)
        self.cases.vault = vault
        if self.cases.seal_existing(self.folder, record):
            self.db.checkpoint()  # the plaintext pages the WAL still holds go into the (zeroed) main file now
        return stored is None

    def __enter__(self) -> Index:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- engines ----------------------------------------------------------------------------------
    def engines(self) -> dict[Fingerprint, int]:
        """Engine fingerprints this index was built with, and how many faces each found."""
        return self.faces.engines()

    def engine(self, requested: str | None = None) -> Fingerprint:
        """The fingerprint to search with: the requested engine's (by name), checked against the index.

        With none requested, the only engine in the index, or the default one if there are several.
        """
        present = self.faces.engine_names() or list(self.engines())
        if not present:
            raise EngineMismatch(
                _(
                    "this index holds no faces yet; run `facematch index PHOTO_DIR --index {folder}` first",
                    folder=self.folder,
                )
            )
        by_name = {fp.name: fp for fp in present}
        if requested is None:
            if len(by_name) == 1:
                return next(iter(by_name.values()))
            if DEFAULT_ENGINE in by_name:
                return by_name[DEFAULT_ENGINE]
            raise EngineMismatch(
                _(
                    "this index holds faces from several engines ({engines}); choose one with --engine",
                    engines=", ".join(by_name),
                )
            )
        name = Fingerprint(requested).name if "@" in requested else requested
        if name not in by_name:
            raise EngineMismatch(
                _(
                    "this index was built with {built}, not '{name}'. Search with --engine {first}, or index the "
                    "photos again with --engine {name}.",
                    built=", ".join(by_name),
                    name=name,
                    first=next(iter(by_name)),
                )
            )
        return by_name[name]

    def refuse_other_weights(self, fingerprint: Fingerprint) -> None:
        """Same engine name with other weights or pre-processing in this index: refuse rather than mix embeddings."""
        for fp in self.engines():
            if fp.name == fingerprint.name and fp != fingerprint:
                raise EngineMismatch(
                    _(
                        "this index holds '{name}' faces made with other model weights or pre-processing ({old}); "
                        "this facematch makes {new}. Scores between the two mean nothing. Add --reindex to index the "
                        "photos again into this index (its cases, decisions and records are kept), or use a new "
                        "--index folder.",
                        name=fp.name, old=fp, new=fingerprint,
                    )
                )  # fmt: skip

    def drop_other_weights(self, fingerprint: Fingerprint) -> list[Fingerprint]:
        """Remove the faces and scans an engine made with other weights or pre-processing, and their FAISS file
        and stranger estimate, before indexing again (`facematch index --reindex`).

        Cases, decisions and records stay: a decision points at a photo's sha256 and a face box, not at a
        face id, so it finds its face again in the new scan (review.annotate, by box overlap).
        """
        dropped = [fp for fp in self.engines() if fp.name == fingerprint.name and fp != fingerprint]
        for fp in dropped:
            with self.db.write() as c:
                c.execute("DELETE FROM faces WHERE engine = ?", (fp,))
                c.execute("DELETE FROM scans WHERE engine = ?", (fp,))
                c.execute("DELETE FROM faces_gone WHERE engine = ?", (fp,))
            for path in (*FaceVectors.paths(self.folder, fp), self.folder / f"strangers-{fp.slug}.json"):
                path.unlink(missing_ok=True)
        return dropped

    # -- the FAISS side ---------------------------------------------------------------------------
    def vectors_state(self, fingerprint: str, thorough: bool = False) -> VectorsState:
        """Is the engine's FAISS file in step with the database? (vectors.state: the one answer.)"""
        return state(self.faces, self.folder, fingerprint, thorough)

    def vectors(self, fingerprint: str, dim: int | None = None, rebuild: bool = False) -> FaceVectors:
        """The engine's FAISS index, brought in step with the database first (and saved if it moved)."""
        dim = dim or self.faces.embedding_dim(fingerprint)
        if dim is None:
            raise EngineMismatch(_("this index holds no faces of {engine}", engine=fingerprint))
        return sync(self.faces, self.folder, fingerprint, dim, rebuild=rebuild)

    def update_neighbours(
        self, fingerprint: str, vectors: FaceVectors, scoring: neighbours.Scoring | None = None, progress: bool = False
    ):
        """Bring every face's nearest-neighbour list (and so its hub value) in step (neighbours.py), for the scores
        a search with this engine shows unless `scoring` says otherwise."""
        scoring = scoring or neighbours.Scoring.for_engine(fingerprint)
        return neighbours.update(self.faces, self.neighbours, vectors, fingerprint, scoring, progress)

    def stranger_rates(
        self, fingerprint: Fingerprint, scoring: neighbours.Scoring, refresh: bool = False, save: bool = True
    ):
        """The stranger rates a search of this index uses for these scores (calibration.py).

        The archive's own estimate (strangers-<engine>.json beside the FAISS file, redone when the archive
        has changed size by more than a tenth), else the shipped reference table for these exact weights
        and this kind of score (for archives under calibration.MIN_ARCHIVE_FACES faces; its source says
        so), else None: the scores are then shown as uncalibrated. `save=False` (reading stored pairs) makes
        a missing or stale estimate in memory only: the index folder is left as it is.
        """
        reference = calibration.for_engine(fingerprint)
        if reference is not None and reference.scoring != scoring.to_json():
            reference = None
        path = self.folder / f"strangers-{fingerprint.slug}.json"
        n = self.faces.count(fingerprint)
        saved = calibration.ArchiveCalibration.load(path, fingerprint)
        if (
            saved is not None
            and not refresh
            and saved.scoring == scoring.to_json()
            and reference is not None
            and saved.method.get("reference", {}).get("impostor_pairs") == reference.impostor_pairs
            and not saved.needs_update(n)
        ):
            return saved
        if reference is None or n < calibration.MIN_ARCHIVE_FACES:
            return calibration.for_archive(
                np.zeros((n, 1), np.float32), [], reference, self._adjust(fingerprint, scoring)
            )
        ids, codes = self.faces.image_codes(fingerprint)  # one pass each: lookups by id took a minute at 1M
        vectors = self.faces.all_embeddings(fingerprint, ids, self.faces.embedding_dim(fingerprint))
        found = calibration.for_archive(vectors, codes, reference, self._adjust(fingerprint, scoring, ids))
        if save and isinstance(found, calibration.ArchiveCalibration):
            found.save(path)
        return found

    def _adjust(self, fingerprint: Fingerprint, scoring: neighbours.Scoring, ids: np.ndarray | None = None):
        """The per-face offsets a search takes off the cosine (None for plain cosine scores)."""
        if not scoring.corrected:
            return None
        ids = self.faces.ids(fingerprint) if ids is None else ids
        mean, _ = self.neighbours.hub_range(fingerprint, *scoring.lists)
        return calibration.ScoreAdjustment(gallery=scoring.offsets(self.neighbours.hub(ids, *scoring.lists), mean))

    # -- summaries --------------------------------------------------------------------------------
    def summary(self) -> dict:
        """What `facematch info` shows: folders, photos, records, and per engine its faces and FAISS file."""
        info: dict = {
            "index": str(self.folder.resolve()),
            "roots": len(self.faces.roots()),
            "photos": self.faces.photo_count(),
            "records": self.records.count(),
            "folders": self.faces.roots(),
            "collections": self.faces.collections(),
            "engines": {},
        }
        for fp, n in self.engines().items():
            st = self.vectors_state(fp)
            saved = st.vectors
            info["engines"][fp] = {
                "faces": n,
                "photos": self.faces.status_counts(fp),
                "faiss_file": "in step" if st.in_step else f"will be brought in step on next use ({st.problem})",
                "index_type": saved.spec.to_json() if saved is not None else None,
                "retrain_hint": saved.retrain_advice() if saved is not None else None,
            }
        return info
