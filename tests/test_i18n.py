"""The message catalogs: complete, consistent, and saying what the English says where it matters.

Why these tests: a family reads the caveat and the resemblance bands in their own language, and a
missing placeholder, an empty entry or a caveat that lost "a person decides" fails silently on screen.
Fast (a few seconds plus one small demo run): the catalogs are parsed with Babel, as i18n.py does.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from facematch import catalogs, i18n, messages

ROOT = Path(__file__).resolve().parents[1]
LOCALE = ROOT / "src" / "facematch" / "locale"
TRANSLATED = ("ug", "ug_Latn", "ug_Cyrl", "tr", "zh_Hans")
#: Catalogs generated from ug by facematch.translit (catalogs.py derive), never edited by hand.
DERIVED = ("ug_Latn", "ug_Cyrl")
PLACEHOLDER = re.compile(r"\{(\w*)\}")


def _po(code: str) -> Catalog:
    with (LOCALE / code / "LC_MESSAGES" / "facematch.po").open("rb") as f:
        return read_po(f, locale=code)


def _pot() -> Catalog:
    with (LOCALE / "facematch.pot").open("rb") as f:
        return read_po(f)


def _key(m) -> tuple:
    return (m.context, m.id)


def _placeholders(text: str | tuple | list) -> set[str]:
    texts = [text] if isinstance(text, str) else list(text)
    return {p for t in texts for p in PLACEHOLDER.findall(t or "")}


def test_template_is_up_to_date_with_the_source():
    """Every string marked in the code is in facematch.pot, and no stale one is left."""
    found = set()
    for _file, _line, msg, _comments, ctx in extract_from_dir(
        str(ROOT / "src" / "facematch"), keywords=catalogs.KEYWORDS, method_map=[("**.py", "python")]
    ):
        found.add((ctx, msg))
    pot = {_key(m) for m in _pot() if m.id}
    assert found - pot == set(), "in the code but not in facematch.pot: run python -m facematch.catalogs update"
    assert pot - found == set(), "in facematch.pot but no longer in the code: run python -m facematch.catalogs update"


def test_catalogs_pass_babels_checks():
    """What `pybabel compile` checks (placeholders, number of plural forms), without the false alarm on "97%"."""
    assert catalogs.check() == []


@pytest.mark.parametrize("code", TRANSLATED)
def test_every_message_is_in_every_catalog_with_the_same_placeholders(code):
    pot = {_key(m): m for m in _pot() if m.id}
    po = {_key(m): m for m in _po(code) if m.id}
    missing, stale = set(pot) - set(po), set(po) - set(pot)
    assert not missing and not stale, f"{code}: run python -m facematch.catalogs update ({missing=}, {stale=})"
    for m in po.values():
        want = _placeholders(m.id)
        strings = m.string if isinstance(m.string, tuple | list) else (m.string,)
        for s in strings:
            assert _placeholders(s) == want, f"{code}: {m.id!r} -> {s!r} changes the placeholders"


@pytest.mark.parametrize("code", TRANSLATED)
def test_no_entry_is_empty_fuzzy_or_left_in_english(code):
    """Identical to English is allowed only for entries with no words (punctuation, placeholders)."""
    for m in _po(code):
        if not m.id:
            continue
        assert "fuzzy" not in m.flags, f"{code}: fuzzy (shown in English): {m.id!r}"
        ids = m.id if isinstance(m.id, tuple) else (m.id,)
        strings = m.string if isinstance(m.string, tuple | list) else (m.string,)
        for s in strings:
            assert s and s.strip(), f"{code}: untranslated {m.id!r}"
            words = re.sub(r"[^\w]", "", PLACEHOLDER.sub("", ids[0]))
            if words:
                assert s not in ids, f"{code}: left in English: {m.id!r}"


@pytest.mark.parametrize(
    ("code", "nplurals"),
    [("ug", 2), ("ug_Latn", 2), ("ug_Cyrl", 2), ("tr", 2), ("zh_Hans", 1)],
)
def test_plural_forms_follow_cldr(code, nplurals):
    po = _po(code)
    assert po.num_plurals == nplurals == get_plural(code).num_plurals
    for m in po:
        if m.id and isinstance(m.id, tuple):
            assert len(m.string) == nplurals, f"{code}: {m.id!r} needs {nplurals} forms"


def test_counts_in_each_language():
    assert messages.plural(1, "face") == "1 face" and messages.plural(1204, "face") == "1,204 faces"
    with i18n.language("tr"):
        assert messages.plural(1, "face") == "1 yüz" and messages.plural(1204, "face") == "1.204 yüz"
        assert messages.plural(2, "candidate") == "2 aday"
        assert messages.round_number(3_200_000) == "3,2 milyon"
    with i18n.language("zh_Hans"):
        assert messages.plural(1204, "face") == "1,204张人脸"
        assert messages.round_number(3_200_000) == "320万"
    with i18n.language("ug"):
        assert messages.plural(3, "candidate") == "3 نامزات"
    # A noun the catalog does not know stays English, as before.
    with i18n.language("tr"):
        assert messages.plural(2, "box") == "2 boxes"


#: Per language, the glossary's words (docs/glossary.md) that carry each key part of the caveat.
CAVEAT_PARTS = {
    "en": {
        "candidates, not matches": ["candidates", "not matches"],
        "a person decides": ["Only a person", "confirm a match"],
        "years apart": ["years apart"],
        "groups": ["groups", "East Asian"],
        "not a probability": ["not a probability"],
    },
    "tr": {
        "candidates, not matches": ["aday", "eşleşme değildir", "kimlik tespiti değildir"],
        "a person decides": ["yalnızca fotoğrafları karşılaştıran bir kişi", "onaylayabilir"],
        "years apart": ["yıllar"],
        "groups": ["gruplardan", "Doğu Asyalı"],
        "not a probability": ["olasılık değildir"],
    },
    "ug": {
        "candidates, not matches": ["نامزات", "ماس كېلىش ئەمەس", "تونۇپ بېكىتىلگەن كىشى ئەمەس"],
        "a person decides": ["سۈرەتلەرنى ئۆزى سېلىشتۇرغان ئادەملا", "جەزملەشتۈرەلەيدۇ"],
        "years apart": ["يىل ئارىلىقتا"],
        "groups": ["توپلاردىكى", "شەرقىي ئاسىيالىقلارنىڭ"],
        "not a probability": ["ئېھتىماللىق ئەمەس"],
    },
    # Derived by transliteration; written out here (not transliterated by the test) so the transliterator is
    # checked too.
    "ug_Latn": {
        "candidates, not matches": ["namzat", "mas kélish emes", "tonup békitilgen kishi emes"],
        "a person decides": ["süretlerni özi sélishturghan ademla", "jezmleshtüreleydu"],
        "years apart": ["yil ariliqta"],
        "groups": ["toplardiki", "sherqiy asiyaliqlarning"],
        "not a probability": ["éhtimalliq emes"],
    },
    "ug_Cyrl": {
        "candidates, not matches": ["намзат", "мас келиш әмәс", "тонуп бекитилгән киши әмәс"],
        "a person decides": ["сүрәтләрни өзи селиштурған адәмла", "җәзмләштүрәләйду"],
        "years apart": ["йил арилиқта"],
        "groups": ["топлардики", "шәрқий асиялиқларниң"],
        "not a probability": ["еһтималлиқ әмәс"],
    },
    "zh_Hans": {
        "candidates, not matches": ["候选", "不是匹配", "不等于认定身份"],
        "a person decides": ["只有亲自比对照片的人", "确认"],
        "years apart": ["相隔多年"],
        "groups": ["群体", "东亚"],
        "not a probability": ["不是概率"],
    },
}


@pytest.mark.parametrize("code", list(CAVEAT_PARTS))
def test_the_caveat_keeps_its_meaning_in_every_language(code):
    with i18n.language(code):
        text = messages.caveat()
    for part, words in CAVEAT_PARTS[code].items():
        for w in words:
            assert w in text, f"{code}: the caveat lost '{part}' ({w!r})"


@pytest.mark.parametrize("code", TRANSLATED)
def test_no_band_or_candidate_line_calls_it_a_match(code):
    """The bands use the glossary's resemblance words, never the word for a confirmed match."""
    match_word = {"tr": "eşleş", "ug": "ماس كېلىش", "ug_Latn": "mas kélish", "ug_Cyrl": "мас келиш", "zh_Hans": "匹配"}[
        code
    ]
    with i18n.language(code):
        for band in ("strong", "possible", "weak"):
            for decided in (False, True):
                line = messages.strength(band, 0.3, gallery=1204, decided=decided)
                assert match_word not in line, line


