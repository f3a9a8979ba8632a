"""Name search over many names at once: `NameIndex` scores every archive name against a query, in any
script or spelling, with the reason for each hit.

Two names are compared word by word (in order, or in any order at a small cost) and as a whole (for
Chinese names written without the dot between given name and father's name), with rapidfuzz's
normalised Levenshtein ratio. Each query word is also read through the name table (readings.py): its
usual writing in the other script, and the name with an ending set aside. Every hit says why:
"阿布都外力 → abuduwaili ≈ abduweli".
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np
from rapidfuzz import fuzz, process

from . import readings as nametable
from .forms import Agreement, NameForm, Token, normalise
from .readings import Reading, table
from .scripts import coarse_key, fold_latin

#: Default score (0-100) at or above which a name is reported as agreeing; chosen on the development
#: half of tests/data/name_variants.csv (see docs/names.md).
THRESHOLD = 88.0

#: Weights of the phonetic-key score and of the plain Latin spelling score in a name's score.
KEY_WEIGHT, LATIN_WEIGHT = 0.9, 0.1
#: What a word-for-word agreement in the other order costs ("Tahir Yusuf" is not "Yusuf Tahir").
SWAP_COST = 12.0
#: How much the weakest word of a name counts against the average of its words.
MIN_WEIGHT = 0.5
#: Words of a record name compared one by one (longer names are still compared as a whole).
MAX_WORDS = 8
#: What a word's agreement costs when the name table knows both words and as different names (Osman and
#: 艾山 Hesen, Abdulla and 阿卜都外力 Abduweli): their skeletons agree by chance. Chosen on the dev half.
OTHER_NAME_COST = 20.0
#: What a record word costs that the name table knows as the query's name with an ending the query lacks
#: (阿力木江 Alimjan for "Alim"); the same as setting aside an ending of the query's word.
ENDING_COST = 4.0


class NameIndex:
    """Every name of an archive, held as arrays, so one query scores all of them at C speed.

    Built from (reference, NameForm) pairs; a reference is whatever the caller needs back (a record id).
    Two names that did not go through Chinese compare by their full sound keys (vowels included);
    when either did, by their consonant skeletons (coarse keys).
    """

    def __init__(self, names: Iterable[tuple[object, NameForm]]) -> None:
        self._init((ref, f.written, f.script, f.keys, tuple(t.plain for t in f.tokens)) for ref, f in names if f.tokens)

    @classmethod
    def from_stored(cls, rows: Iterable[tuple[object, str, str, str, str]]) -> NameIndex:
        """From (reference, written name, script, plain words, keys) as stored (words space-separated):
        no name is transliterated again, so a large archive loads quickly."""
        idx = cls.__new__(cls)
        idx._init((ref, written, script, keys.split(), plain.split()) for ref, written, script, plain, keys in rows)
        return idx

    def _init(self, entries: Iterable[tuple[object, str, str, Sequence[str], Sequence[str]]]) -> None:
        self.refs: list[object] = []
        self.written: list[str] = []
        full, full_coarse, plain, chinese = [], [], [], []
        tok, tok_plain, tok_coarse, tok_chinese, slots = [], [], [], [], []
        for ref, written, script, keys, words in entries:
            if not keys:
                continue
            self.refs.append(ref)
            self.written.append(written)
            coarse = [coarse_key(k) for k in keys]
            full.append("".join(keys))
            full_coarse.append("".join(coarse))
            plain.append("".join(words))
            ch = script in ("han", "pinyin")
            chinese.append(ch)
            first = len(tok)
            tok.extend(keys[:MAX_WORDS])
            tok_plain.extend(words[:MAX_WORDS])
            tok_coarse.extend(coarse[:MAX_WORDS])
            tok_chinese.extend([ch] * min(len(keys), MAX_WORDS))
            slots.append((first, min(len(keys), MAX_WORDS)))
        self.chinese = np.array(chinese, dtype=bool)
        self.plain = plain
        # Each comparison is made once: fine keys of names that did not go through Chinese, coarse keys
        # of all (for Chinese queries) -- split by partition so that no key is compared in vain.
        self.full_parts = _Parts(full, full_coarse, self.chinese)
        self.tok_parts = _Parts(tok, tok_coarse, np.array(tok_chinese, dtype=bool))
        self._tok = (tok, tok_plain, tok_chinese)
        self._tok_names: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None
        self.n_words = np.array([k for _, k in slots], dtype=np.int64)
        # words of name i are tokens slot[i] (padded with the index of an extra always-0 score)
        width = max((k for _, k in slots), default=1)
        self.word_matrix = np.full((len(slots), width), len(tok), dtype=np.int64)
        for i, (first, k) in enumerate(slots):
            self.word_matrix[i, :k] = np.arange(first, first + k)

    def __len__(self) -> int:
        return len(self.refs)

    def _table_names(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(known, token, row, ending token, ending row): which record words are names of the name table
        and which rows (a word can be several: homophones), and which are a table name with -jan added
        by the rule (阿力木江: Alim). Made on the first search that uses the table, once per index."""
        if self._tok_names is None:
            known_table = table()
            tok, tok_plain, tok_chinese = self._tok
            # each distinct word is looked up once (archives repeat names), then spread to every word
            distinct: dict[tuple[str, str, bool], int] = {}
            uid = np.fromiter(
                (distinct.setdefault(k, len(distinct)) for k in zip(tok, tok_plain, tok_chinese, strict=True)),
                dtype=np.int64,
                count=len(tok),
            )
            rows = [known_table.row_ids_of(*k) for k in distinct]
            stems = [known_table.jan_stem_ids_of(*k) for k in distinct]
            pt, pr = _spread(uid, rows)
            et, er = _spread(uid, stems)
            known = np.zeros(len(tok), dtype=bool)
            known[pt] = True
            known[et] = True
            self._tok_names = (known, pt, pr, et, er)
        return self._tok_names

    def _table_says(self, rows: frozenset[int]) -> tuple[np.ndarray | None, np.ndarray | None, np.ndarray] | None:
        """What the name table says of each record word against a query word that is the table's rows:
        (same name, the same name with an ending the query lacks, another name). None when rows is
        empty: the query word is not a name of the table, so the table says nothing about it."""
        if not rows:
            return None
        known, pt, pr, et, er = self._table_names()
        wanted = np.fromiter(rows, dtype=np.int64)
        same = np.zeros(len(known), dtype=bool)
        same[pt[np.isin(pr, wanted)]] = True
        ending = np.zeros(len(known), dtype=bool)
        ending[et[np.isin(er, wanted)]] = True  # the name with -jan, by the rule
        longer = table().with_endings(rows)
        if longer:  # the name with an ending, as the table lists it
            ending[pt[np.isin(pr, np.fromiter(longer, dtype=np.int64))]] = True
        return same, ending & ~same, known & ~same & ~ending

    def _table_adjust(self, sr: np.ndarray, r: Reading) -> np.ndarray:
        """A reading's word scores, corrected by what the name table knows of both words: the same name
        (Gafur and Ghopur, Muhammad and Memet: as if spelled alike), the same name with an ending the query
        lacks (阿力木江 for Alim: ENDING_COST), or different names, whose sounding alike is chance (Osman and
        艾山 Hesen: OTHER_NAME_COST). A word the table does not know whose stem it knows (Gülnisaxan) is
        only told apart from other names, never made the stem's equal."""
        if r.rows:
            said = self._table_says(r.rows)
        elif r.stem_rows:
            said = self._table_says(r.stem_rows)
            if said is not None:
                said = (None, None, said[2])
        else:
            return sr
        if said is None:
            return sr
        same, ending, other = said
        if same is not None:
            sr = np.where(same, np.maximum(sr, 100.0 - r.cost), sr)
        if ending is not None:
            sr = np.where(ending, np.maximum(sr, 100.0 - r.cost - ENDING_COST), sr)
        return np.where(other, sr - OTHER_NAME_COST, sr)

    def scores(self, query: NameForm, threshold: float = 0.0, readings: bool = True) -> np.ndarray:
        """Score (0-100) of every name in the index against the query.

        With readings (the default), each query word is also tried as the name table's usual writings of
        it and with an affectionate or honorific ending set aside (nametable.readings), and a name's
        score is its best over them, less what the reading costs. Without, only the words as written
        (how facematch searched before the name table; kept to measure the difference).
        With a threshold, comparisons that cannot reach it are cut short: scores below the threshold
        are then lower bounds, not exact (those at or above it are exact).
        """
        n = len(self.refs)
        if n == 0 or not query.tokens:
            return np.zeros(n, np.float32)
        need_key = max(0.0, (threshold - LATIN_WEIGHT * 100) / KEY_WEIGHT)  # the key score a hit needs at least
        # words: (1 - m) * mean + m * min >= need_key  =>  every word >= (need_key - (1 - m) * 100) / m
        need_word = max(0.0, (need_key - (1 - MIN_WEIGHT) * 100) / MIN_WEIGHT) if MIN_WEIGHT else 0.0
        chinese_query = query.heard_in_chinese
        per_word = query_readings(query, readings)
        combos = _combos(per_word)
        full = np.zeros(n, np.float32)
        for combo in combos:
            cost = sum(r.cost for r in combo)
            chinese = _combo_chinese(combo, chinese_query)
            key, coarse = "".join(r.token.key for r in combo), "".join(r.token.coarse for r in combo)
            han_only = any(r.han_records_only for r in combo)
            s = self.full_parts.ratio(key, coarse, chinese, min(100.0, need_key + cost), han_only)
            full = np.maximum(full, s - cost) if cost else np.maximum(full, s)
        if readings and len(query.tokens) > 1:
            # Two names of as many words (two or more) are compared word by word only: compared as one
            # string, a long given name that agrees carries a father's name that does not ("Abdukérim
            # Tursun" and 阿布都克里木·古丽仙 as one string are one letter apart in consonants).
            full = np.where(self.n_words == len(query.tokens), 0, full)
        best, where = [], []
        for rs in per_word:
            s = np.zeros(self.tok_parts.n + 1, np.float32)
            for r in rs:
                chinese = chinese_query if r.chinese is None else r.chinese
                cutoff = min(100.0, need_word + r.cost)
                sr = self.tok_parts.ratio(r.token.key, r.token.coarse, chinese, cutoff, r.han_records_only)
                if r.cost:
                    sr = sr - r.cost
                if readings:
                    sr = self._table_adjust(sr, r)
                s[:-1] = np.maximum(s[:-1], sr)
            m = s[self.word_matrix]
            best.append(m.max(axis=1))
            where.append(m.argmax(axis=1))  # the position of the word that gave it (the first on a tie)
        # Every word of the query must find its partner: the weakest word weighs as much as the average.
        # A query word with no partner (a one-word record for a two-word query) scores 0 here; the
        # whole-name comparison covers names written as one word. Partners in another order than the
        # query's ("Yusuf Tahir" for "Tahir Yusuf") cost SWAP_COST: often another person.
        words = _blend(best)
        if len(where) > 1:
            in_order = np.all(np.diff(np.stack(where), axis=0) > 0, axis=0)
            words = np.where(in_order, words, words - SWAP_COST)
        key = np.maximum(np.maximum(full, words), 0)
        out = KEY_WEIGHT * key
        live = np.flatnonzero(key >= need_key) if threshold > 0 else np.arange(n)
        if len(live):
            plain = [self.plain[i] for i in live] if len(live) < n else self.plain
            latin = np.zeros(len(live), np.float32)
            # the spelling itself, or with an ending set aside; never a table's writing (the spelling
            # score says how alike two names are *spelled*: a name found through the table stays below
            # the same name spelled alike)
            for combo in combos:
                if not any(r.shown for r in combo):
                    latin = np.maximum(latin, _ratio("".join(r.token.plain for r in combo), plain))
            out[live] += LATIN_WEIGHT * latin
        return out

    def search(
        self, query: NameForm | str, threshold: float = THRESHOLD, limit: int | None = 200, readings: bool = True
    ) -> list[tuple[object, Agreement]]:
        """(reference, agreement) of names scoring at least threshold, best first."""
        q = normalise(query) if isinstance(query, str) else query
        s = self.scores(q, threshold, readings)
        out = []
        per_word = query_readings(q, readings)
        for i in reaching(s, threshold)[:limit].tolist():
            form = normalise(self.written[i])
            pairs, notes = _pairs(q, form, per_word)
            out.append((self.refs[i], Agreement(float(s[i]), pairs, form, q, notes)))
        return out


