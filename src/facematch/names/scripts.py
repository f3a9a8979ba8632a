"""Names' scripts: which script a name is written in, and the same name in Latin letters.

Chinese characters are read as toneless pinyin (with the readings used in transliterated names), Uyghur
Arabic script as Uyghur Latin (ULY), Cyrillic as ULY-like letters, and every Latin spelling (Turkish,
ULY, English) is folded to plain ASCII and reduced to a phonetic key of sound classes. The Uyghur letter
table (`LETTERS`) is the project's one table of the three scripts, also used to derive the ug_Latn and
ug_Cyrl catalogs (translit.py).
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

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
#: Uyghur Arabic-script letter -> (ULY, Cyrillic): the one table of the three scripts' letters, read by name
#: comparison here and by the catalogs' transliterator (translit.py), so the two cannot drift apart.
LETTERS: dict[str, tuple[str, str]] = {
    "ا": ("a", "а"), "ە": ("e", "ә"), "ب": ("b", "б"), "پ": ("p", "п"), "ت": ("t", "т"), "ج": ("j", "җ"),
    "چ": ("ch", "ч"), "خ": ("x", "х"), "د": ("d", "д"), "ر": ("r", "р"), "ز": ("z", "з"), "ژ": ("zh", "ж"),
    "س": ("s", "с"), "ش": ("sh", "ш"), "غ": ("gh", "ғ"), "ف": ("f", "ф"), "ق": ("q", "қ"), "ك": ("k", "к"),
    "گ": ("g", "г"), "ڭ": ("ng", "ң"), "ل": ("l", "л"), "م": ("m", "м"), "ن": ("n", "н"), "ھ": ("h", "һ"),
    "و": ("o", "о"), "ۇ": ("u", "у"), "ۆ": ("ö", "ө"), "ۈ": ("ü", "ү"), "ۋ": ("w", "в"), "ې": ("é", "е"),
    "ى": ("i", "и"), "ي": ("y", "й"),
}  # fmt: skip
#: The hamza carrier: it starts a vowel and is not itself a sound.
HAMZA = "\u0626"  # ئ
_UEY_TO_ULY = {
    **{ch: pair[0] for ch, pair in LETTERS.items()},
    # Persian forms and Arabic letters met in names typed on other keyboards
    "ک": "k", "ی": "i", "ح": "h", "ع": "", "ة": "e", "أ": "a", "إ": "i", "آ": "a", "ؤ": "u", "ث": "s",
    "ذ": "z", "ص": "s", "ض": "z", "ط": "t", "ظ": "z", "ء": "",
}  # fmt: skip
_ULY_TO_UEY = {**{pair[0]: ch for ch, pair in LETTERS.items()}, "v": "ۋ"}
_ULY_VOWELS = set("aeéiouöü")


def arabic_to_latin(text: str) -> str:
    """Uyghur Arabic script (UEY) to Uyghur Latin (ULY): "ئابدۇكېرىم" -> "abdukérim".

    The hamza carrier that starts a vowel is not a sound and is dropped. Arabic ه (often typed for
    the Uyghur letters ە and ھ) reads as e at the end of a word and as h elsewhere.
    """
    text = unicodedata.normalize("NFKC", text)  # presentation forms -> letters
    out = []
    for i, ch in enumerate(text):
        if ch == HAMZA:
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
                out.append((HAMZA if prev_vowel else "") + _ULY_TO_UEY[ch])
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