def test_glossary_names_every_term_in_every_language():
    glossary = (ROOT / "docs" / "glossary.md").read_text(encoding="utf-8")
    for term in ("candidate", "match", "confirm", "reject", "unsure", "strong resemblance", "stranger"):
        assert term in glossary.lower()
    for code in TRANSLATED:
        with i18n.language(code):
            for word in (messages.band_text("strong", True), messages.plural(1, "candidate").split(" ", 1)[-1]):
                assert word.removeprefix("1") in glossary, f"{code}: {word!r} is not in docs/glossary.md"


def test_english_is_unchanged_and_constants_stay_english():
    assert messages.caveat() == messages.CAVEAT and messages.CAVEAT.startswith("These are candidates, not matches")
    with i18n.language("tr"):
        assert messages.caveat() != messages.CAVEAT
        assert messages.CAVEAT.startswith("These are candidates")  # what other modules imported stays English
        assert messages.CALIBRATION_NOTE.startswith("How often a stranger looks this similar is counted on unrelated")
        assert "LFW" in messages.calibration_note()
    assert i18n.current() == "en"


def test_each_constant_and_its_function_say_the_same_in_english():
    """Constants stay English for the modules that import them; the functions are what is translated."""
    pairs = {
        "CAVEAT": messages.caveat,
        "SCORE_LABEL": messages.score_label,
        "NO_FACE_HINT": messages.no_face_hint,
        "UNCALIBRATED": messages.uncalibrated,
        "NO_PHOTO": messages.no_photo,
        "PHOTO_NOT_INDEXED": messages.photo_not_indexed,
        "PHOTO_NO_QUERY": messages.photo_no_query,
        "PHOTO_NO_FACE": messages.photo_no_face,
        "SAME_COUNTY": messages.same_county,
        "FACTS_NOTE": messages.facts_note,
        "NAMES_CAVEAT": messages.names_caveat,
        "AGREES": messages.agrees,
        "DIFFERS": messages.differs,
        "CALIBRATION_NOTE": messages.calibration_note,
        "LINK_CAVEAT": messages.link_caveat,
    }
    for name, function in pairs.items():
        assert function() == getattr(messages, name), name
        with i18n.language("tr"):
            assert function() != getattr(messages, name), f"{name} is not translated"
    for band in ("strong", "possible", "weak"):
        assert messages.band_text(band) == messages.BAND_TEXT[band]
        assert messages.band_text(band, decided=True) == messages.BAND_DECIDED[band]
    from facematch import report

    for decision, label in report.LABELS.items():
        assert messages.decision_label(decision) == label