def reaching(scores: np.ndarray, threshold: float) -> np.ndarray:
    """Positions of the names scoring at least threshold, best first (the first name on a tie): the one
    definition of a hit, shared by NameIndex.search and the ids-only search the cross-check makes
    (names.search.hit_ids), so both find the same names."""
    at = np.flatnonzero(scores >= threshold)
    return at[np.argsort(-scores[at], kind="stable")]


def query_readings(query: NameForm, readings: bool = True) -> list[list[Reading]]:
    """Per query word, the readings tried (the word as written first); see nametable.readings."""
    if not readings:
        return [[nametable.Reading(t)] for t in query.tokens]
    return [nametable.readings(t) for t in query.tokens]


#: At most this many combinations of word readings are compared as a whole name (cheapest first).
MAX_COMBOS = 4


def _combos(per_word: list[list[Reading]]) -> list[tuple[Reading, ...]]:
    if all(len(rs) == 1 for rs in per_word):
        return [tuple(rs[0] for rs in per_word)]
    # the words as written first, then cheapest, each word's readings in their own order
    combos = sorted(itertools.islice(itertools.product(*per_word), 512), key=lambda c: sum(r.cost for r in c))
    return combos[:MAX_COMBOS]


def _combo_chinese(combo: Sequence[Reading], chinese_query: bool) -> bool:
    return chinese_query or any(bool(r.chinese) for r in combo)


