"""The workbench in Uyghur, Turkish and Chinese, in a real browser (headless Chromium), on the real demo index.

- The same flow as the English one (test_browser.py): start a case from the page, upload the family's photo,
  see candidates, compare, confirm, find the decision in SQLite; in ug, tr and zh_Hans.
- On each main page (start, case with candidates, compare, the case after the decision with its export, the
  cross-check) the visible text (document.body.innerText) holds no English: no word of facematch's English
  source text that is not also a word of the language's own catalog, and in Uyghur and Chinese no Latin word at
  all, except names, numbers and the short allow-list below.
- Uyghur is laid out right to left (the candidate grid too, on a desktop and on a 390 px phone), and its letters
  are drawn with the shipped font (this machine has no Arabic-script font: without ours they would be boxes).
- The language picker: switching changes the page, a reload keeps it.

One server and one index for the module (the suite must stay fast on two cores). Screenshots go to
bench/out/screens-i18n/ (printed with -s) for a person to look at.
"""

from __future__ import annotations

import re
import sqlite3
import time
from pathlib import Path

import pytest

import team_driver
from facematch import demo, i18n
from facematch.i18n import _
from facematch.store import DB_NAME

ROOT = Path(__file__).resolve().parents[1]
SCREENS = ROOT / "bench" / "out" / "screens-i18n"

#: Latin words allowed on a non-English page, and why:
ALLOWED = {
    # the tool's, the models' and the formats' own names (never translated, like a brand)
    "facematch", "sface", "yunet", "dlib", "insightface", "arcface", "buffalo_l", "lfw", "jpeg", "png", "webp",
    "heic", "csv", "jsonl", "html", "sha256", "noto", "buffalo",
    # the size of an uploaded file, as Streamlit's uploader writes it ("45.2KB"): a unit, as in any language
    "kb",
    # the shell commands the engine note and the cross-check quote, which a person types as written
    "models", "fetch", "evaluate", "calibrate", "lfw_dir", "engine", "install", "index", "photo_dir", "link",
}  # fmt: skip
# the language picker names each language in itself (English is "English", ULY Uyghur "Uyghurche (ULY)")
ALLOWED |= {w.lower() for code in i18n.available() for w in re.findall(r"[^\W\d_]+", i18n.display_name(code))}
#: Names typed in the test (reviewers), and the demo archive's records and file names (Barack Obama, Honolulu,
#: obama.jpg, "White House portrait"): what an archive says is shown as the archive wrote it, in any language.
NAMES = {"ayse", "bilal", "jpg"} | {w.lower() for w in re.findall(r"[^\W\d_]+", demo.records_csv().read_text())}
NAMES |= {w.lower() for f in (demo.DEMO_DIR / "gallery").iterdir() for w in re.findall(r"[^\W\d_]+", f.name)}
#: A case per language, named in the language (one server for the module: each page lists the others' cases).
CASES = [("ug", "ئايگۈل ئەخمەت"), ("tr", "Kız kardeşim"), ("zh_Hans", "阿依古丽")]
#: The reviewer's name and note in each language (typed by a person: shown as typed).
REVIEWER = {"ug": ("ئايشە", "قۇلىقى ئوخشاش"), "tr": ("Bilal", "kulakları aynı"), "zh_Hans": ("爱莎", "耳朵一样")}
NAMES |= {w.lower() for _code, name in CASES for w in name.split()}
#: The words the app's CSS shows in the file uploader in place of Streamlit's English (workbench.UPLOADER_STYLE).
UPLOADER_WORDS = """const after = sel => getComputedStyle(arguments[0].querySelector(sel), '::after').content;
return [after('[data-testid=stFileUploaderDropzoneInstructions] > div'), after('button > div')]"""
#: The page itself (not the sidebar, which has the same "new case" form).
MAIN = "//*[@data-testid='stMain']"