def test_rtl_and_html_attributes():
    assert i18n.is_rtl("ug") and i18n.direction("ug") == "rtl"
    assert not any(i18n.is_rtl(c) for c in ("tr", "zh_Hans", "en"))
    assert i18n.html_lang("zh_Hans") == "zh-Hans"
    assert set(i18n.available()) == {"ug", "ug_Latn", "ug_Cyrl", "tr", "zh_Hans", "en"}
    assert i18n.display_name("ug") == "ئۇيغۇرچە" and i18n.display_name("tr") == "Türkçe"
    # Uyghur in Latin and Cyrillic script reads left to right, and names itself in its own script.
    assert not i18n.is_rtl("ug_Latn") and i18n.direction("ug_Cyrl") == "ltr" and i18n.html_lang("ug_Latn") == "ug-Latn"
    assert i18n.display_name("ug_Latn").startswith("Uyghurche") and i18n.display_name("ug_Cyrl") == "Уйғурчә"


def test_language_is_per_thread_and_restored():
    """A Streamlit session runs in its own thread: one session's language must not leak into another."""
    seen: list[str] = []
    with i18n.language("ug"):
        t = threading.Thread(target=lambda: seen.append(messages.score_label()))
        t.start()
        t.join()
        assert messages.score_label() == "ئۆلچەملەشتۈرۈلمىگەن ئوخشاشلىق"
    assert seen == ["uncalibrated similarity"]
    assert i18n.current() == "en"
    with pytest.raises(ValueError, match="unknown language"):
        i18n.set_language("xx")