def _spread(uid: np.ndarray, lists: list[list[int]]) -> tuple[np.ndarray, np.ndarray]:
    """(item, value) pairs for items whose distinct key uid[item] has the values lists[uid[item]]."""
    counts = np.array([len(x) for x in lists], dtype=np.int64)
    flat = np.array([v for x in lists for v in x], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1])) if len(counts) else np.zeros(0, np.int64)
    per_item = counts[uid] if len(uid) else np.zeros(0, np.int64)
    items = np.repeat(np.arange(len(uid), dtype=np.int64), per_item)
    if not len(items):
        return items, np.zeros(0, np.int64)
    starts = np.repeat(offsets[uid], per_item)
    within = np.arange(len(items), dtype=np.int64) - np.repeat(np.cumsum(per_item) - per_item, per_item)
    return items, flat[starts + within]


def _ratio(query: str, choices: Sequence[str], cutoff: float = 0.0) -> np.ndarray:
    if not choices:
        return np.zeros(0, np.float32)
    return process.cdist([query], choices, scorer=fuzz.ratio, dtype=np.float32, workers=1, score_cutoff=cutoff)[0]


class _Parts:
    """Keys of one kind (whole names or words), with fine keys only where no Chinese is involved.

    Archives repeat names (thousands of "Memet"), so each distinct key is compared once and the
    scores are spread back to every name that has it.
    """

    def __init__(self, fine: list[str], coarse: list[str], chinese: np.ndarray) -> None:
        self.n = len(fine)
        self.chinese_at = np.flatnonzero(chinese)
        self.other_at = np.flatnonzero(~chinese)
        self.all_coarse = _Distinct(coarse)
        self.chinese_coarse = _Distinct([coarse[i] for i in self.chinese_at])
        self._chinese_fine_keys = [fine[i] for i in self.chinese_at]
        self._chinese_fine: _Distinct | None = None
        self.other_fine = _Distinct([fine[i] for i in self.other_at])

    def ratio(self, fine: str, coarse: str, chinese_query: bool, cutoff: float, han_only: bool = False) -> np.ndarray:
        if han_only:
            # A table's Chinese writing of the query, against names that went through Chinese only, pinyin
            # to pinyin with vowels: the same writing reads the same (买买提, 麦麦提), while a short
            # writing's skeleton (依力亚: "VL") would agree with every short name (瓦热).
            if self._chinese_fine is None:
                self._chinese_fine = _Distinct(self._chinese_fine_keys)
            out = np.zeros(self.n, np.float32)
            out[self.chinese_at] = self._chinese_fine.ratio(fine, cutoff)
            return out
        if chinese_query:  # r and l, and vowels, are unreliable on the query's side: coarse for all
            return self.all_coarse.ratio(coarse, cutoff)
        out = np.zeros(self.n, np.float32)
        out[self.chinese_at] = self.chinese_coarse.ratio(coarse, cutoff)
        out[self.other_at] = self.other_fine.ratio(fine, cutoff)
        return out