@pytest.fixture(autouse=True)
def a_browser_to_drive() -> None:
    team_driver.need_browser()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The demo index and one app server for every test of this module; its log must stay clean."""
    tmp = tmp_path_factory.mktemp("i18n_app")
    idx = tmp / "index"
    with team_driver.demo_app(idx, tmp / "server.log") as url:
        yield url, idx


xpath_literal = team_driver.xpath_text


def english_words(code: str) -> set[str]:
    """Words of facematch's English source text (every msgid) that are not also words of `code`'s catalog
    (a Turkish page may say "grup" or "model"; those are Turkish too)."""
    from babel.messages.pofile import read_po

    if code == i18n.SOURCE:
        return set()

    def words(texts) -> set[str]:
        return {w.lower() for t in texts for w in re.findall(r"[^\W\d_]{3,}", t)}

    with (i18n.LOCALE_DIR / code / "LC_MESSAGES" / "facematch.po").open("rb") as f:
        po = read_po(f, locale=code)
    source, own = set(), set()
    for m in po:
        if m.id:
            source |= words(m.id if isinstance(m.id, tuple) else (m.id,))
            own |= words(m.string if isinstance(m.string, tuple) else (m.string,))
    return source - own


#: The page's visible text, as document.body.innerText has it, without: shell commands (<code>, typed as written);
#: the icon font's ligatures ("keyboard_arrow_down" is drawn as an arrow); and what Streamlit itself writes for
#: screen readers only, drawn 1 px or not at all: its "Skip to main content" link (the app's CSS shows our words
#: in its place when a keyboard focuses it) and the names of its icon buttons ("add icon"). Those last two are a
#: known limit (README, Languages): Streamlit offers no way to change them.
VISIBLE_TEXT = """
const skip = el => el.closest('code, style, script, [data-testid=stIconMaterial], [data-testid=stSkipToContent]');
const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
const out = [];
while (walk.nextNode()) {
  const parent = walk.currentNode.parentElement;
  if (!parent || skip(parent) || !parent.checkVisibility({visibilityProperty: true})) continue;
  const box = parent.getBoundingClientRect();
  if (box.width <= 1 && box.height <= 1) continue;
  out.push(walk.currentNode.textContent);
}
return out.join(' ');
"""


class Page(team_driver.TeamBrowser):
    """One Chromium window on the app in one language, with the waits a person's pace needs."""

    def __init__(self, driver, code: str, prefix: str) -> None:
        super().__init__(driver, "")
        self.code, self.prefix = code, prefix
        self.english = english_words(code)

    def button(self, label: str, where: str = "") -> None:
        self.click(f"{where}//button[.//p[text()={xpath_literal(label)}]]")

    def shot(self, name: str) -> Path:
        SCREENS.mkdir(parents=True, exist_ok=True)
        path = SCREENS / f"{self.prefix}{self.code}-{name}.png"
        time.sleep(0.5)
        self.d.save_screenshot(str(path))
        assert path.stat().st_size > 10_000
        print(f"screenshot: {path}")
        return path

    def no_english(self, page: str) -> None:
        """The visible text of the page has no English left (see the module docstring and ALLOWED)."""
        self.settle()
        text = self.d.execute_script(VISIBLE_TEXT)
        text = re.sub(r"sha256 \S+", " ", text)  # a checksum (hex digits), as the archive photo's fingerprint
        words = {w.lower() for w in re.findall(r"[^\W\d_]{2,}", text)}
        left = {w for w in words & self.english if w not in ALLOWED | NAMES}
        if self.code in ("ug", "zh_Hans"):  # neither writes in Latin letters: any Latin word is left-over English
            left |= {w for w in words if re.fullmatch(r"[a-zäöüçğışé]+", w) and w not in ALLOWED | NAMES}
        where = [m.group(0) for w in sorted(left) for m in re.finditer(rf"(?i).{{0,30}}\b{w}\b.{{0,30}}", text)]
        assert not left, f"English on the {page} page in {self.code}: {sorted(left)}, in {where[:10]}"


def iso(name: str, code: str) -> str:
    """A name as the app writes it inside a sentence: isolated in a right-to-left language (workbench.iso)."""
    return f"\u2068{name}\u2069" if i18n.is_rtl(code) else name


def flow(page: Page, url: str, case_name: str, reviewer: str, note: str) -> None:
    """What test_browser.py does in English: start a case from the page, upload, compare, confirm; every main
    page checked for English on the way."""
    with i18n.language(page.code):
        page.d.get(f"{url}/?lang={page.code}")
        page.text_appears(_("Create case"))
        page.shot("1-start")
        page.no_english("start")
        page.type_into(_("Your name (saved with every decision)"), reviewer + "\n")
        page.type_into(_("Name or alias of the missing person"), case_name, MAIN)
        page.settle()
        page.button(_("Create case"), MAIN)
        page.text_appears(_("Case: {name}", name=iso(case_name, page.code)))
        page.wait.until(lambda d: d.find_elements("xpath", "//input[@type='file']"))
        page.settle()
        uploader = page.visible("//*[@data-testid='stFileUploaderDropzone']")  # our words, not Streamlit's English
        page.shot("1b-upload")
        shown = page.d.execute_script(UPLOADER_WORDS, uploader)  # CSS ::after content, in place of Streamlit's
        assert _("Drag and drop photos here, or choose them with the button") in shown[0]
        assert _("Choose photos") in shown[1]
        page.d.find_element("xpath", "//input[@type='file']").send_keys(str(demo.query_photo()))
        page.text_appears(_("Face found:"))
        page.text_appears(_("Candidate #{rank}", rank=1))
        page.shot("2-candidates")
        page.no_english("case with candidates")
        page.button(_("Compare and decide"))
        page.text_appears(_("Compare: candidate #{rank}", rank=1))
        page.click(f"//label[.//p[contains(text(), {xpath_literal(_('Confirm: this is the same person'))})]]")
        page.type_into(_("Note (why; optional)"), note)
        page.shot("3-compare")
        page.no_english("compare")
        page.button(_("Record decision"))
        page.text_appears(_("Decisions in this case ({faces})", faces="|").split("|")[0])
        page.shot("4-decided")
        page.no_english("decided case (report and export)")
        page.d.get(f"{url}/?page=crosscheck&lang={page.code}")
        page.text_appears(_("Cross-check the archive against itself"))
        if page.code == "ug":  # link the demo archive once (the server is shared), so the queue has pairs to show
            page.button(_("Link faces not linked yet"))
            page.wait.until(lambda d: d.find_elements("css selector", "[class*='st-key-xrow_']"))
        page.shot("5-crosscheck")
        page.no_english("cross-check")
        for tab in (_("Groups"), _("Duplicate images"), _("Export")):  # the tabs' contents are drawn when opened
            page.click(f"//*[@role='tab'][normalize-space(.)={xpath_literal(tab)}]")
            page.no_english("cross-check")
        page.shot("6-crosscheck-export")


