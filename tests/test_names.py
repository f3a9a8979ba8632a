"""Names across scripts, on the committed set of invented name variants (tests/data/name_variants.csv).

Every name in that file is invented for this test (common Uyghur given names put together; no real
person is meant), written the way families and archives write names: Uyghur Latin, Turkish and
English spellings, Chinese characters (with and without the name dot), pinyin, Uyghur Arabic script
and Cyrillic. Some people are deliberately confusable (same given name, same father's name, the
same two names in the other order).
"""

from __future__ import annotations

from pathlib import Path

import name_eval
import pytest

from facematch import names
from facematch.names import readings as nametable

VARIANTS = Path(__file__).resolve().parent / "data" / "name_variants.csv"


@pytest.fixture(scope="module")
def variants() -> list[name_eval.Variant]:
    return name_eval.load_variants(VARIANTS)


@pytest.fixture(scope="module")
def scores(variants):
    return name_eval.score_matrix(variants)


def test_scripts_are_detected(variants):
    for v in variants:
        expected = v.script if v.script != "latin" else {"latin", "pinyin"}
        got = names.normalise(v.name).script
        assert got in expected if isinstance(expected, set) else got == expected, (v.name, got)
    assert names.normalise("Abudukelimu Tuerxun").script == "pinyin"
    assert names.normalise("Mirzat Hesen").script == "latin"  # "hesen" splits into pinyin, "mirzat" does not


def test_chinese_characters_read_as_in_names():
    assert names.han_to_pinyin("阿布都外力") == "abuduwaili"  # 都 is "du" in names, not "dou"
    form = names.normalise("阿布都外力·阿尤普")
    assert [t.latin for t in form.tokens] == ["abuduwaili", "ayoupu"]
    assert names.normalise("阿布都外力阿尤普").tokens[0].latin == "abuduwailiayoupu"


def test_uyghur_arabic_and_latin_both_ways(variants):
    assert names.arabic_to_latin("ئابدۇكېرىم تۇرسۇن") == "abdukérim tursun"
    assert names.latin_to_arabic("abdukérim tursun") == "ئابدۇكېرىم تۇرسۇن"
    arabic = [v.name for v in variants if v.script == "arabic" and "ه" not in v.name]
    assert len(arabic) >= 25
    for text in arabic:  # every Uyghur Arabic spelling in the set survives the round trip
        assert names.latin_to_arabic(names.arabic_to_latin(text)) == text, text
    assert names.arabic_to_latin("ئەهمەت") == "ehmet"  # Arabic ه typed for ھ inside a word
    # presentation forms (as some PDFs and old systems store Arabic script) read like the letters
    assert names.arabic_to_latin("\ufe8b\ufe8e\ufe91") == names.arabic_to_latin("ئاب")


def test_cyrillic_and_turkish_fold_to_the_same_sounds():
    assert names.cyrillic_to_latin("Мәмтимин Қурбан") == "memtimin qurban"
    assert names.fold_latin("Şöhret Abdülkerim İlham") == "shohretabdulkerimilham"
    same = ["Abdukérim", "Абдукерим", "ئابدۇكېرىم", "Abdukerim"]
    assert len({names.normalise(n).key for n in same}) == 1
    assert names.normalise("Hesen").key == names.normalise("Hasan").key  # e/a are one vowel class
    assert names.normalise("Osman").key != names.normalise("Hesen").key


def test_reason_says_how_the_record_was_read():
    index = names.NameIndex([("r1", names.normalise("阿布都外力·阿尤普")), ("r2", names.normalise("Tursun Memet"))])
    hits = index.search("Abduweli Ayup")
    assert [ref for ref, _ in hits] == ["r1"]
    assert hits[0][1].reason() == "阿布都外力 → abuduwaili ≈ abduweli; 阿尤普 → ayoupu ≈ ayup"
    assert hits[0][1].score >= names.THRESHOLD


