"""Many people on one team server at once (issue 14): real headless Chromium sessions under different family
accounts, each looping upload -> candidates -> decision, plus library-level writers in another process, for
a fixed time against one `facematch app --team` server; with the front door (app/door.py, as served) and,
in the same run, without it (bench/nodoor_app.py: the same team workbench, the door's checks taken out), to
measure what the door costs.

The two modes take turns in slices (door, no door, no door, door, ... : --rounds of each, --minutes each), each
slice on a freshly started server, so a change in the machine's load during the run falls on both. Reports, per
mode, p50/p95 seconds from upload to candidates on screen, errors (exceptions in a session, an error box on a
page, a Traceback in the server log: must be 0), decisions acknowledged on screen or by the library versus
decisions found in the database afterwards (0 lost), and whether any session ever saw another account's case,
photo name or decision note (every page a session saw is searched for the other sessions' markers: must be
never); then the ratios door / no door, and the load average seen during each slice.

    .venv/bin/python bench/team_load.py [--sessions 8] [--minutes 3] [--rounds 2] [--writers 2]
                                        [--modes door,nodoor] [--out bench/out/team-load]

Two cores are shared by the server, the model and every browser: the latencies measure a crowded machine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import threading
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from conftest import variants  # noqa: E402  (real photos with real faces, each with its own sha256)
from facematch import demo  # noqa: E402
from facematch.access import Accounts  # noqa: E402
from facematch.index import Index  # noqa: E402
from facematch.indexing import index_folder  # noqa: E402
from facematch.review import Review  # noqa: E402
from facematch.search import Searcher  # noqa: E402
from team_driver import PASSPHRASE, TeamBrowser, chrome, free_port, start_team_server  # noqa: E402

PW = "load test password"
CHOICES = ("Unsure: cannot tell", "Confirm: this is the same person")  # never confirm twice in a row
NO_DOOR_APP = ROOT / "bench" / "nodoor_app.py"
MODES = ("door", "nodoor")


def say(*parts: object) -> None:
    print(time.strftime("%H:%M:%S"), *parts, flush=True)


def tag(i: int) -> str:
    return f"family{i:02d}"


class Session(threading.Thread):
    """One family at one browser, looping until the deadline."""

    def __init__(
        self, i: int, url: str, photos: list[Path], work: Path, deadline: float, n: int, mode: str, case: str
    ) -> None:
        super().__init__(name=tag(i))
        self.i, self.url, self.photos, self.work, self.deadline, self.n = i, url, photos, work, deadline, n
        self.mode, self.case = mode, case
        self.latencies: list[float] = []
        self.acked = 0
        self.refused = 0  # a second confirm of the same face by the same account, refused as it must be
        self.errors: list[str] = []
        self.leaks: list[str] = []
        self.pages = 0

    def check_isolation(self, b: TeamBrowser) -> None:
        body = b.body()
        self.pages += 1
        for j in range(self.n):
            if j != self.i and tag(j) in body:
                self.leaks.append(f"{tag(self.i)} saw {tag(j)}")
        if "Traceback" in body or "cannot be opened" in body:
            self.errors.append(f"{tag(self.i)}: error on page: {body[:300]}")

    def log_in(self, b: TeamBrowser) -> None:
        """The door's login form; without the door, the bench server's cookie that names the account."""
        me = tag(self.i)
        if self.mode == "door":
            b.login(me, PW)
            return
        b.d.get(self.url + "/_stcore/health")  # a page of the site, to set its cookie on
        b.d.add_cookie({"name": "bench_user", "value": me, "path": "/"})
        b.d.get(self.url)
        b.text_appears(f"Logged in as {me}")

    def run(self) -> None:
        from selenium.webdriver.common.by import By

        me = tag(self.i)
        d = chrome(self.work / f"chrome-{self.mode}-{me}")
        try:
            b = TeamBrowser(d, self.url, timeout=120)
            self.log_in(b)
            b.create_case(self.case)
            say(me, "logged in, case created")
            k = 0
            while time.monotonic() < self.deadline:
                try:
                    b.remove_uploads()
                    b.wait.until(lambda d: "Candidate #1" not in d.find_element(By.TAG_NAME, "body").text)
                    photo = self.photos[k % len(self.photos)]
                    self.latencies.append(b.upload(photo))
                    self.check_isolation(b)
                    note = f"{me}-n{k:04d}"
                    b.click("//button[.//p[text()='Compare and decide']]")
                    b.text_appears("Compare: candidate #")
                    # photos come from 4 people in turn: each person's top candidate gets unsure, then confirm, ...
                    choice = CHOICES[(k // 4) % 2]
                    b.click(f"//label[.//p[contains(text(), '{choice}')]]")
                    b.type_into("Note (why; optional)", note)
                    b.click("//button[.//p[text()='Record decision']]")
                    b.wait.until(lambda d, note=note: f"note: {note}" in b.body() or "already confirmed" in b.body())
                    if "already confirmed" in b.body():  # the two-reviewer rule refused a second confirm: no ack
                        self.refused += 1
                        b.click("//button[.//p[text()='Back to the candidates']]")
                        k += 1
                        continue
                    self.acked += 1  # acknowledged: the decision is on the screen
                    self.check_isolation(b)
                    say(me, f"decision {k} acknowledged; upload->candidates {self.latencies[-1]:.1f} s")
                    errors = d.find_elements(By.CSS_SELECTOR, "[data-testid='stException'], [data-testid='stAlert']")
                    for e in errors:
                        if "already confirmed" in e.text or "cannot" in e.text:
                            self.errors.append(f"{me}: {e.text[:200]}")
                except Exception as e:  # a step that failed: counted, and the session goes on
                    self.errors.append(f"{me} iteration {k}: {type(e).__name__}: {str(e)[:200]}")
                    say(self.errors[-1])
                    b.shot(self.work / f"error-{self.mode}-{me}-{k}.png")
                    d.get(self.url)
                    if "facematch: log in" in b.body():
                        self.log_in(b)
                    b.open_case(self.case)
                k += 1
        except Exception:
            self.errors.append(f"{me}: {traceback.format_exc()[-500:]}")
            say(me, "stopped:", self.errors[-1])
        finally:
            d.quit()


class Writer(threading.Thread):
    """A library-level writer (the CLI or a script beside the server): decisions through Review, own account."""

    def __init__(self, index_dir: Path, name: str, candidates, deadline: float, case: str) -> None:
        super().__init__(name=name)
        self.index_dir, self.account, self.candidates, self.deadline = index_dir, name, candidates, deadline
        self.case = case
        self.acked = 0
        self.errors: list[str] = []

    def run(self) -> None:
        with Index.open(self.index_dir) as index:
            index.unlock(PASSPHRASE)
            rv = Review(index, Accounts(index.db).get(self.account))
            case = rv.create_case(self.case)
            k = 0
            while time.monotonic() < self.deadline:
                try:
                    cand = self.candidates[k % len(self.candidates)]
                    rv.decide(case.id, cand, ("unsure", "confirm")[(k // len(self.candidates)) % 2], "", f"w{k}")
                    self.acked += 1
                except Exception as e:
                    self.errors.append(f"{self.account}: {type(e).__name__}: {e}")
                k += 1
                time.sleep(0.2)


def decisions_per_account(idx: Path) -> dict[str, int]:
    with Index.open(idx) as index:
        return dict(
            index.db.execute(
                "SELECT a.name, COUNT(d.id) FROM accounts a LEFT JOIN decisions d ON d.account_id = a.id GROUP BY a.id"
            ).fetchall()
        )


def run_slice(mode: str, n: int, args, idx: Path, photos, candidates, work: Path) -> dict:
    """One slice: a fresh server in `mode`, the sessions and writers for args.minutes, what they saw and wrote."""
    port = free_port()
    log = work / f"server-{n:02d}-{mode}.log"
    if mode == "door":
        server = start_team_server(idx, port, log)
    else:
        server = start_team_server(idx, port, log, script=NO_DOOR_APP, environ={"FACEMATCH_BENCH_NO_DOOR": "1"})
    url = f"http://127.0.0.1:{port}"
    before = decisions_per_account(idx)
    load = [os.getloadavg()[0]]
    started = time.monotonic()
    deadline = started + args.minutes * 60
    sessions = [
        Session(i, url, photos[i], work, deadline, args.sessions, mode, f"Case of {tag(i)} ({mode} {n})")
        for i in range(args.sessions)
    ]
    writers = [
        Writer(idx, f"writer{w}", candidates, deadline, f"Library case of writer{w} ({mode} {n})")
        for w in range(args.writers)
    ]
    say(f"slice {n}: {mode} on {url}")
    try:
        for t in sessions:
            t.start()
            time.sleep(2)  # people do not all arrive in the same second
        for t in writers:
            t.start()
        while any(t.is_alive() for t in [*sessions, *writers]):
            time.sleep(10)
            load.append(os.getloadavg()[0])
        for t in [*sessions, *writers]:
            t.join()
    finally:
        server.terminate()
        server.wait(timeout=60)
    elapsed = time.monotonic() - started
    after = decisions_per_account(idx)
    acked = {t.name: t.acked for t in [*sessions, *writers]}
    found = {name: after.get(name, 0) - before.get(name, 0) for name in acked}
    errors = [e for t in [*sessions, *writers] for e in t.errors]
    if "Traceback" in log.read_text(errors="replace"):
        errors.append(f"Traceback in the server log ({log.name})")
    return {
        "mode": mode,
        "slice": n,
        "seconds_run": round(elapsed, 1),
        "latencies": [round(x, 3) for t in sessions for x in t.latencies],
        "decisions_acknowledged_browser": sum(t.acked for t in sessions),
        "decisions_acknowledged_library": sum(t.acked for t in writers),
        "second_confirm_refused_browser": sum(t.refused for t in sessions),
        "decisions_in_database": sum(found.values()),
        "decisions_lost": {name: n - found[name] for name, n in acked.items() if n != found[name]},
        "errors": errors,
        "pages_checked_for_other_accounts": sum(t.pages for t in sessions),
        "saw_another_account": sorted(set(x for t in sessions for x in t.leaks)),
        "load_average_1min": {"min": min(load), "median": statistics.median(load), "max": max(load)},
    }


def percentile(values: list[float], q: float) -> float | None:
    return round(sorted(values)[int(q * (len(values) - 1))], 2) if values else None


def summary(slices: list[dict]) -> dict:
    """One mode's slices together."""
    lat = sorted(x for s in slices for x in s["latencies"])
    lost: dict[str, int] = {}
    for s in slices:
        for name, n in s["decisions_lost"].items():
            lost[name] = lost.get(name, 0) + n
    return {
        "slices": len(slices),
        "seconds_run": round(sum(s["seconds_run"] for s in slices), 1),
        "uploads": len(lat),
        "upload_to_candidates_p50_s": round(statistics.median(lat), 2) if lat else None,
        "upload_to_candidates_p95_s": percentile(lat, 0.95),
        "upload_to_candidates_max_s": round(lat[-1], 2) if lat else None,
        "decisions_acknowledged_browser": sum(s["decisions_acknowledged_browser"] for s in slices),
        "decisions_acknowledged_library": sum(s["decisions_acknowledged_library"] for s in slices),
        "second_confirm_refused_browser": sum(s["second_confirm_refused_browser"] for s in slices),
        "decisions_in_database": sum(s["decisions_in_database"] for s in slices),
        "decisions_lost": lost,
        "errors": sum(len(s["errors"]) for s in slices),
        "error_samples": [e for s in slices for e in s["errors"]][:10],
        "pages_checked_for_other_accounts": sum(s["pages_checked_for_other_accounts"] for s in slices),
        "saw_another_account": sorted(set(x for s in slices for x in s["saw_another_account"])),
        "load_average_1min_median": round(statistics.median(s["load_average_1min"]["median"] for s in slices), 1),
        "load_average_1min_max": round(max(s["load_average_1min"]["max"] for s in slices), 1),
    }


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sessions", type=int, default=8)
    p.add_argument("--minutes", type=float, default=3.0, help="per slice")
    p.add_argument("--rounds", type=int, default=2, help="slices of each mode")
    p.add_argument("--writers", type=int, default=2)
    p.add_argument("--modes", default="door,nodoor", help="door, nodoor or both (the default)")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "team-load")
    args = p.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if not modes or set(modes) - set(MODES):
        p.error(f"--modes: one or both of {MODES}")

    work = args.out
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    idx = work / "index"
    index_folder(demo.build_gallery(idx / "photos"), idx, "sface", workers=1, progress=False)
    with Index.open(idx) as index:
        accounts = Accounts(index.db)
        accounts.add("admin", "admin", PW)
        for i in range(args.sessions):
            accounts.add(tag(i), "family", PW)
        for w in range(args.writers):
            accounts.add(f"writer{w}", "caseworker", PW)
    with Searcher(idx) as s:
        candidates = s.search([s.detect_file(demo.query_photo()).pick()], k=11)
    photos: dict[int, list[Path]] = {}
    for i in range(args.sessions):  # each session's own photo files, named after it (isolation markers)
        photos[i] = []
        for v in variants(work / f"photos-{tag(i)}", 12):
            photos[i].append(v.rename(v.with_name(f"{tag(i)}-{v.name}")))

    order = []  # door, nodoor, nodoor, door, door, nodoor, ...: each mode as often first as second
    for r in range(args.rounds):
        order += modes if r % 2 == 0 else modes[::-1]
    slices = []
    for n, mode in enumerate(order):
        slices.append(run_slice(mode, n, args, idx, photos, candidates, work))
        (work / "slices.json").write_text(json.dumps(slices, indent=1))

    result: dict = {
        "sessions": args.sessions,
        "writers": args.writers,
        "minutes_per_slice": args.minutes,
        "order": order,
        "cores": os.cpu_count(),
    }
    for mode in modes:
        result[mode] = summary([s for s in slices if s["mode"] == mode])
    if set(modes) == set(MODES):
        door, bare = result["door"], result["nodoor"]
        result["ratio_door_to_nodoor"] = {
            key: round(door[key] / bare[key], 2) if door[key] and bare[key] else None
            for key in ("upload_to_candidates_p50_s", "upload_to_candidates_p95_s", "upload_to_candidates_max_s")
        }
        result["ratio_door_to_nodoor"]["uploads_per_minute"] = (
            round((door["uploads"] / door["seconds_run"]) / (bare["uploads"] / bare["seconds_run"]), 2)
            if door["uploads"] and bare["uploads"]
            else None
        )
    (work / "result.json").write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))
    ok = all(not result[m]["errors"] and not result[m]["decisions_lost"] and not result[m]["saw_another_account"]
             for m in modes)  # fmt: skip
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
