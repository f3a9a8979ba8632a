"""Photo and name together, on the real demo gallery (sface) with the demo records (some invented)."""

from __future__ import annotations

import pytest

from facematch import combined, demo, messages
from facematch.combined import Facts
from facematch.indexing import index_folder
from facematch.review import REJECT, Review
from facematch.search import Searcher


@pytest.fixture(scope="module")
def searcher(tmp_path_factory):
    idx = tmp_path_factory.mktemp("combined") / "index"
    report = index_folder(
        demo.build_gallery(idx / "photos"), idx, "sface", workers=1, records_csv=demo.records_csv(), progress=False
    )
    assert report.records == 10  # `facematch index --records` goes through the new importer
    s = Searcher(idx)
    yield s
    s.close()


@pytest.fixture(scope="module")
def query(searcher):
    q = searcher.detect_file(demo.query_photo())
    return [q.faces[0]]


def names_of(items) -> list[str]:
    return [it.candidate.face.filename for it in items]


def test_agreeing_facts_lift_a_candidate_and_say_why(searcher, query):
    cands = searcher.search(query, k=50)
    photo_order = names_of(combined.combine(searcher, query, cands, Facts()).faces)
    assert photo_order[:2] == ["obama3.jpg", "obama.jpg"] or photo_order[:2] == ["obama.jpg", "obama3.jpg"]
    collins = photo_order.index("astronaut.png")
    facts = Facts(names=("Eileen Collins",), birth_year=1957, birth_year_margin=2, county="Elmira")
    result = combined.combine(searcher, query, cands, facts)
    order = names_of(result.faces)
    item = result.faces[order.index("astronaut.png")]
    assert order.index("astronaut.png") < collins  # it rose...
    assert order[:2] == photo_order[:2]  # ...but not above the clearly similar faces
    assert item.lift == pytest.approx(combined.NAME_LIFT + 2 * combined.FACT_LIFT)
    assert item.order_score == pytest.approx(item.similarity + item.lift)
    assert item.agrees == [
        "name (Eileen ≈ eileen; Collins ≈ collins)",
        "birth year within 2 years (record 1956, family 1957)",
        "same county",
    ]
    assert item.found_by == "photo and name"
    # switched off: the photo order comes back, the reasons stay visible, nothing is hidden
    off = combined.combine(searcher, query, cands, facts, use_facts=False)
    assert names_of(off.faces) == photo_order and len(off.faces) == len(cands)
    assert off.faces[collins].agrees == item.agrees and off.faces[collins].lift == 0.0


def test_disagreeing_facts_are_shown_and_cost_nothing(searcher, query):
    cands = searcher.search(query, k=50)
    result = combined.combine(searcher, query, cands, Facts(birth_year=1990, county="Shufu"))
    obama = next(it for it in result.faces if it.candidate.face.filename == "obama.jpg")
    assert obama.lift == 0.0 and obama.agrees == []
    assert obama.differs == [
        "record says born 1961, 29 years from the family's 1990",
        "record county Honolulu (demo), the family's Shufu",
    ]
    assert len(result.faces) == len(cands)


def test_records_found_by_name_get_the_face_similarity_whatever_their_rank(searcher, query):
    cands = searcher.search(query, k=3)
    facts = Facts(names=("Eileen Collins", "Tursun Mehmet", "巴拉克·奥巴马"))
    result = combined.combine(searcher, query, cands, facts)
    by_name = [it for it in result.faces if it.found_by == "name"]
    assert names_of(by_name) == ["astronaut.png"]
    c = by_name[0].candidate
    full = {x.face.id: x for x in searcher.search(query, k=50)}
    assert c.rank == full[c.face.id].rank > 3  # its real photo rank, beyond the 3 asked for
    assert c.similarity == pytest.approx(full[c.face.id].similarity, abs=1e-5)
    assert c.band == full[c.face.id].band  # the same calibrated strength as any candidate
    # Obama's record is found by name in Chinese characters and is already among the photo candidates
    obama = next(it for it in result.faces if it.candidate.face.filename == "obama.jpg")
    assert obama.found_by == "photo and name" and "巴拉克 → balake ≈ balake" in obama.agrees[0]
    # an invented record without a photo: listed, and says so
    assert [it.records[0]["record_id"] for it in result.no_face] == ["DEMO-0101"]
    assert result.no_face[0].note == messages.NO_PHOTO == "no photo in the archive"
    assert result.no_face[0].candidate is None


