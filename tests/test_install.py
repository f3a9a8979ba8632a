"""A plain (not editable) install runs the app from any folder: the workbench, the team server's front door and
the sface model ship inside the package, and nothing is looked up relative to the project folder.

The wheel is built from this checkout and installed with `pip install --no-deps --target` into a temporary
folder (the dependencies are those of this environment), then used from another temporary folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

import pytest

from conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("install")
    source = work / "source"  # a copy, so building leaves nothing (build/, *.egg-info) in the checkout
    skip = shutil.ignore_patterns("__pycache__", "*.egg-info", ".venv", "index", "build")
    source.mkdir()
    for part in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / part, source / part)
    for part in ("src", "models"):
        shutil.copytree(ROOT / part, source / part, symlinks=True, ignore=skip)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", str(source), "-w", str(work / "dist")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if built.returncode != 0:  # building needs setuptools from the package index (build isolation): in CI a broken
        skip_or_fail(f"cannot build a wheel here: {built.stderr.strip()[-300:]}")  # wheel must fail, not skip
    wheel = next((work / "dist").glob("facematch-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "facematch/app/run.py" in names and "facematch/models/sface/LICENSE.sface" in names
    assert "facematch/app/door_app.py" in names and "facematch/app/door.py" in names  # the team server's door
    target = work / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    return target


def installed_env(target: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FACEMATCH_INDEX", "FACEMATCH_MODELS")}
    env["PYTHONPATH"] = str(target)  # the installed copy, not this checkout (which pytest has on its path)
    return {**env, **extra}


def run_installed(
    target: Path, cwd: Path, *args: str, timeout: int = 300, stdin: str | None = None
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=installed_env(target), capture_output=True, text=True,
        timeout=timeout, input=stdin,
    )  # fmt: skip


def test_the_installed_app_starts_and_runs_from_another_folder(installed, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run_installed(installed, elsewhere, "-c", "import facematch, sys; print(facematch.__file__)")
    assert where.stdout.strip().startswith(str(installed)), where.stderr
    port = free_port()
    check = run_installed(installed, elsewhere, "-m", "facematch.cli", "app", "--check", "--port", str(port))
    assert check.returncode == 0 and "answered" in check.stdout, check.stdout + check.stderr
    # --check only sees the server answer; the page itself: the workbench script, run as the server runs it
    # (first start: the demo archive is indexed into ./index/demo of this folder, with the packaged model)
    page = run_installed(
        installed,
        elsewhere,
        "-c",
        "from streamlit.testing.v1 import AppTest; from facematch.app import serve; "
        "at = AppTest.from_file(str(serve.APP), default_timeout=300); at.run(); "
        "assert not at.exception, [e.value for e in at.exception]; "
        "print(serve.APP); print([m.value for m in at.markdown][0])",
    )
    assert page.returncode == 0, page.stderr[-2000:]
    assert page.stdout.splitlines()[0].startswith(str(installed))
    assert "This archive index holds 11 faces" in page.stdout
    assert (elsewhere / "index" / "demo" / "facematch.sqlite").is_file()


def test_the_installed_team_server_starts_behind_its_door(installed, tmp_path):
    """`facematch app --team` from the installed package: Streamlit serves the packaged door_app.py, whose door
    answers with its login page before anything of the workbench, and SIGTERM stops it."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    made = run_installed(
        installed, elsewhere, "-c",
        "from pathlib import Path; from facematch import demo; from facematch.indexing import index_folder; "
        "index_folder(demo.build_gallery(Path('idx/photos')), Path('idx'), 'sface', workers=1, progress=False)",
    )  # fmt: skip
    assert made.returncode == 0, made.stderr[-2000:]
    admin = run_installed(installed, elsewhere, "-m", "facematch.cli", "users", "add", "boss", "--role", "admin",
                          "--index", "idx", stdin="installed admin password\n")  # fmt: skip
    assert admin.returncode == 0, admin.stdout + admin.stderr
    port = free_port()
    log = tmp_path / "server.log"
    secret = tmp_path / "passphrase"  # from a file only its owner reads: never the environment
    secret.write_text("installed team passphrase")
    secret.chmod(0o600)
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "facematch.cli", "app", "--team", "--index", "idx", "--port", str(port),
             "--passphrase-file", str(secret)],
            cwd=elsewhere, env=installed_env(installed),
            stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        from facematch.app import serve

        assert serve.wait_until_up(port, timeout=180, proc=server), log.read_text(errors="replace")[-3000:]
        base = f"http://127.0.0.1:{port}"
        with urllib.request.urlopen(base + "/_door/login", timeout=30) as r:
            assert r.status == 200 and b'action="/_door/login"' in r.read()
        for path, status in (("/_stcore/metrics", 404), ("/_stcore/host-config", 401)):
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(base + path, timeout=30)
            assert refused.value.code == status, path
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        assert not serve.wait_until_up(port, timeout=5), "the server outlived facematch app"
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert "Traceback" not in log.read_text(errors="replace")