def test_given_name_alone_other_order_and_lr():
    index = names.NameIndex(
        [
            ("given-father", names.normalise("Abduweli Ayup")),
            ("father-given", names.normalise("Ayup Abduweli")),
            ("other", names.normalise("Abdukerim Tursun")),
            ("barack", names.normalise("巴拉克·奥巴马")),
        ]
    )
    found = {ref for ref, _ in index.search("Abduweli")}
    assert found == {"given-father", "father-given"}  # a given name alone is found in either place
    scores = dict(index.search("Abduweli Ayup", threshold=0))
    assert scores["given-father"].score > scores["father-given"].score  # the other order costs something
    assert scores["other"].score < names.THRESHOLD
    assert [ref for ref, _ in index.search("Barak Obama")] == ["barack"]  # Chinese hears r as l


@pytest.mark.parametrize("bad", ["", "   ", "12345", "😀", "-", None, "·"])
def test_unreadable_names_never_raise(bad):
    form = names.normalise(bad)
    assert form.tokens == ()
    index = names.NameIndex([("a", names.normalise("Tursun"))])
    assert index.search(form) == []


def test_recall_and_precision_on_the_variant_set(variants, scores):
    """Measured, with the threshold chosen on the development half (odd person numbers)."""
    table = []
    for subset in ("dev", "held-out"):
        for r in name_eval.evaluate(variants, (80, 85, names.THRESHOLD, 90, 95), subset, scores):
            table.append((subset, r.threshold, r.recall, r.precision, r.found, r.expected, r.returned))
    print("\nhalf       threshold  recall  precision  found/expected  returned")
    for row in table:
        print(f"{row[0]:<10} {row[1]:>9.0f}  {row[2]:.3f}   {row[3]:.3f}      {row[4]:>4}/{row[5]:<4}       {row[6]}")
    # Pinned exactly: (found, expected, returned) as measured with this set and these rules (the name table
    # and endings included), the numbers of docs/names.md's table (python bench/names.py).
    # The comparison is deterministic (string rules, the name table, pypinyin's dictionary, rapidfuzz), so
    # any change is a change in the rules, the table or the dictionary: the table in docs/names.md changes with it.
    # At the default 88: dev recall 0.999, precision 1.000; held-out recall 1.000, precision 1.000.
    measured = {
        ("dev", 80): (804, 804, 838),
        ("dev", 85): (803, 804, 803),
        ("dev", 88): (803, 804, 803),
        ("dev", 90): (797, 804, 797),
        ("dev", 95): (729, 804, 729),
        ("held-out", 80): (918, 918, 950),
        ("held-out", 85): (918, 918, 918),
        ("held-out", 88): (918, 918, 918),
        ("held-out", 90): (918, 918, 918),
        ("held-out", 95): (846, 918, 846),
    }
    assert {(row[0], row[1]): row[4:] for row in table} == measured
    at = {(row[0], row[1]): row for row in table}
    assert names.THRESHOLD == 88
    assert [round(at[("held-out", 88)][i], 3) for i in (2, 3)] == [1.0, 1.0]  # docs/names.md's rounding
    assert at[("dev", 80)][2] >= at[("dev", 95)][2]  # lowering the threshold never loses a hit


# -- the name table and endings (issue 15) ------------------------------------------------------------
def test_name_table_loads_once_and_every_row_reads():
    t = nametable.table()
    assert t is nametable.table()  # read once per process
    assert len(t) >= 300
    sexes = [r.sex for r in t.rows]
    assert sexes.count("m") >= 150 and sexes.count("f") >= 100
    for row in t.rows:
        assert names.normalise(row.uly).tokens and row.chinese, row
        for spelling in row.spellings:  # one word of Latin letters (a Cyrillic а looks the same)
            assert all(names.char_script(c) == "latin" for c in spelling), (row.uly, spelling)
        assert all(names.detect_script(zh) == "han" for zh in row.chinese), row
        # the Uyghur Arabic spelling is derived from the ULY one, and reads back to it
        arabic = names.latin_to_arabic(row.uly.lower())
        assert names.arabic_to_latin(arabic) == row.uly.lower(), row
    by_uly = {r.uly: r for r in t.rows}
    assert "司马义" in by_uly["Ismayil"].chinese and "肖开提" in by_uly["Shöhret"].chinese
    assert {"买买提", "麦麦提", "穆罕默德"} <= set(by_uly["Memet"].chinese)
    assert {"Mehmet", "Mamat", "Muhammad"} <= set(by_uly["Memet"].latin)
    assert by_uly["Alimjan"].base == "Alim"


