"""Driving a team server with a real headless Chromium: start the server (and Caddy in front of it), log in,
create a case, upload, decide. Shared by tests/test_https.py, bench/team_load.py and bench/team_screens.py,
so the bench measures exactly what the test checks."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from facematch import demo
from facematch.app import serve

ROOT = Path(__file__).resolve().parents[1]
CADDYFILE = ROOT / "deploy" / "Caddyfile"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
CADDY = shutil.which("caddy")
PASSPHRASE = "families' data passphrase for tests"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_team_server(
    index: Path,
    port: int,
    log: Path,
    cwd: Path | None = None,
    oidc: bool = False,
    script: Path | None = None,
    environ: dict[str, str] | None = None,
) -> subprocess.Popen:
    """`facematch app --team` as the CLI starts it (serve.command + environment), output kept in `log`; the
    families' data is unlocked first, as the CLI does before it starts the server. `script` replaces the door's
    app (bench/nodoor_app.py: the bench's server without the door), `environ` adds to the environment."""
    from facematch.index import Index

    with Index.open(index) as opened:
        opened.unlock(PASSPHRASE)
    cmd = serve.command("127.0.0.1", port, team=True)
    if script is not None:
        cmd[cmd.index(str(serve.DOOR_APP))] = str(script)
    env = {**serve.environment(index, team=True, passphrase=PASSPHRASE, oidc=oidc), **(environ or {})}
    with log.open("wb") as out:  # the passphrase reaches the server through a pipe, never its environment
        fds = serve.inherited_fds(env)
        try:
            proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, pass_fds=fds)
        finally:
            for fd in fds:
                os.close(fd)
    if not serve.wait_until_up(port, proc=proc):
        proc.terminate()
        raise RuntimeError("the team server did not start: " + log.read_text(errors="replace")[-2000:])
    return proc


def need_browser() -> None:
    """Skip without selenium or Chromium (a developer may have neither); fail in CI, which installs both."""
    from conftest import skip_or_fail

    try:
        import selenium  # noqa: F401
    except ImportError:
        skip_or_fail("selenium is not installed (pip install -e '.[test]')")
    if not (CHROMIUM and CHROMEDRIVER):
        skip_or_fail("Chromium/ChromeDriver not installed (apt-get install chromium chromium-driver)")


@contextmanager
def demo_app(idx: Path, log: Path) -> Iterator[str]:
    """The demo archive indexed into `idx` and the workbench serving it on localhost (the same command as
    serve.start, its output kept in `log`); yields the address. The server's log must stay clean: no traceback,
    no warning."""
    from facematch.indexing import index_folder

    index_folder(
        demo.build_gallery(idx / "photos"), idx, "sface", workers=1, records_csv=demo.records_csv(), progress=False
    )
    port = free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            serve.command("localhost", port), env=serve.environment(idx), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        assert serve.wait_until_up(port, proc=proc), "the app did not start"
        yield f"http://localhost:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    text = log.read_text(errors="replace")
    assert "Traceback" not in text and "WARNING" not in text.upper().replace("WARNINGS", ""), text[-3000:]


def start_caddy(upstream_port: int, https_port: int, folder: Path) -> tuple[subprocess.Popen, Path]:
    """Caddy with deploy/Caddyfile in front of the server; returns the process and its local CA's root cert."""
    env = dict(os.environ)
    env.update(
        FACEMATCH_SITE=f"localhost:{https_port}",
        FACEMATCH_UPSTREAM=f"127.0.0.1:{upstream_port}",
        FACEMATCH_HTTP_PORT=str(free_port()),
        XDG_DATA_HOME=str(folder / "data"),
        XDG_CONFIG_HOME=str(folder / "config"),
        HOME=str(folder),
    )
    folder.mkdir(parents=True, exist_ok=True)
    log = (folder / "caddy.log").open("wb")
    proc = subprocess.Popen(
        [CADDY, "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"], env=env, stdout=log, stderr=log
    )
    root = folder / "data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("caddy stopped: " + (folder / "caddy.log").read_text(errors="replace")[-2000:])
        if root.is_file():
            try:
                ctx = ssl.create_default_context(cafile=str(root))
                with urllib.request.urlopen(f"https://localhost:{https_port}/_stcore/health", context=ctx, timeout=5):
                    return proc, root
            except OSError:
                pass
        time.sleep(0.5)
    proc.terminate()
    raise RuntimeError("caddy did not answer over https")


def chrome(profile: Path, phone: bool = False, insecure_certs: bool = False):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=390,844" if phone else "--window-size=1500,1100",
        f"--user-data-dir={profile}",
    ]
    if insecure_certs:  # Caddy's `tls internal` test authority is not in Chromium's trust store
        args.append("--ignore-certificate-errors")
    for arg in args:
        opts.add_argument(arg)
    if phone:
        opts.add_experimental_option(
            "mobileEmulation", {"deviceMetrics": {"width": 390, "height": 844, "pixelRatio": 1}}
        )
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)


