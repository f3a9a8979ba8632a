"""A name as comparable words: every word of a name in any script as a `Token` (as written, its Latin
reading, its ASCII folding and its sound keys), and how a record's name agrees with a query (`Agreement`).

Families know a relative's name as they write it; the archives write it as a Chinese clerk heard it.
Each name becomes, per word (token):
  - a Latin reading (`latin`): pinyin for Chinese characters, Uyghur Latin (ULY) for Uyghur Arabic
    script, ULY-like letters for Cyrillic, the spelling itself for Latin script; shown in reasons;
  - a phonetic key (`key`): consonant classes with every run of vowels as "V", so that the sounds
    which transliteration changes (b/p/f, d/t, k/q/g/gh, s/sh/pinyin x, j/ch/pinyin q/Turkish c,
    w/v/y/h, doubled letters, vowels a/e/é/i...) stop mattering, while the consonant skeleton that
    carries a name survives. Chinese transliteration also hears r as l ("巴拉克" for Barack), so keys
    of names that went through Chinese merge r into l, and the query's key is merged the same way
    when it is compared with them.

Nothing here decides who anybody is: a name that agrees is a reason to look, shown as such.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from .scripts import (
    _SEPARATORS,
    arabic_to_latin,
    coarse_key,
    cyrillic_to_latin,
    detect_script,
    fold_latin,
    han_to_pinyin,
    is_pinyin,
    phonetic_key,
)


@dataclass(frozen=True)
class Token:
    """One word of a name: as written, its Latin reading, its plain ASCII folding and its sound keys."""

    written: str
    script: str
    latin: str
    plain: str
    key: str  # sound classes with vowels (phonetic_key)

    @property
    def coarse(self) -> str:
        return coarse_key(self.key)


@dataclass(frozen=True)
class NameForm:
    written: str
    script: str  # the script of most of its letters; "pinyin" for Latin words that read as pinyin
    tokens: tuple[Token, ...]

    @property
    def latin(self) -> str:
        return " ".join(t.latin for t in self.tokens)

    @property
    def plain(self) -> str:
        return "".join(t.plain for t in self.tokens)

    @property
    def heard_in_chinese(self) -> bool:
        """Written in characters or pinyin: r and l were already merged by the clerk's ear."""
        return self.script in ("han", "pinyin")

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(t.key for t in self.tokens)

    @property
    def key(self) -> str:
        return "".join(self.keys)

    @property
    def coarse_keys(self) -> tuple[str, ...]:
        return tuple(t.coarse for t in self.tokens)

    @property
    def coarse(self) -> str:
        return "".join(self.coarse_keys)


def _token(written: str) -> Token | None:
    script = detect_script(written)
    if script == "han":
        latin = han_to_pinyin(written)
        plain = fold_latin(latin)
        return Token(written, "han", latin, plain, phonetic_key(plain, pinyin=True))
    if script == "arabic":
        latin = arabic_to_latin(written)
    elif script == "cyrillic":
        latin = cyrillic_to_latin(written)
    elif script == "latin":
        latin = written.replace("İ", "i").lower()
    else:
        return None
    plain = fold_latin(latin)
    if not plain:
        return None
    return Token(written, script, latin, plain, phonetic_key(plain))


def _as_pinyin(t: Token) -> Token:
    return Token(t.written, "pinyin", t.latin, t.plain, phonetic_key(t.plain, pinyin=True))


def _words(text: str) -> list[str]:
    """Words of a name; a run of Chinese characters and a run of another script are separate words."""
    out = []
    for part in _SEPARATORS.split(text):
        runs = re.findall(
            r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[^\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+", part
        )
        out.extend(r for r in runs if r.strip())
    return out


@lru_cache(maxsize=4096)
def normalise(name: str) -> NameForm:
    """A name in any script as comparable words. Never raises: an empty or unreadable name has no tokens."""
    name = unicodedata.normalize("NFKC", str(name or "")).strip()
    tokens = tuple(t for w in _words(name) if (t := _token(w)) is not None)
    # A Latin name reads as pinyin only if all its Latin words do ("Tuerxun Maimaiti", not "Mirzat Hesen").
    latin = [t for t in tokens if t.script == "latin"]
    if latin and all(is_pinyin(t.plain) for t in latin) and sum(len(t.plain) for t in latin) >= 6:
        tokens = tuple(_as_pinyin(t) if t.script == "latin" else t for t in tokens)
    scripts = [t.script for t in tokens]
    script = max(set(scripts), key=scripts.count) if scripts else ""
    return NameForm(name, script, tokens)


# -- comparing two names ----------------------------------------------------------------------------
@dataclass(frozen=True)
class Agreement:
    """How a record's name agrees with the name searched for: a score (0-100) and word pairs as reasons."""

    score: float
    pairs: tuple[tuple[Token, Token], ...]  # (record word, query word as read)
    record: NameForm
    query: NameForm
    notes: tuple[str, ...] = ()  # per pair: why the query word was read so ("" when as written)

    def reason(self) -> str:
        """ "阿布都外力 → abuduwaili ≈ abduweli; 阿尤普 → ayoupu ≈ ayup" (record words first); a word read
        through the name table or with an ending set aside says so in brackets."""
        if not self.pairs:
            return f"{_shown(self.record.written, self.record.latin)} ≈ {self.query.latin}"
        notes = self.notes or ("",) * len(self.pairs)
        return "; ".join(
            f"{_shown(r.written, r.latin)} ≈ {q.latin}" + (f" ({note})" if note else "")
            for (r, q), note in zip(self.pairs, notes, strict=True)
        )

    @property
    def read_by_rule(self) -> bool:
        """True if a word agreed only through the name table or with an ending set aside."""
        return any(self.notes)


def _shown(written: str, latin: str) -> str:
    return written if fold_latin(written) == fold_latin(latin) and written.isascii() else f"{written} → {latin}"
