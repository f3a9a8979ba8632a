"""Screenshots of what issue 24 is about, for a person to look at: the family's view of a two-reviewer case after
two caseworkers confirmed, a group photo's compare, "what the family knows" in Chinese, and compare on a 390 px
phone (where the page lands). Real servers (single-user and team), real Chromium; PNGs in --out (not committed).

It drives the pages by their English words and by what every version of the workbench shows, so the same script
runs against an older checkout (PYTHONPATH=OLD/src) for a before/after pair:

    PYTHONPATH=src .venv/bin/python bench/workbench3_screens.py --out bench/out/screens-workbench3/after
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from facematch import demo  # noqa: E402
from facematch.access import Accounts  # noqa: E402
from facematch.index import Index  # noqa: E402
from facematch.indexing import index_folder  # noqa: E402
from facematch.review import Review  # noqa: E402
from facematch.search import Searcher  # noqa: E402
from team_driver import PASSPHRASE, TeamBrowser, chrome, demo_app, start_team_server  # noqa: E402

PW = "screenshot password"
GROUP = Path(str(__import__("importlib").resources.files("insightface").joinpath("data/images/t1.jpg")))


def top(b: TeamBrowser) -> None:
    b.d.execute_script("window.scrollTo(0, 0); document.querySelectorAll('section').forEach(s => s.scrollTop = 0)")


def team_family(out: Path, work: Path) -> None:
    """A family's case that needs two reviewers; two caseworkers confirmed candidate #1 (through the library);
    the family logs in and opens its case."""
    idx = work / "team-index"
    index_folder(demo.build_gallery(idx / "photos"), idx, "sface", workers=1, records_csv=demo.records_csv())
    with Index.open(idx) as index:
        accounts = Accounts(index.db)
        for name, role in [("admin", "admin"), ("amina", "family"), ("cw_dilnur", "caseworker"),
                           ("cw_erkin", "caseworker")]:  # fmt: skip
            accounts.add(name, role, PW)
        index.unlock(PASSPHRASE)
        family = Review(index, accounts.get("amina"))
        case = family.create_case("Amina's brother Abdulla")
        data = demo.query_photo().read_bytes()
        s = Searcher(index)
        q = s.detect(data, "obama2.jpg")
        family.keep_photo(case.id, data, "obama2.jpg")
        first = s.search([q.faces[0]], k=3)[0]
        admin = Review(index, accounts.get("admin"))
        for cw in ("cw_dilnur", "cw_erkin"):
            admin.give_case(case.id, cw)
            Review(index, accounts.get(cw)).decide(case.id, first, "confirm", cw, "same ears")
    port = __import__("team_driver").free_port()
    server = start_team_server(idx, port, work / "team-server.log")
    try:
        for phone in (False, True):
            kind = "phone" if phone else "desktop"
            d = chrome(work / f"chrome-team-{kind}", phone=phone)
            try:
                b = TeamBrowser(d, f"http://127.0.0.1:{port}")
                b.login("amina", PW, url=f"http://127.0.0.1:{port}/?case={case.id}&lang=en")
                b.text_appears("Candidate #1")
                b.settle()
                time.sleep(2)
                b.visible("//*[contains(., 'Candidate #1')][not(*[contains(., 'Candidate #1')])]")
                b.shot(out / f"family-two-reviewers-{kind}.png")
                body = b.body()
                (out / f"family-two-reviewers-{kind}.txt").write_text(body)
            finally:
                d.quit()
    finally:
        server.terminate()
        server.wait(timeout=30)


def single_user(out: Path, work: Path) -> None:
    idx = work / "single-index"
    with demo_app(idx, work / "single-server.log") as url:
        with Index.open(idx) as index:
            rv = Review(index)
            group = rv.create_case("Group photo")
            zh = rv.create_case("Ablikim")
            rv.set_facts(zh.id, names=["Ablikim Ahmat", "ئابلىكىم ئەھمەت"], birth_year="1979", birth_year_margin=2,
                         county="Ghulja", notes="He worked at the bazaar (1998-2016)")  # fmt: skip
            phone = rv.create_case("Phone")
            rv.keep_photo(phone.id, demo.query_photo().read_bytes(), "obama2.jpg")
        # a group photo: choose face 2 (from wherever the page numbers it), compare the first candidate
        d = chrome(work / "chrome-group")
        try:
            b = TeamBrowser(d, url)
            d.get(f"{url}/?case={group.id}&lang=en")
            b.text_appears("Case: Group photo")
            b.settle()
            from selenium.webdriver.support import expected_conditions as ec

            field = b.wait.until(ec.presence_of_element_located(("xpath", "//input[@type='file']")))
            field.send_keys(str(GROUP))
            b.text_appears("Which face is your relative?")
            b.settle()
            b.shot(out / "group-upload.png")
            b.click("//label[.//p[text()='face 2']]")
            b.text_appears("Candidate #1")
            b.settle()
            b.click("(//button[.//p[text()='Compare and decide']])[1]")
            b.text_appears("Compare: candidate")
            b.settle()
            time.sleep(1.5)
            b.shot(out / "group-compare-landing.png")
            el = b.visible("//*[text()='Your photo:' or starts-with(normalize-space(.), 'Your photo:')]")
            d.execute_script("arguments[0].scrollIntoView({block: 'start'})", el)
            time.sleep(0.5)
            b.shot(out / "group-compare-photos.png")
        finally:
            d.quit()
        # what the family knows, in Chinese
        d = chrome(work / "chrome-zh")
        try:
            b = TeamBrowser(d, url)
            d.get(f"{url}/?case={zh.id}&lang=zh_Hans")
            b.text_appears("Ablikim Ahmat")
            b.settle()
            time.sleep(1.5)
            b.shot(out / "zh-facts.png")
            (out / "zh-facts.txt").write_text(b.body())
        finally:
            d.quit()
        # compare on a phone: where the page lands after the button
        d = chrome(work / "chrome-phone", phone=True)
        try:
            b = TeamBrowser(d, url)
            d.get(f"{url}/?case={phone.id}&lang=en")
            b.text_appears("Candidate #1")
            b.settle()
            b.click("(//button[.//p[text()='Compare and decide']])[1]")
            b.text_appears("Compare: candidate #1")
            b.settle()
            time.sleep(1.5)
            b.shot(out / "phone-compare-landing.png")
        finally:
            d.quit()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "screens-workbench3" / "after")
    p.add_argument("--only", choices=["team", "single"], default=None)
    args = p.parse_args()
    out = args.out
    work = out.parent / (out.name + "-work")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    out.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name, step in (("team", team_family), ("single", single_user)):
        if args.only and args.only != name:
            continue
        try:
            step(out, work)
        except Exception:
            traceback.print_exc()
            failed += 1
    print(f"screenshots in {out}:")
    for f in sorted(out.glob("*.png")):
        print(" ", f)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