@pytest.mark.parametrize(
    ("env", "want"),
    [
        ({"LANG": "tr_TR.UTF-8"}, "tr"),
        ({"LANG": "tr_TR.UTF-8", "LC_MESSAGES": "ug_CN.UTF-8"}, "ug"),
        ({"LANG": "tr_TR.UTF-8", "LC_ALL": "zh_CN.UTF-8"}, "zh_Hans"),
        ({"LANG": "ug_KZ.UTF-8@cyrillic"}, "ug_Cyrl"),  # glibc writes the script as a modifier
        ({"LANG": "ug_CN.UTF-8@latin"}, "ug_Latn"),
        ({"LC_MESSAGES": "ug-Latn"}, "ug_Latn"),
        ({"LANG": "zh_TW.UTF-8"}, "en"),  # Traditional Chinese: not Simplified
        ({"LANG": "C.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LC_ALL": "de_DE.UTF-8", "LANG": "tr_TR.UTF-8"}, "en"),  # LC_ALL overrides
        ({}, "en"),
    ],
)
def test_language_from_the_environment(env, want):
    assert i18n.from_environment(env) == want
    assert i18n.choose("ug", env) == "ug"  # --lang wins


def _facematch() -> list[str]:
    beside = Path(sys.executable).parent / "facematch"
    exe = str(beside) if beside.exists() else shutil.which("facematch")
    return [exe] if exe else [sys.executable, "-m", "facematch.cli"]


