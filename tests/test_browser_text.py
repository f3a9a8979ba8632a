"""In a real Chromium: what people typed and what records say stays text, and nothing leaves this computer (issue 22,
item 7); "Compare and decide" brings the faces to the top of the window, on a phone too (issue 24, item 6).

A local HTTP listener stands for an outside address: payloads (an image link, a link, an HTML image, a heading, a
table) in the case name, the family's names, county and notes, a kept photo's name, an archive record and a
decision note all point at it. The page must show them literally, hold no <img> or <a> pointing there, and the
listener must get no request. The server's log must stay clean (team_driver.demo_app)."""

from __future__ import annotations

import csv
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import team_driver
from facematch import demo
from facematch.index import Index
from facematch.records import import_file
from facematch.review import Review


@pytest.fixture(autouse=True)
def a_browser_to_drive() -> None:
    team_driver.need_browser()


class Listener:
    """An HTTP server on localhost that only counts what asks it for anything."""

    def __init__(self) -> None:
        self.requests: list[str] = []
        seen = self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                seen.append(self.path)
                self.send_response(404)
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()


def test_user_text_is_text_and_nothing_is_fetched(tmp_path):
    from selenium.webdriver.common.by import By

    listener = Listener()
    host = f"127.0.0.1:{listener.port}"
    payloads = {
        "image": f"![x](http://{host}/image.png)",
        "link": f"[click here](http://{host}/phish)",
        "html": f"<img src=http://{host}/tag.png>",
        "heading": "# Heading",
        "table": "| a | b |",
    }
    idx = tmp_path / "index"
    try:
        with team_driver.demo_app(idx, tmp_path / "server.log") as url:
            records = tmp_path / "hostile.csv"
            with records.open("w", newline="", encoding="utf-8") as fh:
                w = csv.writer(fh)
                w.writerow(["record_id", "photo", "name", "county", "charge"])
                w.writerow(["HOSTILE-1", "obama.jpg", payloads["link"], payloads["image"], payloads["html"]])
            with Index.open(idx) as index:
                import_file(index, records)
                rv = Review(index)
                case = rv.create_case(payloads["image"] + " " + payloads["heading"])
                rv.set_facts(case.id, names=[payloads["link"], "Barack Obama"], birth_year=None, birth_year_margin=2,
                             county=payloads["html"], notes=payloads["table"] + "\n" + payloads["image"])  # fmt: skip
                rv.keep_photo(case.id, demo.query_photo().read_bytes(), payloads["html"] + ".jpg")
            d = team_driver.chrome(tmp_path / "chrome")
            try:
                b = team_driver.TeamBrowser(d, url)
                d.get(f"{url}/?case={case.id}&lang=en")
                b.text_appears("Candidate #1")
                b.settle()
                b.type_into("Your name (saved with every decision)", payloads["link"])
                b.click("(//button[.//p[text()='Compare and decide']])[1]")
                b.text_appears("Compare: candidate #1")
                b.settle()
                body_compare = b.body()
                b.click("//label[.//p[contains(text(), 'Unsure: cannot tell')]]")
                b.type_into("Note (why; optional)", payloads["image"] + " " + payloads["link"])
                b.click("//button[.//p[text()='Record decision']]")
                b.wait.until(lambda _: "Compare: candidate" not in b.body())
                b.text_appears("Decisions in this case")
                b.settle()
                time.sleep(1)
                body = (b.body() + "\n" + body_compare).replace("\u2060", "")  # the word joiner that keeps text
                b.shot(tmp_path / "text.png")
                for what, payload in payloads.items():
                    assert payload in body, (what, payload)
                for tag, attr in (("img", "src"), ("a", "href"), ("iframe", "src"), ("source", "src")):
                    for el in d.find_elements(By.TAG_NAME, tag):
                        assert host not in (el.get_attribute(attr) or ""), (
                            tag,
                            d.execute_script("return arguments[0].parentElement.parentElement.outerHTML", el)[:600],
                        )
                assert not d.find_elements(
                    By.XPATH, "//*[self::h1 or self::h2][normalize-space(.)='Heading'] | //table"
                )
                assert listener.requests == [], listener.requests
            finally:
                d.quit()
    finally:
        listener.close()
    assert listener.requests == []


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_compare_opens_with_the_faces_at_the_top(tmp_path, phone):
    """Issue 24 (6): "Compare and decide" used to open at the decision form, the faces off screen (on a phone only
    the radios showed). Now the compare panel's heading is at the top of the window and the two faces below it."""
    from selenium.webdriver.common.by import By

    idx = tmp_path / "index"
    with team_driver.demo_app(idx, tmp_path / "server.log") as url:
        with Index.open(idx) as index:
            rv = Review(index)
            case = rv.create_case("Scroll")
            rv.keep_photo(case.id, demo.query_photo().read_bytes(), "obama2.jpg")
        d = team_driver.chrome(tmp_path / "chrome", phone=phone)
        try:
            b = team_driver.TeamBrowser(d, url)
            d.get(f"{url}/?case={case.id}&lang=en")
            b.text_appears("Candidate #1")
            b.settle()
            b.click("(//button[.//p[text()='Compare and decide']])[2]")
            b.text_appears("Compare: candidate #2")
            b.settle()
            time.sleep(2)
            heading = d.find_element(By.XPATH, "//h3[contains(., 'Compare: candidate #2')]")
            top = d.execute_script("return arguments[0].getBoundingClientRect().top", heading)
            height = d.execute_script("return window.innerHeight")
            b.shot(tmp_path / "compare.png")
            assert -20 <= top < height * 0.25, (top, height)
            pair = d.find_element(By.CSS_SELECTOR, ".st-key-pair img")
            bottom = d.execute_script("return arguments[0].getBoundingClientRect().bottom", pair)
            assert bottom <= height, (bottom, height)  # both aligned faces in view
            toolbars = [t for t in d.find_elements(By.CSS_SELECTOR, "[data-testid='stElementToolbar']")
                        if t.is_displayed()]  # fmt: skip
            assert not toolbars  # no fullscreen icon over the labels
        finally:
            d.quit()
