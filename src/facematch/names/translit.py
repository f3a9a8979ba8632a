"""Uyghur from Arabic script (UEY) into Latin (ULY) and Cyrillic: the ug_Latn and ug_Cyrl catalogs are derived.

Why a transliterator and not two more translations: the three scripts write the same language, letter for
letter (the correspondences are fixed by the standards of the 1980s-2000s: Uyghur Latin Yéziqi, adopted
in 2000, and the Cyrillic alphabet of Uyghurs in Kazakhstan and Kyrgyzstan). Deriving the Latin and
Cyrillic catalogs from the reviewed Arabic-script one means a reviewer's fix to ``ug`` reaches all three,
and no third and fourth translation can drift from the first. ``python -m facematch.catalogs derive``
regenerates them; they are never edited by hand.

The rules, beyond one letter for one letter:
- Hamza (ئ) only carries a vowel at the start of a syllable. At the start of a word it is not written in
  either script (ئۇيغۇر -> Uyghur, Уйғур); inside a word ULY writes it as an apostrophe (سائەت -> sa'et)
  and Cyrillic leaves it out (саәт).
- ULY writes an apostrophe where two letters would read as one digraph: n'g (نگ, not ڭ "ng"), g'h (گھ,
  not غ "gh"), s'h, z'h (not ش "sh", ژ "zh").
- Cyrillic writes я and ю for ي followed by ا and ۇ (يات -> ят).
- Anything that is not Uyghur Arabic script (placeholders such as {name}, commands, file names, digits)
  passes through unchanged; the Arabic comma, semicolon and question mark become Latin ones.
- The first letter of a text and of each sentence is capitalised (Arabic script has no case); a catalog entry
  is capitalised at its start only when its English is (a piece of a sentence, such as a band, stays lower case).
"""

from __future__ import annotations

from .scripts import HAMZA, LETTERS

VOWELS = set("اەوۇۆۈېى")
PUNCTUATION = {"،": ",", "؛": ";", "؟": "?", "٪": "%", "«": "«", "»": "»"}
#: ULY pairs of letters that would read as one digraph: an apostrophe keeps them apart.
ULY_SPLIT = {("ن", "گ"), ("گ", "ھ"), ("س", "ھ"), ("ز", "ھ")}
CYRILLIC_Y = {"ا": "я", "ۇ": "ю"}
SCRIPTS = ("latn", "cyrl")
SENTENCE_END = ".!?"


def _is_uey(ch: str) -> bool:
    return ch in LETTERS or ch == HAMZA


def transliterate(text: str, script: str, capitalize: bool = True) -> str:
    """``text`` with its Uyghur Arabic-script letters written in ``script`` ("latn": ULY, "cyrl": Cyrillic).

    ``capitalize=False`` for a piece that goes inside a sentence (catalogs.derive passes whether the English
    entry begins with a capital): only letters after a sentence's end are capitalised then."""
    if script not in SCRIPTS:
        raise ValueError(f"script must be one of {SCRIPTS}, not {script!r}")
    latin = script == "latn"
    out: list[str] = []
    capital = capitalize  # the next Uyghur letter starts a sentence
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        prev = text[i - 1] if i else ""
        if ch == HAMZA:
            if latin and _is_uey(prev):  # inside a word: ULY marks the syllable break
                out.append("'")
            i += 1
            continue
        if ch in LETTERS:
            nxt = text[i + 1] if i + 1 < n else ""
            if latin:
                piece = LETTERS[ch][0]
                if (prev, ch) in ULY_SPLIT:
                    piece = "'" + piece
                i += 1
            elif ch == "ي" and nxt in CYRILLIC_Y:
                piece = CYRILLIC_Y[nxt]
                i += 2
            else:
                piece = LETTERS[ch][1]
                i += 1
            if capital:
                piece = piece[0].upper() + piece[1:]
                capital = False
            out.append(piece)
            continue
        out.append(PUNCTUATION.get(ch, ch))
        if ch in SENTENCE_END and (i + 1 == n or text[i + 1].isspace()):
            capital = True
        elif ch.isalnum() or ch in "{}`":
            capital = False  # a sentence that starts with a placeholder, a number or a command
        i += 1
    return "".join(out)


def to_latin(text: str) -> str:
    """ULY (Uyghur Latin script): ئۇيغۇر -> Uyghur."""
    return transliterate(text, "latn")


def to_cyrillic(text: str) -> str:
    """Uyghur Cyrillic: ئۇيغۇر -> Уйғур."""
    return transliterate(text, "cyrl")