@pytest.mark.parametrize("code, case_name", CASES)
def test_the_english_flow_in_each_language(server, tmp_path, code, case_name):
    url, idx = server
    driver = team_driver.chrome(tmp_path / "chrome")
    reviewer, note = REVIEWER[code]
    try:
        page = Page(driver, code, "")
        flow(page, url, case_name, reviewer, note)
        if code == "ug":  # right to left: the page's direction, and the candidate grid flowing from the right
            assert (
                driver.execute_script(
                    "return getComputedStyle(document.querySelector('[data-testid=stMain]')).direction"
                )
                == "rtl"
            )
    finally:
        driver.quit()
    con = sqlite3.connect(idx / DB_NAME)
    rows = con.execute("SELECT decision, rank, note FROM decisions WHERE reviewer = ?", (reviewer,)).fetchall()
    assert rows == [("confirm", 1, note)]


def test_uyghur_is_drawn_with_the_shipped_font_and_right_to_left_on_a_phone(server, tmp_path):
    """390 px: the candidate cards two per row, #1 on the right (Uyghur reads from the right); the Uyghur letters
    come from the shipped Noto Sans Arabic (loaded by the page, with real glyph widths, not boxes)."""
    url, _idx = server
    phone = team_driver.chrome(tmp_path / "phone", phone=True)
    try:
        page = Page(phone, "ug", "phone-")
        with i18n.language("ug"):
            phone.get(f"{url}/?lang=ug")
            page.text_appears(_("Create case"))
            page.type_into(_("Name or alias of the missing person"), "ئانام", MAIN)
            page.button(_("Create case"), MAIN)
            page.text_appears(_("Case: {name}", name=iso("ئانام", "ug")))
            page.wait.until(lambda d: d.find_elements("xpath", "//input[@type='file']"))
            page.settle()
            phone.find_element("xpath", "//input[@type='file']").send_keys(str(demo.query_photo()))
            page.text_appears(_("Candidate #{rank}", rank=1))
            page.settle()
            cards = [
                e
                for e in phone.find_elements("xpath", "//div[contains(@class, 'st-key-cards')]//strong")
                if e.is_displayed()
            ]
            first, second, third = cards[:3]
            assert first.location["y"] == second.location["y"] < third.location["y"]  # two per row, in rank order
            assert first.location["x"] > second.location["x"]  # ... from the right
            assert max(e.rect["x"] + e.rect["width"] for e in cards) <= 390
            phone.execute_script("arguments[0].scrollIntoView({block: 'center'})", first)
            page.shot("1-candidates")
            loaded = phone.execute_script(
                "return [...document.fonts].filter(f => f.status === 'loaded').map(f => f.family)"
            )
            assert any("facematch Noto Sans Arabic" in f for f in loaded), loaded
            page.button(_("Compare and decide"))
            page.text_appears(_("Compare: candidate #{rank}", rank=1))
            pair = phone.find_elements("xpath", "//div[contains(@class, 'st-key-pair')]//img")
            assert len(pair) == 2 and pair[0].location["y"] == pair[1].location["y"]  # side by side
            assert pair[0].location["x"] > pair[1].location["x"]  # the family's photo first: on the right
            phone.execute_script("arguments[0].scrollIntoView({block: 'center'})", pair[0])
            page.shot("2-compare")
    finally:
        phone.quit()


def test_the_picker_switches_the_page_and_a_reload_keeps_it(server, tmp_path):
    url, _idx = server
    driver = team_driver.chrome(tmp_path / "chrome")
    try:
        page = Page(driver, "en", "picker-")
        driver.get(url)
        page.text_appears("Search an archive for a missing relative")
        page.click("//div[contains(@class, 'st-key-lang_picker')]//button[.//p[text()='Türkçe']]")
        with i18n.language("tr"):
            page.text_appears(_("Search an archive for a missing relative"))
            assert "lang=tr" in driver.current_url
            driver.get(driver.current_url)  # a reload: a new session, the same language
            page.text_appears(_("Search an archive for a missing relative"))
            page.no_english("start, after a reload")
        page.click("//div[contains(@class, 'st-key-lang_picker')]//button[.//p[text()='中文 (简体)']]")
        with i18n.language("zh_Hans"):
            page.text_appears(_("Search an archive for a missing relative"))
            page.shot("zh-start")
    finally:
        driver.quit()
