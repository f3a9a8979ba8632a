"""Other readings of one word of a name searched for: the name's usual writing in the other script, and
the name with an affectionate or honorific ending set aside.

Phonetic rules (scripts.py, forms.py) find most spellings of a name, but two kinds of family-side spelling escape them:
  - Chinese writes many common names by convention, not by sound: 司马义 for Ismayil, 肖合来提 or 肖开提
    for Shöhret, 穆罕默德 beside 买买提 for Memet. A table of common Uyghur given names with their usual
    Chinese transcriptions and Latin spellings (names/data/uyghur_given_names.tsv, read once) gives those
    writings, and each is tried as if the family had typed it.
  - Families add endings that records often leave out (Alimjan for the 阿力木 of a record, Gülnisaxan for
    古丽尼沙): -jan (affectionate), -han/-xan and -hun/-xun (honorific), -gül. The name with the ending
    set aside is tried *in addition* to the name as written, at a small cost, so the written name wins
    whenever a record has it.
Every other reading carries a note that the hit's reason shows ("compared as 'Alim' after setting aside the
affectionate ending '-jan'"): a person must see why a record was found, and that it was found by a rule.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .forms import Token, normalise
from .scripts import arabic_to_latin, cyrillic_to_latin, fold_latin, han_to_pinyin, phonetic_key

TABLE_PATH = Path(__file__).resolve().parent / "data" / "uyghur_given_names.tsv"

#: What a reading with an ending set aside costs (points of 0-100) against the name as written: a record
#: that has the whole name ("阿力木江" for "Alimjan") must rank above one that has only its stem ("阿力木").
#: Chosen on the development half of the variant set; small enough that a stem found exactly still
#: clears the default threshold (88).
FOLD_COST = 4.0
#: -gül is part of most female names (Aygül, Nurgül): setting it aside costs more, and is done only when
#: the whole word is not itself a name of the table while what is left is one.
GUL_COST = 6.0
#: At most this many readings of one word are tried (the name as written first).
MAX_READINGS = 8


@dataclass(frozen=True)
class GivenName:
    """One row of the name table."""

    uly: str
    sex: str
    chinese: tuple[str, ...]
    latin: tuple[str, ...]
    base: str = ""  # for a name formed with an ending (Alimjan), the name without it (Alim)

    @property
    def spellings(self) -> tuple[str, ...]:
        return (self.uly, *self.latin)


@dataclass(frozen=True)
class Ending:
    """An ending a family may add to a name that a record may not have."""

    label: str  # as shown: "-jan"
    meaning: str  # "affectionate", "honorific"
    spellings: tuple[str, ...]  # folded Latin (fold_latin) spellings of the ending
    han: tuple[str, ...]  # its Chinese writings
    known_stem: bool  # set aside only when what is left is a name of the table
    cost: float


ENDINGS: tuple[Ending, ...] = (
    # Turkish writes -can, Kazakh/Russian Cyrillic -жан (zhan), Uzbek -jon
    Ending("-jan", "affectionate", ("jan", "can", "zhan", "dzhan", "djan", "jon"), ("江",), False, FOLD_COST),
    Ending("-han", "honorific", ("han", "xan", "khan"), ("汗", "罕"), True, FOLD_COST),
    Ending("-hun", "honorific", ("hun", "xun", "khun"), ("洪",), True, FOLD_COST),
    Ending("-gül", "flower", ("gul",), ("古丽", "古力"), True, GUL_COST),
)


@dataclass(frozen=True)
class Reading:
    """One way to read a word of the query: the token to compare, what it costs, and why it is tried."""

    token: Token
    cost: float = 0.0
    note: str = ""  # empty for the word as written
    chinese: bool | None = None  # compare as a name heard in Chinese (None: as the query as a whole)
    shown: str = ""  # the query word as the reason shows it ("" : the token's Latin reading)
    han_records_only: bool = False  # a table's Chinese writing: compared with names heard in Chinese only
    rows: frozenset[int] = frozenset()  # the name table's rows this reading is (none: not a known name)
    stem_rows: frozenset[int] = frozenset()  # for a word not in the table: the rows of its stems (Gülnisaxan)

    @property
    def ident(self) -> tuple[str, str, bool | None, bool]:
        """Two readings with the same ident score every name alike (compared once). A Chinese writing is
        compared by its consonant skeleton only: 买买提 and 麦麦提 are one comparison."""
        key = "" if self.chinese else self.token.key
        return (key, self.token.coarse, self.chinese, self.han_records_only)


class NameTable:
    """The name table, indexed by how a word can be looked up in it: Chinese characters as written, the
    pinyin of those characters (for pinyin typed in Latin letters), and the phonetic key of every Latin
    spelling (so Shöhret, Shohret and Şöhret, or a Uyghur Arabic شۆھرەت read as ULY, find the same row)."""

    def __init__(self, rows: Iterable[GivenName]) -> None:
        self.rows: list[GivenName] = list(rows)
        self.by_han: dict[str, list[GivenName]] = {}
        self.by_pinyin: dict[str, list[GivenName]] = {}
        self.by_key: dict[str, list[GivenName]] = {}
        self.by_plain: dict[str, list[GivenName]] = {}
        self._ids = {id(r): i for i, r in enumerate(self.rows)}
        by_uly = {r.uly: i for i, r in enumerate(self.rows)}
        #: row id of a name formed with an ending -> row id of the name without it (Alimjan -> Alim)
        self.base_of: dict[int, int] = {
            i: by_uly[r.base] for i, r in enumerate(self.rows) if r.base and r.base in by_uly
        }
        for row in self.rows:
            for zh in row.chinese:
                _add(self.by_han, zh, row)
                _add(self.by_pinyin, fold_latin(han_to_pinyin(zh)), row)
            for spelling in row.spellings:
                plain = fold_latin(spelling)
                if plain:
                    _add(self.by_plain, plain, row)
                    _add(self.by_key, phonetic_key(plain), row)

    def __len__(self) -> int:
        return len(self.rows)

    def lookup(self, token: Token) -> list[GivenName]:
        """Rows this word may be (several when spellings collide; none for a name not in the table)."""
        if token.script == "han":
            return self.by_han.get(token.written, [])
        if token.script == "pinyin":
            return self.by_pinyin.get(token.plain, [])
        return self._latin(token.key, token.plain)

    def _latin(self, key: str, plain: str) -> list[GivenName]:
        """A spelling the table lists is that row only ("Hesen" is not "Yaseen", though their sound keys
        agree once h and y are dropped); a spelling it does not list, the rows of its sound key."""
        return self.by_plain.get(plain) or self.by_key.get(key, [])

    def knows(self, token: Token) -> bool:
        return bool(self.lookup(token))

    def row_ids(self, token: Token) -> frozenset[int]:
        return frozenset(self._ids[id(r)] for r in self.lookup(token))

    def with_endings(self, rows: frozenset[int]) -> frozenset[int]:
        """Rows of the names formed from these with an ending (Alim -> Alimjan)."""
        return frozenset(i for i, b in self.base_of.items() if b in rows)

    def jan_stem_ids_of(self, key: str, plain: str, chinese: bool) -> list[int]:
        """Rows of the name a record word is with -jan added (阿力木江, Alimjan: Alim), by the rule, for
        names the table does not list with the ending."""
        if chinese:
            stem = plain[:-5] if plain.endswith("jiang") and len(plain) >= 8 else ""
            found = self.by_pinyin.get(stem, []) if stem else []
        else:
            found = []
            for end in ("jan", "can", "zhan", "jon"):
                if plain.endswith(end) and len(plain) - len(end) >= 3:
                    stem = plain[: -len(end)]
                    found = self._latin(phonetic_key(stem), stem)
                    break
        return [self._ids[id(r)] for r in found]

    def row_ids_of(self, key: str, plain: str, chinese: bool) -> list[int]:
        """Rows of a record word as stored (its phonetic key, plain letters, and whether it went through
        Chinese): pinyin is looked up as such, other words by their spelling, else their sound key."""
        found = self.by_pinyin.get(plain, []) if chinese else self._latin(key, plain)
        return [self._ids[id(r)] for r in found]


def _add(d: dict[str, list[GivenName]], k: str, row: GivenName) -> None:
    lst = d.setdefault(k, [])
    if row not in lst:
        lst.append(row)


def load_table(path: Path = TABLE_PATH) -> NameTable:
    """Read the table file (comment lines start with '#'). Raises ValueError naming a malformed row."""
    rows = []
    with open(path, encoding="utf-8", newline="") as f:
        lines = (line for line in f if line.strip() and not line.startswith("#"))
        for n, r in enumerate(csv.DictReader(lines, delimiter="\t", quoting=csv.QUOTE_NONE), start=1):
            uly, chinese = (r.get("uly") or "").strip(), [z for z in (r.get("chinese") or "").split("|") if z]
            if not uly or not chinese or not normalise(uly).tokens:
                raise ValueError(f"{path.name}: row {n} has no readable name or no Chinese transcription: {r}")
            latin = tuple(x for x in (r.get("latin") or "").split("|") if x)
            note = (r.get("note") or "").strip()
            base = note.split(" + ")[0] if " + -" in note else ""
            rows.append(GivenName(uly, (r.get("sex") or "").strip(), tuple(chinese), latin, base))
    return NameTable(rows)


@lru_cache(maxsize=1)
def table() -> NameTable:
    """The packaged name table, read once per process."""
    return load_table()


# -- readings of a query word -----------------------------------------------------------------------
def _token(text: str) -> Token | None:
    """One word as a token (None if the text is not one readable word)."""
    form = normalise(text)
    return form.tokens[0] if len(form.tokens) == 1 else None


def _table_readings(token: Token, cost: float, why: str, shown: str = "") -> list[Reading]:
    """The usual writings, in the other script, of the names of the table this word may be."""
    out = []
    for row in table().lookup(token):
        if token.script in ("han", "pinyin"):
            targets = [(row.uly, False), *((zh, True) for zh in row.chinese if zh != token.written)]
        else:
            targets = [(zh, True) for zh in row.chinese]
        for text, chinese in targets:
            # A table's Latin spelling (for a Chinese query) is compared as a name heard in Chinese
            # (consonant skeletons): "Memet" for the record's 买买提 must not be held to vowels Chinese
            # never had. A table's Chinese writing is compared with Chinese names only, pinyin to pinyin
            # (NameIndex): its skeleton against a Latin name would merge names that differ only in vowels
            # (Osman, Hesen), and a short writing's skeleton agrees with every short name.
            t = _token(text)
            if t is None:
                continue
            zh = text if chinese else token.written
            note = f"{why}name table: {zh} is a usual Chinese writing of {row.uly}"
            out.append(Reading(t, cost, note, True, shown or token.written, chinese))
    return out


def _strip(written: str, n_plain: int, fold: Callable[[str], str]) -> str:
    """The written word without the letters that fold to its last n_plain plain letters."""
    target = fold(written)[:-n_plain]
    for k in range(1, len(written) + 1):
        if fold(written[:-k]) == target:
            return written[:-k]
    return written


def _folds(token: Token) -> list[tuple[Token, Ending, str]]:
    """(stem token, ending, ending as written) for each ending this word may carry."""
    out = []
    known = table()
    whole_known = known.knows(token)
    for ending in ENDINGS:
        if token.script == "han":
            spellings = [
                (h, len(h)) for h in ending.han if token.written.endswith(h) and len(token.written) > len(h) + 1
            ]
        elif token.script == "pinyin":
            continue  # "Alimujiang": the pinyin of the characters; rare from a family, and ambiguous
        else:
            spellings = [(s, len(s)) for s in ending.spellings if token.plain.endswith(s)]
        for suffix, n in spellings:
            if token.script == "han":
                stem_written = token.written[:-n]
            else:
                fold = {
                    "arabic": lambda s: fold_latin(arabic_to_latin(s)),
                    "cyrillic": lambda s: fold_latin(cyrillic_to_latin(s)),
                }.get(token.script, fold_latin)
                stem_written = _strip(token.written, n, fold)
            stem = _token(stem_written) if stem_written else None
            if stem is None or len(stem.plain) < 3 or not any(c in "aeiou" for c in stem.plain):
                continue
            if ending.known_stem and not known.knows(stem):
                continue
            if ending.label == "-gül" and whole_known:
                continue
            if not ending.known_stem and len(stem.plain) < 4 and not known.knows(stem):
                continue  # "Merjan" is not Mer + -jan
            written_end = token.written[len(stem_written) :] if token.script != "han" else suffix
            out.append((stem, ending, written_end))
    return out


def readings(token: Token, use_table: bool = True, use_endings: bool = True) -> list[Reading]:
    """The word as written, then its other readings, cheapest first (duplicates compared once)."""
    found = [Reading(token)]
    if use_table:
        found += _table_readings(token, 0.0, "")
    if use_endings:
        for stem, ending, written_end in _folds(token):
            end = ending.label if token.script == "latin" else f"{ending.label}, {written_end}"
            why = f"compared as '{stem.written}' after setting aside the {ending.meaning} ending '{end}'"
            found.append(Reading(stem, ending.cost, why, None))
            if use_table:
                found += _table_readings(stem, ending.cost, why + "; ", stem.written)
    out, seen = [], set()
    known = table()
    for r in sorted(found, key=lambda r: r.cost):  # stable: the word as written stays first
        if r.ident not in seen:
            seen.add(r.ident)
            out.append(dataclasses.replace(r, rows=known.row_ids(r.token)) if use_table else r)
    if use_table and not out[0].rows:
        # A word the table does not know whose stem it knows (Gülnisaxan: Gülnisa) is that name, for
        # telling it from other names of the table (古力仙 Gülshen sounds like "Gülnisaxan" too)
        stems = frozenset().union(*(r.rows for r in out[1:] if r.cost and r.chinese is None))
        out[0] = dataclasses.replace(out[0], stem_rows=stems)
    return out[:MAX_READINGS]
