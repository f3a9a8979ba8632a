"""Names across scripts: one person's name written in Chinese characters, pinyin, Uyghur Arabic or Latin
script, Cyrillic, or a Turkish or English spelling, brought to forms that can be compared.

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
Two names are compared word by word (in order, or in any order at a small cost) and as a whole (for
Chinese names written without the dot between given name and father's name), with rapidfuzz's
normalised Levenshtein ratio. Every hit says why: "阿布都外力 → abuduwaili ≈ abduweli".

Nothing here decides who anybody is: a name that agrees is a reason to look, shown as such.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rapidfuzz import fuzz, process

#: Default score (0-100) at or above which a name is reported as agreeing; chosen on the development
#: half of tests/data/name_variants.csv (see README "Records and names").
THRESHOLD = 88.0

#: Weights of the phonetic-key score and of the plain Latin spelling score in a name's score.
KEY_WEIGHT, LATIN_WEIGHT = 0.9, 0.1
#: What a word-for-word agreement in the other order costs ("Tahir Yusuf" is not "Yusuf Tahir").
SWAP_COST = 12.0
#: How much the weakest word of a name counts against the average of its words.
MIN_WEIGHT = 0.5
#: Words of a record name compared one by one (longer names are still compared as a whole).
MAX_WORDS = 8

SCRIPT_NAMES = {
    "han": "Chinese characters",
    "pinyin": "pinyin",
    "arabic": "Uyghur Arabic script",
    "cyrillic": "Cyrillic",
    "latin": "Latin script",
}

# -- script detection --------------------------------------------------------------------------
_SEPARATORS = re.compile(r"[\s·・•‧∙⋅.\-‐‑–—_/,;()\[\]\"'`ʼ’‘]+")


def char_script(ch: str) -> str | None:
    o = ord(ch)
    if 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FA1F:
        return "han"
    if 0x0600 <= o <= 0x06FF or 0x0750 <= o <= 0x077F or 0xFB50 <= o <= 0xFDFF or 0xFE70 <= o <= 0xFEFF:
        return "arabic" if unicodedata.category(ch).startswith("L") else None
    if 0x0400 <= o <= 0x052F:
        return "cyrillic"
    if ch.isalpha() and o < 0x0250 or 0x1E00 <= o <= 0x1EFF:
        return "latin"
    return None


def detect_script(text: str) -> str:
    """The script most letters of text are written in ("han", "arabic", "cyrillic", "latin"; "" if none)."""
    counts: dict[str, int] = {}
    for ch in text:
        s = char_script(ch)
        if s:
            counts[s] = counts.get(s, 0) + 1
    return max(counts, key=lambda s: counts[s]) if counts else ""


# -- Chinese characters -> pinyin ---------------------------------------------------------------
#: Characters whose everyday reading differs from the one used in transliterated names.
_NAME_READINGS = {"都": "du", "卜": "bu", "什": "shi", "查": "zha", "蕃": "fan", "单": "shan"}


@lru_cache(maxsize=1)
def _pinyin_syllables() -> frozenset[str]:
    from pypinyin.contrib.tone_convert import to_normal
    from pypinyin.pinyin_dict import pinyin_dict

    out = set()
    for readings in pinyin_dict.values():
        for p in readings.split(","):
            s = to_normal(p)
            if re.search("[aeiouv]", s):  # "m", "ng", "hm" are interjections, not syllables of names
                out.add(s.replace("ü", "v"))
    return frozenset(out)


def han_to_pinyin(text: str) -> str:
    """Chinese characters read as toneless pinyin, one syllable per character, joined ("abuduwaili")."""
    from pypinyin import lazy_pinyin

    out = []
    for ch in text:
        if char_script(ch) == "han":
            out.append(_NAME_READINGS.get(ch) or lazy_pinyin(ch, v_to_u=True)[0])
        elif ch.isalpha():
            out.append(ch.lower())
    return "".join(out)


def is_pinyin(word: str) -> bool:
    """True if a Latin word splits wholly into two or more pinyin syllables ("tuerxun", "maimaiti")."""
    w = word.lower().replace("ü", "v")
    if not w.isascii() or not w.isalpha():
        return False
    syl = _pinyin_syllables()
    n = len(w)
    best = [None] * (n + 1)  # best[i]: fewest syllables covering w[:i]
    best[0] = 0
    for i in range(n):
        if best[i] is None:
            continue
        for j in range(i + 1, min(n, i + 6) + 1):
            if w[i:j] in syl and (best[j] is None or best[j] > best[i] + 1):
                best[j] = best[i] + 1
    return best[n] is not None and best[n] >= 2


# -- Uyghur Arabic script <-> Uyghur Latin (ULY) ------------------------------------------------
_UEY_TO_ULY = {
    "ا": "a", "ە": "e", "ب": "b", "پ": "p", "ت": "t", "ج": "j", "چ": "ch", "خ": "x", "د": "d", "ر": "r",
    "ز": "z", "ژ": "zh", "س": "s", "ش": "sh", "غ": "gh", "ف": "f", "ق": "q", "ك": "k", "ک": "k", "گ": "g",
    "ڭ": "ng", "ل": "l", "م": "m", "ن": "n", "ھ": "h", "و": "o", "ۇ": "u", "ۆ": "ö", "ۈ": "ü", "ۋ": "w",
    "ې": "é", "ى": "i", "ي": "y", "ی": "i",
    # Arabic and Persian letters met in names typed on other keyboards
    "ح": "h", "ع": "", "ة": "e", "أ": "a", "إ": "i", "آ": "a", "ؤ": "u", "ث": "s", "ذ": "z", "ص": "s",
    "ض": "z", "ط": "t", "ظ": "z", "ء": "",
}  # fmt: skip
_ULY_TO_UEY = {
    "a": "ا", "e": "ە", "é": "ې", "i": "ى", "o": "و", "u": "ۇ", "ö": "ۆ", "ü": "ۈ", "b": "ب", "p": "پ",
    "t": "ت", "j": "ج", "ch": "چ", "x": "خ", "d": "د", "r": "ر", "z": "ز", "zh": "ژ", "s": "س", "sh": "ش",
    "gh": "غ", "f": "ف", "q": "ق", "k": "ك", "g": "گ", "ng": "ڭ", "l": "ل", "m": "م", "n": "ن", "h": "ھ",
    "w": "ۋ", "v": "ۋ", "y": "ي",
}  # fmt: skip
_ULY_VOWELS = set("aeéiouöü")
_HAMZA = "ئ"


def arabic_to_latin(text: str) -> str:
    """Uyghur Arabic script (UEY) to Uyghur Latin (ULY): "ئابدۇكېرىم" -> "abdukérim".

    The hamza carrier that starts a vowel is not a sound and is dropped. Arabic ه (often typed for
    the Uyghur letters ە and ھ) reads as e at the end of a word and as h elsewhere.
    """
    text = unicodedata.normalize("NFKC", text)  # presentation forms -> letters
    out = []
    for i, ch in enumerate(text):
        if ch == _HAMZA:
            continue
        if ch == "ه":
            end = i + 1 == len(text) or char_script(text[i + 1]) != "arabic"
            out.append("e" if end else "h")
        elif ch in _UEY_TO_ULY:
            out.append(_UEY_TO_ULY[ch])
        elif unicodedata.category(ch) == "Mn":  # Arabic vowel marks (harakat)
            continue
        else:
            out.append(ch)
            continue
        # ULY writes n'g, s'h, z'h, g'h where two letters would otherwise read as one sound
        if len(out) >= 2 and out[-2][-1:] + out[-1][:1] in ("ng", "sh", "zh", "gh") and len(out[-2]) == 1:
            out.insert(len(out) - 1, "'")
    return "".join(out)


def latin_to_arabic(text: str) -> str:
    """Uyghur Latin (ULY) to Uyghur Arabic script, so a family can see how an archive may write a name.

    A vowel at the start of a word or after another vowel is written on a hamza carrier; "n'g" keeps n
    and g apart where ULY would otherwise read "ng".
    """
    out = []
    for word in re.split(r"(\s+)", text.lower()):
        if not word or word.isspace():
            out.append(word)
            continue
        i, prev_vowel = 0, True
        while i < len(word):
            if word[i] in "'’":
                i += 1
                continue
            two = word[i : i + 2]
            if two in ("ch", "zh", "sh", "gh", "ng"):
                out.append(_ULY_TO_UEY[two])
                i, prev_vowel = i + 2, False
                continue
            ch = word[i]
            if ch in _ULY_VOWELS:
                out.append((_HAMZA if prev_vowel else "") + _ULY_TO_UEY[ch])
                prev_vowel = True
            else:
                out.append(_ULY_TO_UEY.get(ch, ch))
                prev_vowel = False
            i += 1
    return "".join(out)


# -- Cyrillic -> Latin ----------------------------------------------------------------------------
_CYRILLIC = {
    "а": "a", "ә": "e", "б": "b", "в": "w", "г": "g", "ғ": "gh", "д": "d", "е": "e", "ё": "yo", "ж": "zh",
    "җ": "j", "з": "z", "и": "i", "й": "y", "к": "k", "қ": "q", "л": "l", "м": "m", "н": "n", "ң": "ng",
    "о": "o", "ө": "ö", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ү": "ü", "ұ": "u", "ў": "w",
    "ф": "f", "х": "x", "һ": "h", "ҳ": "h", "ц": "ts", "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "i",
    "і": "i", "ь": "", "э": "e", "ю": "yu", "я": "ya",
}  # fmt: skip


def cyrillic_to_latin(text: str) -> str:
    """Uyghur, Kazakh, Uzbek or Russian Cyrillic to ULY-like Latin: "Абдукерим" -> "abdukerim"."""
    return "".join(_CYRILLIC.get(ch, ch) for ch in text.lower())


# -- Latin folding and the phonetic key -------------------------------------------------------------
_FOLD = {
    "ş": "sh", "ç": "ch", "ğ": "gh", "ı": "i", "é": "e", "è": "e", "ê": "e", "ë": "e", "ä": "e", "ə": "e",
    "ö": "o", "ô": "o", "ü": "u", "û": "u", "ù": "u", "â": "a", "à": "a", "á": "a", "î": "i", "í": "i",
    "ñ": "ng", "ß": "ss", "ž": "zh", "š": "sh", "č": "ch", "ǧ": "gh", "ŋ": "ng", "ʻ": "", "ʼ": "", "ʹ": "",
}  # fmt: skip


def fold_latin(text: str) -> str:
    """Turkish, ULY, Uzbek and European letters to plain ASCII letters and digraphs ("şöhret" -> "shohret")."""
    text = text.replace("İ", "i").replace("I", "i").lower()
    out = []
    for ch in text:
        if ch in _FOLD:
            out.append(_FOLD[ch])
        else:
            base = unicodedata.normalize("NFKD", ch)
            out.append("".join(c for c in base if not unicodedata.combining(c)))
    return re.sub("[^a-z]", "", "".join(out))


# Sound classes. Two tables: Latin spellings of all kinds, and pinyin (where x, q, c sound otherwise).
# Vowels fall into three classes (a/e/é -> A, i -> I, o/u/ö/ü -> U: "Hesen" and "Hasan", "Tohti" and
# "Tuhti" agree); the glides and breaths that transliteration adds or drops (y, w, v, h, ULY x ~ kh)
# become nothing.
_DIGRAPHS = {"sh": "S", "ch": "J", "zh": "Z", "gh": "K", "kh": "", "ng": "N", "ph": "P", "ts": "S", "th": "T"}
_SINGLE = {
    "a": "A", "e": "A", "i": "I", "o": "U", "u": "U", **dict.fromkeys("ywvhx", ""), **dict.fromkeys("bpf", "P"),
    **dict.fromkeys("dt", "T"), **dict.fromkeys("gkq", "K"), "c": "J", "j": "J", "s": "S", "z": "Z",
    "l": "L", "r": "R", "m": "M", "n": "N",
}  # fmt: skip
_PINYIN_SINGLE = {**_SINGLE, "x": "S", "q": "J", "c": "S"}
_VOWEL_CLASSES = set("AIU")


def phonetic_key(plain: str, pinyin: bool = False) -> str:
    """Sound classes of a folded Latin word, a run of vowels as its first vowel ("abdukerim" -> "APTUKARIM")."""
    single = _PINYIN_SINGLE if pinyin else _SINGLE
    out: list[str] = []
    i = 0
    while i < len(plain):
        two = plain[i : i + 2]
        if two == "ng" and plain[i + 2 : i + 3] in tuple("aeiou"):  # "Reyhangül", "hanguli": n + g
            code, i = "N", i + 1
        elif two in _DIGRAPHS:
            code, i = _DIGRAPHS[two], i + 2
        else:
            code, i = single.get(plain[i], ""), i + 1
        if not code or (out and (out[-1] == code or (code in _VOWEL_CLASSES and out[-1] in _VOWEL_CLASSES))):
            continue
        out.append(code)
    return "".join(out)


def coarse_key(key: str) -> str:
    """The consonant skeleton (a first vowel as "V"), r heard as l: how names compare across Chinese.

    A Chinese clerk writes a syllable per sound: vowels are added ("Abdukerim" -> "abudukelimu") and
    changed, r and l become one, and no syllable ends in m, so a final m is heard as n ("Ibrahim" ->
    "依布拉音" yibulayin): only the consonants carry over.
    """
    if not key:
        return key
    head = "V" if key[0] in _VOWEL_CLASSES else key[0]
    out = (head + "".join(c for c in key[1:] if c not in _VOWEL_CLASSES)).replace("R", "L")
    ends_in_m = key.endswith("M") or key.endswith("MU")  # "-m", or pinyin's "-mu" (木) for it
    return out[:-1] + "N" if len(out) > 1 and ends_in_m else out


# -- a normalised name ----------------------------------------------------------------------------
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
    pairs: tuple[tuple[Token, Token], ...]  # (record word, query word)
    record: NameForm
    query: NameForm

    def reason(self) -> str:
        """ "阿布都外力 → abuduwaili ≈ abduweli; 阿尤普 → ayoupu ≈ ayup" (record words first)."""
        if not self.pairs:
            return f"{_shown(self.record.written, self.record.latin)} ≈ {self.query.latin}"
        return "; ".join(f"{_shown(r.written, r.latin)} ≈ {q.latin}" for r, q in self.pairs)


def _shown(written: str, latin: str) -> str:
    return written if fold_latin(written) == fold_latin(latin) and written.isascii() else f"{written} → {latin}"


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
        tok, tok_coarse, tok_chinese, slots = [], [], [], []
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
            tok_coarse.extend(coarse[:MAX_WORDS])
            tok_chinese.extend([ch] * min(len(keys), MAX_WORDS))
            slots.append((first, min(len(keys), MAX_WORDS)))
        self.chinese = np.array(chinese, dtype=bool)
        self.plain = plain
        # Each comparison is made once: fine keys of names that did not go through Chinese, coarse keys
        # of all (for Chinese queries) -- split by partition so that no key is compared in vain.
        self.full_parts = _Parts(full, full_coarse, self.chinese)
        self.tok_parts = _Parts(tok, tok_coarse, np.array(tok_chinese, dtype=bool))
        # words of name i are tokens slot[i] (padded with the index of an extra always-0 score)
        width = max((k for _, k in slots), default=1)
        self.word_matrix = np.full((len(slots), width), len(tok), dtype=np.int64)
        for i, (first, k) in enumerate(slots):
            self.word_matrix[i, :k] = np.arange(first, first + k)

    def __len__(self) -> int:
        return len(self.refs)

    def scores(self, query: NameForm, threshold: float = 0.0) -> np.ndarray:
        """Score (0-100) of every name in the index against the query.

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
        full = self.full_parts.ratio(query.key, query.coarse, chinese_query, need_key)
        best, where = [], []
        for t in query.tokens:
            s = np.append(self.tok_parts.ratio(t.key, t.coarse, chinese_query, need_word), np.float32(0))
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
        key = np.maximum(full, words)
        out = KEY_WEIGHT * key
        live = np.flatnonzero(key >= need_key) if threshold > 0 else np.arange(n)
        if len(live):
            plain = [self.plain[i] for i in live] if len(live) < n else self.plain
            out[live] += LATIN_WEIGHT * _ratio(query.plain, plain)
        return out

    def search(
        self, query: NameForm | str, threshold: float = THRESHOLD, limit: int | None = 200
    ) -> list[tuple[object, Agreement]]:
        """(reference, agreement) of names scoring at least threshold, best first."""
        q = normalise(query) if isinstance(query, str) else query
        s = self.scores(q, threshold)
        order = np.argsort(-s, kind="stable")
        out = []
        for i in order:
            if s[i] < threshold or (limit is not None and len(out) >= limit):
                break
            form = normalise(self.written[i])
            out.append((self.refs[i], Agreement(float(s[i]), _pairs(q, form), form, q)))
        return out


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
        self.other_fine = _Distinct([fine[i] for i in self.other_at])

    def ratio(self, fine: str, coarse: str, chinese_query: bool, cutoff: float) -> np.ndarray:
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


def _pairs(q: NameForm, r: NameForm) -> tuple[tuple[Token, Token], ...]:
    """Each query word with the record word it agrees with best (for the reason shown to a person)."""
    pairs = []
    for qt in q.tokens:
        best = max(
            r.tokens,
            key=lambda rt: fuzz.ratio(qt.coarse, rt.coarse) + fuzz.ratio(qt.key, rt.key) / 100,
            default=None,
        )
        if best is not None and (best, qt) not in pairs:
            pairs.append((best, qt))
    if len(r.tokens) == 1 and len(q.tokens) > 1:  # one record word for the whole query name
        whole = Token(q.written, q.script, q.latin.replace(" ", ""), q.plain, q.key)
        return ((r.tokens[0], whole),)
    return tuple(pairs)