class _Distinct:
    def __init__(self, keys: list[str]) -> None:
        first: dict[str, int] = {}
        self.inverse = np.array([first.setdefault(k, len(first)) for k in keys], dtype=np.int64) if keys else None
        self.keys = list(first)

    def ratio(self, query: str, cutoff: float) -> np.ndarray:
        if self.inverse is None:
            return np.zeros(0, np.float32)
        return _ratio(query, self.keys, cutoff)[self.inverse]


def _blend(per_word: list[np.ndarray]) -> np.ndarray:
    stacked = np.stack(per_word)
    return (1 - MIN_WEIGHT) * stacked.mean(axis=0) + MIN_WEIGHT * stacked.min(axis=0)


def _table_agrees(reading: Reading, rt: Token) -> tuple[float, str]:
    """How the name table makes a record word agree with a query reading (as NameIndex scores it), and the
    words that say so; (0, "") when it does not."""
    if not reading.rows:
        return 0.0, ""
    t = table()
    rows = t.row_ids(rt)
    if reading.rows & rows:
        name = t.rows[min(reading.rows & rows)].uly
        if fold_latin(rt.latin) == fold_latin(reading.token.latin):
            return 100.0, ""
        if rt.script in ("han", "pinyin") and reading.token.script not in ("han", "pinyin"):
            return 100.0, f"name table: {rt.written} is a usual Chinese writing of {name}"
        return 100.0, f"name table: {rt.written} and {reading.token.written} are spellings of {name}"
    stems = set(t.jan_stem_ids_of(rt.key, rt.plain, rt.script in ("han", "pinyin")))
    stems |= {t.base_of[i] for i in rows if i in t.base_of}
    if reading.rows & stems:
        name = t.rows[min(reading.rows & stems)].uly
        return 100.0 - ENDING_COST, f"the record's name is {name} with the affectionate ending '-jan'"
    return 0.0, ""


