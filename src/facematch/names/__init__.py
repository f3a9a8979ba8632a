"""Names across scripts: one person's name in Chinese characters, pinyin, Uyghur Arabic or Latin script,
Cyrillic, or a Turkish or English spelling, brought to forms that can be compared, and searched.

Floors, lowest first (each imports only those below it):
  - `scripts`: which script, and the same letters in Latin (pinyin, ULY, Cyrillic); the one Uyghur letter
    table, shared with `translit` (the ug_Latn and ug_Cyrl catalogs derived from ug);
  - `forms`: a name as comparable words (`normalise`, `NameForm`, `Token`, `Agreement`);
  - `readings`: other readings of one word (the name table in data/, endings set aside);
  - `nameindex`: `NameIndex`, every archive name scored against a query at C speed, with reasons;
  - `search`: name search over an open index's records (the index's cached `NameIndex`).
"""

from .forms import Agreement, NameForm, Token, normalise
from .nameindex import THRESHOLD, NameIndex
from .scripts import (
    SCRIPT_NAMES,
    arabic_to_latin,
    char_script,
    cyrillic_to_latin,
    detect_script,
    fold_latin,
    han_to_pinyin,
    latin_to_arabic,
    phonetic_key,
)

__all__ = [
    "SCRIPT_NAMES",
    "THRESHOLD",
    "Agreement",
    "NameForm",
    "NameIndex",
    "Token",
    "arabic_to_latin",
    "char_script",
    "cyrillic_to_latin",
    "detect_script",
    "fold_latin",
    "han_to_pinyin",
    "latin_to_arabic",
    "normalise",
    "phonetic_key",
]
