"""The engine fingerprint: which model, with exactly which weights, made an embedding.

Every stored embedding carries one, because vectors of two different models (or two versions of one
model's weights) give numbers that look like similarities and mean nothing. It is stored as the text
``name@digest`` (e.g. ``sface@3f2a...``); this type is that text, so it compares, hashes and stores as
a plain string, and it owns the one way of reading its parts instead of each caller splitting on "@".
"""

from __future__ import annotations


class Fingerprint(str):
    """``name@digest``: an engine name (``sface``, ``dlib``, ``insightface:buffalo_l``) and a weights digest."""

    __slots__ = ()

    def __new__(cls, text: str) -> Fingerprint:
        text = str(text)
        if "@" not in text or not text.split("@", 1)[0]:
            raise ValueError(f"not an engine fingerprint (expected name@digest): {text!r}")
        return super().__new__(cls, text)

    @classmethod
    def of(cls, name: str, digest: str) -> Fingerprint:
        return cls(f"{name}@{digest}")

    @property
    def name(self) -> str:
        """The engine's registry name, which `engines.get_engine` loads."""
        return self.split("@", 1)[0]

    @property
    def digest(self) -> str:
        return self.split("@", 1)[1]

    @property
    def slug(self) -> str:
        """A file-name-safe form of the engine name, for files kept per engine (FAISS, calibration)."""
        return slug(self.name)

    def same_engine(self, other: str) -> bool:
        """Same engine name, whatever the weights: the case where mixing them must be refused."""
        return Fingerprint(other).name == self.name


def slug(name: str) -> str:
    """A file-name-safe form of an engine name ("insightface:buffalo_l" -> "insightface-buffalo_l")."""
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name)