class TeamBrowser:
    """One person at one browser: the steps of the workbench in team mode, waiting as a person would."""

    def __init__(self, driver, url: str, timeout: float = 120) -> None:
        from selenium.common.exceptions import WebDriverException
        from selenium.webdriver.support.ui import WebDriverWait

        self.d = driver
        self.url = url
        # a look taken while the page navigates (logging out reloads it) fails with "aborted by navigation":
        # a person would look again, and so does the wait, until its timeout
        self.wait = WebDriverWait(driver, timeout, ignored_exceptions=(WebDriverException,))

    def settle(self) -> None:
        from selenium.webdriver.common.by import By

        time.sleep(0.3)
        self.wait.until(lambda d: not d.find_elements(By.CSS_SELECTOR, "[data-testid='stStatusWidget']"))

    def text_appears(self, text: str) -> None:
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        self.wait.until(ec.presence_of_element_located((By.XPATH, f"//body[contains(., {xpath_text(text)})]")))

    def body(self) -> str:
        from selenium.webdriver.common.by import By

        return self.d.find_element(By.TAG_NAME, "body").text

    def visible(self, xpath: str):
        from selenium.common.exceptions import StaleElementReferenceException
        from selenium.webdriver.common.by import By

        for _ in range(20):
            self.settle()
            try:
                el = next(e for e in self.d.find_elements(By.XPATH, xpath) if e.is_displayed())
                self.d.execute_script("arguments[0].scrollIntoView({block: 'center'})", el)
                return el
            except (StopIteration, StaleElementReferenceException):
                time.sleep(0.5)
        raise AssertionError(f"nothing visible at {xpath}")

    def click(self, xpath: str) -> None:
        from selenium.common.exceptions import StaleElementReferenceException

        for _ in range(5):
            try:
                self.visible(xpath).click()
                return
            except StaleElementReferenceException:
                time.sleep(0.5)
        raise AssertionError(f"could not click {xpath}")

    def type_into(self, label: str, text: str, where: str = "") -> None:
        self.visible(f"{where}//input[@aria-label={xpath_text(label)}]").send_keys(text)

    def login(self, name: str, password: str, url: str | None = None) -> None:
        """Log in at the door's form (app/door.py): a page load without its cookie lands there."""
        self.d.get(url or self.url)
        self.text_appears("facematch: log in")
        self.type_into("Account name", name)
        self.type_into("Password", password)
        self.click("//button[.//p[text()='Log in']]")
        self.text_appears(f"Logged in as {name}")

    def create_case(self, name: str) -> None:
        self.type_into("Name or alias of the missing person", name)
        self.click("//button[.//p[text()='Create case']]")
        self.text_appears(f"Case: {name}")

    def open_case(self, name: str) -> None:
        self.click(f"//button[.//p[text()={xpath_text(name)}]]")
        self.text_appears(f"Case: {name}")

    def upload(self, photo: Path) -> float:
        """Upload a photo and wait for the candidates; returns the seconds from upload to candidates shown."""
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support import expected_conditions as ec

        self.settle()  # on a crowded server the uploader renders a moment after the case's title
        field = self.wait.until(ec.presence_of_element_located((By.XPATH, "//input[@type='file']")))
        start = time.monotonic()
        field.send_keys(str(photo))
        self.text_appears("Candidate #1")
        return time.monotonic() - start

    def decide_first(self, choice: str = "Confirm: this is the same person", note: str = "") -> None:
        self.click("//button[.//p[text()='Compare and decide']]")
        self.text_appears("Compare: candidate #1")
        self.click(f"//label[.//p[contains(text(), '{choice}')]]")
        if note:
            self.type_into("Note (why; optional)", note)
        self.click("//button[.//p[text()='Record decision']]")
        # recorded: the compare panel closes (a refusal would keep it open with its message)
        self.wait.until(lambda d: "Compare: candidate" not in self.body())
        self.text_appears("Decisions in this case")

    def remove_uploads(self) -> None:
        """Clear the uploader (its x buttons), so the next upload of the same file is a new one."""
        from selenium.webdriver.common.by import By

        for _ in range(5):
            self.settle()
            buttons = self.d.find_elements(By.CSS_SELECTOR, "[data-testid='stFileChipDeleteBtn'] button")
            if not buttons:
                return
            try:
                buttons[0].click()
            except Exception:  # replaced by a rerun: look again
                time.sleep(0.3)

    def shot(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.d.save_screenshot(str(path))
        return path


def xpath_text(text: str) -> str:
    """A string literal for XPath (names and translations may contain quotes of either kind)."""
    if "'" not in text:
        return f"'{text}'"
    if '"' not in text:
        return f'"{text}"'
    return "concat(" + ', "\'", '.join(f"'{part}'" for part in text.split("'")) + ")"