@pytest.fixture(scope="module")
def turkish_demo(tmp_path_factory):
    idx = tmp_path_factory.mktemp("i18n") / "demo"
    out = subprocess.run(
        [*_facematch(), "--lang", "tr", "demo", "--index", str(idx)], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    return idx, out.stdout


def test_cli_demo_speaks_turkish(turkish_demo):
    _idx, stdout = turkish_demo
    with i18n.language("tr"):
        assert messages.caveat() in stdout
        assert messages.search_summary(10, 11, "x").split(" ")[0] in stdout  # "dizindeki"
    assert "These are candidates" not in stdout and "strong resemblance" not in stdout
    assert "güçlü benzerlik" in stdout and "10 aday" in stdout


def test_cli_follows_lang_from_the_environment(turkish_demo):
    idx, _ = turkish_demo
    query = str(Path(i18n.__file__).parent / "demo_photos" / "query" / "obama2.jpg")
    env = {k: v for k, v in __import__("os").environ.items() if k not in i18n.ENV_VARS}
    out = subprocess.run(
        [*_facematch(), "search", query, "--index", str(idx), "-k", "2"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**env, "LANG": "zh_CN.UTF-8"},
    )
    assert out.returncode == 0, out.stderr
    assert "只有亲自比对照片的人才能确认匹配" in out.stdout and "These are candidates" not in out.stdout
    bad = subprocess.run([*_facematch(), "--lang", "xx", "info"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown language" in bad.stderr


def test_case_report_in_uyghur_is_right_to_left(turkish_demo):
    """The report is written in the active language: caveat, labels, lang and dir (the headings: later)."""
    from facematch import report
    from facematch.index import Index
    from facematch.review import Review
    from facematch.search import Searcher

    idx, _ = turkish_demo
    with Searcher(idx) as s:
        best = s.search(
            [s.detect_file(Path(i18n.__file__).parent / "demo_photos" / "query" / "obama2.jpg").pick()], k=1
        )
    rv = Review(Index.open(idx))
    case = rv.create_case("Abdulla", "Ayse", notes="Kashgar")
    rv.set_facts(case.id, names=["Abdulla"], birth_year=1970, birth_year_margin=2, county="Kashgar")
    with i18n.language("ug"):  # what the screen showed, in the language it was shown in
        rv.decide(case.id, best[0], "confirm", "Ayse", shown=[messages.candidate_strength(best[0], 11)])
    english = report.case_html(rv, case.id)
    with i18n.language("ug"):
        uyghur = report.case_html(rv, case.id)
        caveat = messages.caveat()
    assert '<html lang="en" dir="ltr">' in english and html.escape(messages.CAVEAT) in english
    assert '<html lang="ug" dir="rtl">' in uyghur and html.escape(caveat) in uyghur
    assert "These are candidates" not in uyghur
    assert "بىر كىشى جەزملەشتۈردى" in uyghur  # "Confirmed by a person"
    assert "Noto Sans Arabic" in uyghur and "Noto Sans SC" in uyghur  # a font stack with Uyghur and Chinese
    # The shipped fonts travel inside the file, only the files its characters need, so a computer without a
    # Uyghur or Chinese font still draws the letters. The decision's "what the screen showed" is Uyghur, so even
    # the English report carries the Arabic-script font; only the Chinese one carries Chinese slices.
    from facematch import fonts

    def inlined(page: str) -> list[tuple[str, str]]:
        rule = r"font-family: '([^']+)'; font-weight: (\d+); font-style: normal; src: url\(data:"
        return sorted(re.findall(rule, page))

    arabic = [("facematch Noto Sans Arabic", "400"), ("facematch Noto Sans Arabic", "700")]
    assert inlined(uyghur) == arabic and inlined(english) == arabic
    with i18n.language("zh_Hans"):
        chinese = inlined(report.case_html(rv, case.id))
    chinese_slices = [r for r in chinese if r[0] == "facematch Noto Sans SC"]
    assert chinese[:2] == arabic and len(chinese) == 2 + len(chinese_slices)
    assert 0 < len(chinese_slices) < len(fonts._rules()) // 4  # a few of the 101 slices, not all
    # No English word is left: what remains after the tags, once names, file names, hashes, the engine's
    # fingerprint and the LFW data set's name are set aside, is Uyghur, numbers and punctuation.
    text = re.sub(r"<style>.*?</style>|<[^>]+>", " ", uyghur, flags=re.S)
    text = html.unescape(text)
    for kept in ("Abdulla", "Ayse", "Kashgar", "facematch", "LFW", best[0].face.sha256):
        text = text.replace(kept, " ")
    text = re.sub(r"\S+\.(jpg|png)|sface@\S+|[0-9a-f]{16,}", " ", text)
    assert re.findall(r"[A-Za-z]{2,}", text) == []
    assert _no_english(text) == []


# -- derived catalogs: Uyghur in Latin (ULY) and Cyrillic script ---------------------------------------
@pytest.mark.parametrize(
    ("uey", "uly", "cyrillic"),
    [
        ("ئۇيغۇر", "Uyghur", "Уйғур"),  # word-initial hamza is not written
        ("ئۈرۈمچى", "Ürümchi", "Үрүмчи"),
        ("قەشقەر", "Qeshqer", "Қәшқәр"),
        ("سائەت", "Sa'et", "Саәт"),  # hamza inside a word: ULY apostrophe, Cyrillic nothing
        ("مەنگۈ", "Men'gü", "Мәнгү"),  # n+g is not ng (ڭ): ULY apostrophe
        ("ياخشىمۇسىز", "Yaxshimusiz", "Яхшимусиз"),  # Cyrillic я for y+a
        ("خوتەن", "Xoten", "Хотән"),
        ("تېخى {n} چىراي، ھازىر.", "Téxi {n} chiray, hazir.", "Техи {n} чирай, һазир."),  # placeholders, punctuation
    ],
)
def test_transliterator_on_known_words(uey, uly, cyrillic):
    from facematch.names import translit

    assert translit.to_latin(uey) == uly
    assert translit.to_cyrillic(uey) == cyrillic
    assert translit.transliterate("ئۇيغۇر", "latn", capitalize=False) == "uyghur"


@pytest.mark.parametrize("code", DERIVED)
def test_derived_catalogs_are_regenerated_not_edited(code):
    """ug_Latn and ug_Cyrl are exactly what `python -m facematch.catalogs derive` writes from ug today."""
    fresh = {_key(m): m.string for m in catalogs.derived(code) if m.id}
    on_disk = {_key(m): m.string for m in _po(code) if m.id}
    assert on_disk == fresh, f"{code}: run python -m facematch.catalogs derive (never edit it by hand)"
    assert re.search(r"[\u0600-\u06ff]", "".join(str(v) for v in on_disk.values())) is None, "Arabic script left"


def test_every_literal_message_is_extracted():
    """A _() inside an f-string's braces is invisible to pybabel: it would stay English in every language."""
    import ast

    pot = {m.id if isinstance(m.id, str) else m.id[0] for m in _pot() if m.id}
    missed = []
    for path in (ROOT / "src" / "facematch").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args:
                name = node.func.id
                arg = node.args[1] if name == "pgettext" and len(node.args) > 1 else node.args[0]
                literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
                if name in ("_", "N_", "ngettext", "pgettext") and literal and arg.value not in pot:
                    missed.append(f"{path.name}:{node.lineno}: {arg.value!r}")
    assert not missed, missed


# -- no English left where a family reads ----------------------------------------------------------------
def _english_fragments(min_words: int = 3) -> set[str]:
    """Pieces of the English msgids between placeholders with at least `min_words` words: if one of them shows
    in a Uyghur or Turkish screen, a sentence was left in English."""
    out = set()
    for m in _pot():
        if not m.id:
            continue
        for text in m.id if isinstance(m.id, tuple) else (m.id,):
            for piece in PLACEHOLDER.split(text)[::2]:
                piece = piece.strip(" .,:;()'-=+<>!?\n")
                if len(re.findall(r"[A-Za-z]+", piece)) >= min_words:
                    out.add(piece)
    return out


def _no_english(text: str) -> list[str]:
    return sorted(f for f in _english_fragments() if f in text)


def _run(args: list[str], env: dict | None = None) -> subprocess.CompletedProcess:
    base = {k: v for k, v in __import__("os").environ.items() if k not in i18n.ENV_VARS}
    return subprocess.run(
        [*_facematch(), *args], capture_output=True, text=True, timeout=300, env={**base, **(env or {})}
    )


def test_demo_output_in_turkish_has_no_english_sentence(turkish_demo):
    """`facematch --lang tr demo`: index report, demo search, notes and caveat (the fixture's run)."""
    _idx, stdout = turkish_demo
    assert _no_english(stdout) == []
    assert "Dizin:" in stdout and "fotoğraf dosyası görüldü" in stdout


@pytest.mark.parametrize(
    ("how", "env", "words"),
    [
        (["--lang", "ug"], None, ["نامزات", "ئىندېكس"]),
        ([], {"LANG": "tr_TR.UTF-8"}, ["aday", "Dizin"]),
        (["--lang", "ug-Latn"], None, ["namzat", "Indéks"]),
    ],
)
def test_cli_commands_print_no_english_sentence(turkish_demo, how, env, words):
    """search (with a name: records, reasons, the facts note), info, records search, check and a command's --help,
    in Uyghur (--lang), in Turkish (LANG, as a terminal sets it) and in ULY: every sentence comes from the
    catalog."""
    idx, _ = turkish_demo
    query = str(Path(i18n.__file__).parent / "demo_photos" / "query" / "obama2.jpg")
    out = ""
    for args in (
        ["search", query, "--index", str(idx), "-k", "3", "--name", "Joe Biden"],
        ["info", "--index", str(idx)],
        ["records", "search", "Biden", "--index", str(idx)],
        ["check", "--index", str(idx), "--quiet"],
        ["search", "--help"],  # the help texts too (argparse's own "usage:" and "options:" stay English)
    ):
        r = _run([*how, *args], env)
        assert r.returncode == 0, r.stderr
        out += r.stdout
    assert _no_english(out) == []
    for w in words:
        assert w in out
    err = _run([*how, "info", "--index", str(idx / "nowhere")], env)  # an error raised deep in the library
    assert err.returncode == 2 and "no facematch index" not in err.stderr and str(idx / "nowhere") in err.stderr


def test_search_json_keeps_english_keys_and_translates_the_caveat(turkish_demo):
    idx, _ = turkish_demo
    query = str(Path(i18n.__file__).parent / "demo_photos" / "query" / "obama2.jpg")
    doc = __import__("json").loads(
        _run(["--lang", "tr", "search", query, "--index", str(idx), "-k", "1", "--json"]).stdout
    )
    assert {"engine", "gallery_faces", "caveat", "candidates"} <= set(doc)
    assert {"rank", "similarity", "band", "strength"} <= set(doc["candidates"][0])
    assert doc["candidates"][0]["band"] == "strong"  # a machine value: English in every language
    with i18n.language("tr"):
        assert doc["caveat"] == messages.caveat() and "benzerlik" in doc["candidates"][0]["strength"]


def test_link_export_follows_the_language(turkish_demo, tmp_path):
    """The cross-check export in Turkish: the CSV's caveat line and header are Turkish; the JSON lines keep
    their English keys (programs read those) with the caveat in Turkish."""
    import csv
    import json

    idx, _ = turkish_demo
    assert _run(["--lang", "tr", "link", "--index", str(idx), "--quiet", "--min-band", "weak"]).returncode == 0
    r = _run(["--lang", "tr", "link", "export", str(tmp_path), "--index", str(idx)])
    assert r.returncode == 0, r.stderr
    with i18n.language("tr"):
        caveat = messages.full_link_caveat()
    lines = (tmp_path / "crosscheck-pairs.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"# {caveat}"
    header = next(csv.reader([lines[1]]))
    assert header[:3] == ["çift", "tür", "puan"] and "pair" not in header
    rows = [json.loads(x) for x in (tmp_path / "crosscheck-pairs.jsonl").read_text(encoding="utf-8").splitlines()]
    assert rows[0] == {"caveat": caveat}
    assert all({"pair", "kind", "score"} <= set(row) for row in rows[1:])


def test_audit_csv_header_follows_the_language(turkish_demo):
    from facematch import report
    from facematch.index import Index
    from facematch.review import Review

    idx, _ = turkish_demo
    rv = Review(Index.open(idx))
    case = rv.create_case("Header", "Ayse")
    english = report.audit_csv(rv, case.id).splitlines()[0].split(",")
    with i18n.language("tr"):
        turkish = report.audit_csv(rv, case.id).splitlines()[0].split(",")
    assert english[:5] == ["decision_id", "case_id", "decided_at_utc", "reviewer", "decision"]
    assert turkish[:5] == ["karar_no", "vaka_no", "karar_zamanı_utc", "inceleyen", "karar"]
    assert turkish[6:10] == ["x1", "y1", "x2", "y2"] and len(turkish) == len(english)