def test_table_file_errors_name_the_row(tmp_path):
    bad = tmp_path / "t.tsv"
    bad.write_text("# c\nuly\tsex\tchinese\tlatin\tnote\nAlim\tm\t\tAlem\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match="row 1"):
        nametable.load_table(bad)


@pytest.fixture(scope="module")
def archive():
    """Records as an archive writes them (Chinese characters), among 2,000 distractors of common names."""
    recs = {
        "alim": "阿力木·买买提",
        "erkin": "艾尔肯·依明",
        "tursun": "吐尔逊·卡德尔",
        "shohret": "肖开提·亚森",
        "ismayil": "司马义·艾山",
        "nurgul": "努尔古丽·买买提",
        "nur": "努尔·买买提",  # another person: Nur is not Nurgül without -gül
        "meryemgul": "麦尔耶姆古丽·吐尔逊",
        "meryem": "麦尔耶姆·吐尔逊",  # another person
    }
    variants = [name_eval.Variant("P99", "阿力木·买买提", "han", "Chinese characters")]
    rows = list(recs.items()) + [(f"D{i}", n) for i, n in enumerate(name_eval.distractors(variants, 2000))]
    return names.NameIndex((ref, names.normalise(n)) for ref, n in rows)


@pytest.mark.parametrize(
    "query, expected",
    [
        ("Alimjan Memet", "alim"),
        ("Alimcan Mehmet", "alim"),
        ("ئالىمجان مەمەت", "alim"),
        ("Алимжан Мамат", "alim"),
        ("Erkinjan Imin", "erkin"),
        ("ئەركىنجان ئىمىن", "erkin"),
        ("Tursunjan Qadir", "tursun"),
        ("Tursuncan Kadir", "tursun"),
        ("Shöhret Yasin", "shohret"),
        ("Shohret Yasin", "shohret"),
        ("Xöhret Yasin", "shohret"),
        ("Şöhret Yasin", "shohret"),
        ("شۆھرەت ياسىن", "shohret"),
        ("Ismayil Hesen", "ismayil"),
        ("Ismail Hasan", "ismayil"),
        ("İsmail Hasan", "ismayil"),
        ("ئىسمايىل ھەسەن", "ismayil"),
        ("Nurgül Memet", "nurgul"),
        ("Meryemgül Tursun", "meryemgul"),
    ],
)
def test_family_spellings_find_the_record_first(archive, query, expected):
    hits = archive.search(query)
    assert hits and hits[0][0] == expected, [(r, round(a.score, 1), a.reason()) for r, a in hits[:3]]
    before = archive.search(query, readings=False)  # without the table and endings (as before issue 15)
    if expected in ("alim", "erkin", "tursun", "shohret", "ismayil"):
        assert expected not in [r for r, _ in before[:10]]


def test_reasons_say_which_rule_found_the_name(archive):
    alim = dict(archive.search("Alimjan Memet"))["alim"].reason()
    assert "compared as 'Alim' after setting aside the affectionate ending '-jan'" in alim
    arabic = dict(archive.search("ئالىمجان مەمەت"))["alim"].reason()
    assert "setting aside the affectionate ending '-jan, جان'" in arabic
    shohret = dict(archive.search("Shohret Yasin"))["shohret"].reason()
    assert (
        shohret.startswith("肖开提 → xiaokaiti ≈ ")
        and "(name table: 肖开提 is a usual Chinese writing of Shöhret)" in shohret
    )
    ismayil = dict(archive.search("Ismail Hasan"))["ismayil"]
    assert ismayil.read_by_rule and "司马义 is a usual Chinese writing of Ismayil" in ismayil.reason()
    abliz = names.NameIndex([(0, names.normalise("阿不力孜江·买买提"))]).search("Abliz Memet")[0][1]
    assert "the record's name is Abliz with the affectionate ending '-jan'" in abliz.reason()
    plain = dict(archive.search("Alim Memet"))["alim"]  # found by its spelling: no rule named
    assert not plain.read_by_rule and "name table" not in plain.reason()


def test_a_gul_name_is_not_folded_onto_another_person(archive):
    """Gül is a name and -gül part of most female names: Nurgül is not Nur (a man) without an ending, and
    the whole name, when a record has it, ranks above a record of the name with -gül set aside."""
    nurgul = archive.search("Nurgül Memet")
    assert nurgul[0][0] == "nurgul" and "nur" not in [r for r, _ in nurgul]
    meryem = archive.search("Meryemgül Tursun")
    refs = [r for r, _ in meryem]
    assert refs[0] == "meryemgul"
    if "meryem" in refs:  # a candidate reading, shown as such, below the whole name
        m = dict(meryem)["meryem"]
        assert m.score < meryem[0][1].score and "setting aside the flower ending '-gül'" in m.reason()
    # Merjan is no Mer + -jan, Reyhan no Rey + -han: nothing is set aside
    for word in ("Merjan", "Reyhan", "Turghun", "Gül"):
        assert [r.note for r in nametable.readings(names.normalise(word).tokens[0]) if r.cost] == []


def test_per_kind_targets_on_the_held_out_half(variants):
    """Family-side spellings against Chinese-script records among 10,000 distractors (name_eval.evaluate_archive),
    on the held-out half: within the first 10 hits for >= 95% of queries of every kind, with >= 90% of the
    hits shown being the right record. Before the name table and endings, -jan and standard
    transcriptions were mostly missed."""
    after = name_eval.evaluate_archive(variants, "held-out")
    before = name_eval.evaluate_archive(variants, "held-out", readings=False)
    print("\n" + "\n".join(name_eval.kind_table(before, after)))
    assert set(name_eval.KINDS) <= set(after)
    for k, a in after.items():
        assert a.recall10 >= 0.95 and a.precision >= 0.9, (k, a)
    for k in ("-jan / -xan ending", "standard transcription"):
        assert before[k].recall10 < 0.5 and after[k].recall10 == 1.0


@pytest.mark.parametrize(
    "word, stem, ending",
    [
        ("Alimjan", "Alim", "'-jan'"),
        ("Tursuncan", "Tursun", "'-jan'"),
        ("ئالىمجان", "ئالىم", "'-jan, جان'"),
        ("Әхмәтжан", "Әхмәт", "'-jan, жан'"),
        ("Gülnisaxan", "Gülnisa", "'-han'"),
        ("گۈلنىساخان", "گۈلنىسا", "'-han, خان'"),
        ("Meryemgül", "Meryem", "'-gül'"),
        ("مەريەمگۈل", "مەريەم", "'-gül, گۈل'"),
        ("Tursunxun", "Tursun", "'-hun'"),
        ("تۇرسۇنخۇن", "تۇرسۇن", "'-hun, خۇن'"),
        ("阿力木江", "阿力木", "'-jan, 江'"),
    ],
)
def test_endings_are_set_aside_in_every_script(word, stem, ending):
    folded = [r for r in nametable.readings(names.normalise(word).tokens[0]) if r.cost and not r.shown]
    assert [r.token.written for r in folded] == [stem]
    assert f"compared as '{stem}' after setting aside the" in folded[0].note and f"ending {ending}" in folded[0].note
