"""Screenshots of the team server for a person to look at (issue 14): the login page, a family's view of its
case, and the two-reviewer states (waiting for your own decision; confirmed by two), each on a desktop
window and on a 390 px phone. Real server, real Chromium; PNGs in bench/out/screens-team/ (not committed).

    .venv/bin/python bench/team_screens.py [--out bench/out/screens-team]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from facematch import demo  # noqa: E402
from facematch.access import Accounts  # noqa: E402
from facematch.index import Index  # noqa: E402
from facematch.indexing import index_folder  # noqa: E402
from facematch.review import Review  # noqa: E402
from team_driver import PASSPHRASE, TeamBrowser, chrome, free_port, start_team_server  # noqa: E402

PW = "screenshot password"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "screens-team")
    args = p.parse_args()
    out = args.out
    work = out.parent / "screens-team-work"
    shutil.rmtree(work, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    idx = work / "index"
    index_folder(demo.build_gallery(idx / "photos"), idx, "sface", workers=1, records_csv=demo.records_csv())
    with Index.open(idx) as index:
        accounts = Accounts(index.db)
        for name, role in [("admin", "admin"), ("amina", "family"), ("cw_dilnur", "caseworker"),
                           ("cw_erkin", "caseworker"), ("cw_farida", "caseworker")]:  # fmt: skip
            accounts.add(name, role, PW)
        index.unlock(PASSPHRASE)
        admin = Review(index, accounts.get("admin"))
        case = admin.create_case("Amina's brother Abdulla")
        admin.set_facts(case.id, names=["Abdulla Tursun"], birth_year="1979", birth_year_margin=2, county="")
        for name in ("amina", "cw_dilnur", "cw_erkin", "cw_farida"):
            admin.give_case(case.id, name)
    port = free_port()
    server = start_team_server(idx, port, work / "server.log")
    url = f"http://127.0.0.1:{port}"
    case_url = f"{url}/?case={case.id}"
    shots = []
    try:
        for phone in (False, True):
            kind = "phone" if phone else "desktop"
            d = chrome(work / f"chrome-{kind}", phone=phone)
            try:
                b = TeamBrowser(d, url)
                d.get(url)
                b.text_appears("facematch: log in")
                b.settle()
                shots.append(b.shot(out / f"{kind}-1-login.png"))
                b.type_into("Account name", "amina")
                b.type_into("Password", "not the password")
                b.click("//button[.//p[text()='Log in']]")
                b.text_appears("Wrong name or password")
                shots.append(b.shot(out / f"{kind}-2-login-refused.png"))
                b.login("amina", PW, url=case_url)
                b.upload(demo.query_photo())
                time.sleep(1)
                b.visible("//h1[contains(., 'Case:')]")
                shots.append(b.shot(out / f"{kind}-3-family-case.png"))
                b.visible("//strong[text()='Candidate #1']")
                shots.append(b.shot(out / f"{kind}-4-family-candidates.png"))
                if not phone:  # the decisions are made once, on the desktop run
                    b.decide_first(note="his ears")
                    b.login("cw_dilnur", PW, url=case_url)
                    b.upload(demo.query_photo())
                    b.decide_first(note="same ears and hairline")
                b.login("cw_farida" if phone else "cw_erkin", PW, url=case_url)  # has not decided yet
                b.upload(demo.query_photo())
                b.visible("//strong[text()='Candidate #1']")
                b.visible("//p[contains(., 'you see their decision after you record yours')]")
                shots.append(b.shot(out / f"{kind}-5-reviewer-not-yet-decided-is-blind.png"))
                if phone:
                    b.login("cw_erkin", PW, url=case_url)
                    b.upload(demo.query_photo())
                else:
                    b.decide_first("Confirm: this is the same person")
                b.visible("//h3[contains(., 'Decisions in this case')]")
                shots.append(b.shot(out / f"{kind}-6-confirmed-by-two.png"))
            finally:
                d.quit()
    finally:
        server.terminate()
        server.wait(timeout=30)
    for s in shots:
        print(s)
    return 0


if __name__ == "__main__":
    sys.exit(main())