def _pairs(
    q: NameForm, r: NameForm, per_word: list[list[Reading]] | None = None
) -> tuple[tuple[tuple[Token, Token], ...], tuple[str, ...]]:
    """Each query word (as read) with the record word it agrees with best, and why it was read so (for the
    reason shown to a person). The word as written is preferred on a tie."""
    if per_word is None:
        per_word = query_readings(q, readings=False)
    pairs: list[tuple[Token, Token]] = []
    notes: list[str] = []
    for readings in per_word:
        best, best_score, note = None, (-1.0, False, 0.0), ""
        for n, reading in enumerate(readings):  # the word as written first: it is kept on a tie
            qt = reading.token
            if reading.shown:  # a table writing: the reason names the word the family wrote
                qt = Token(reading.shown, qt.script, reading.shown, qt.plain, qt.key)
            for rt in r.tokens:
                agree, why = _table_agrees(reading, rt)
                coarse = max(fuzz.ratio(qt.coarse, rt.coarse), agree)
                score = (coarse - reading.cost, n == 0, fuzz.ratio(qt.key, rt.key))
                if score > best_score:
                    note = "; ".join(
                        x for x in (reading.note, why if agree > fuzz.ratio(qt.coarse, rt.coarse) else "") if x
                    )
                    best, best_score = (rt, qt), score
        if best is not None and best not in pairs:
            pairs.append(best)
            notes.append(note)
    if len(r.tokens) == 1 and len(q.tokens) > 1:  # one record word for the whole query name
        whole = Token(q.written, q.script, q.latin.replace(" ", ""), q.plain, q.key)
        return ((r.tokens[0], whole),), ("",)
    return tuple(pairs), tuple(notes)