def test_name_only_search_shows_archive_faces_to_look_at(searcher):
    result = combined.combine(searcher, [], [], Facts(names=("Joe Biden", "Memtimin Qurban")))
    ids = {it.records[0]["record_id"]: it for it in result.no_face}
    assert set(ids) == {"DEMO-0003", "DEMO-0104"}
    assert ids["DEMO-0003"].note == messages.PHOTO_NO_QUERY
    # his record names face 2 of obama3.jpg, which that crop does not show: only his own portrait is his
    assert {f.filename for f in ids["DEMO-0003"].archive_faces} == {"biden.jpg"}
    assert ids["DEMO-0104"].note == messages.NO_PHOTO and ids["DEMO-0104"].archive_faces == []


def test_age_gap_between_the_two_photos(searcher, query):
    cands = searcher.search(query, k=3)
    obama = lambda r: next(it for it in r.faces if it.candidate.face.filename == "obama.jpg")  # noqa: E731
    near = obama(combined.combine(searcher, query, cands, Facts(birth_year=1961), photo_years=[2009]))
    assert near.age_gap.years == 3 and not near.age_gap.large
    assert near.age_gap.text() == (
        "Your photo: about 2009 (age about 48); archive photo: about 2012 (age about 51); 3 years apart."
    )
    # the family photo's age comes from the family's birth year, the archive photo's from the record's:
    # without a family birth year, the family photo's age is unknown (not borrowed from each record)
    unknown = obama(combined.combine(searcher, query, cands, Facts(), photo_years=[2009]))
    assert unknown.age_gap.text().startswith("Your photo: about 2009 (age unknown: the family gives no birth year)")
    far = obama(combined.combine(searcher, query, cands, Facts(photo_year=1985)))  # the case-wide year of schema 2
    assert far.age_gap.years == 27 and far.age_gap.large and "much less reliable" in far.age_gap.text()
    collins = next(
        it
        for it in combined.combine(searcher, query, searcher.search(query, k=50), Facts(photo_year=1985)).faces
        if it.candidate.face.filename == "astronaut.png"
    )
    # her record has no photo or detention date: no gap is made up, and the screen says the year is unknown
    assert collins.age_gap.years is None and "archive photo: year unknown" in collins.age_gap.text()
    two = obama(combined.combine(searcher, query, cands, Facts(birth_year=1961), photo_years=[2009, 1990]))
    assert two.age_gap.years == 22 and two.age_gap.large  # one photo year per photo: the largest gap counts
    assert two.age_gap.text().startswith("Your photos: about 2009 (age about 48), about 1990 (age about 29)")
    assert combined.family_photo_note(Facts(birth_year=1979, photo_year=1988)).startswith(
        "Your photo shows them at about age 9"
    )
    assert combined.family_photo_note(Facts(birth_year=1979, photo_year=2005)) is None


def test_facts_never_touch_decisions(searcher, query):
    rv = Review(searcher.index)
    case = rv.create_case("facts and decisions", "Ayse")
    cands = searcher.search(query, k=50)
    collins = next(c for c in cands if c.face.filename == "astronaut.png")
    rv.decide(case.id, collins, REJECT, "Ayse", "not her")
    before = len(rv.log(case.id))
    result = combined.combine(searcher, query, cands, Facts(names=("Eileen Collins",), county="Elmira"))
    annotated = dict((c.face.id, d) for c, d in rv.annotate(case.id, [it.candidate for it in result.faces]))
    assert annotated[collins.face.id].decision == REJECT  # still rejected, still there to show
    assert collins.face.id in {it.candidate.face.id for it in result.faces}
    assert len(rv.log(case.id)) == before


def test_county_agrees_across_scripts():
    assert combined.county_agrees("Shufu", "Shufu (demo)") == "same county"
    assert combined.county_agrees("Shufu", "疏附县") == "same county (疏附 → shufu ≈ shufu)"
    assert combined.county_agrees("Kashgar", "疏附县") is None
    assert combined.county_agrees("", "疏附县") is None
