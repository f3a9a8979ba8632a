"""Zero network, and nothing written outside the folders a person chose.

Every command runs in a child process with tests/netguard on PYTHONPATH: its sitecustomize refuses
and logs any connection, datagram or DNS lookup that would leave this machine, in the command and
in every worker process or server it starts. Where the machine allows it (root with unshare), the
commands also run in a fresh network namespace holding only a loopback interface, so even native
code that bypasses Python's sockets has nowhere to go. HOME, TMPDIR and the working directory are
fresh, empty folders, compared before and after.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

from conftest import demo_photo
from facematch import demo
from facematch.app import serve
from facematch.engines import models_dir
from test_insightface_pack import tiny_scrfd

ROOT = Path(__file__).resolve().parents[1]
GUARD = ROOT / "tests" / "netguard"


def _netns_prefix() -> list[str]:
    """Run inside a new network namespace with only loopback up, if this machine lets us."""
    unshare, ip = shutil.which("unshare"), shutil.which("ip")
    if os.geteuid() != 0 or not unshare or not ip:
        return []
    probe = subprocess.run([unshare, "-n", ip, "link", "set", "lo", "up"], capture_output=True)
    if probe.returncode != 0:
        return []
    return [unshare, "-n", "sh", "-c", f'{ip} link set lo up && exec "$@"', "sh"]


class Sandbox:
    """Fresh HOME/TMPDIR/cwd, the guard on PYTHONPATH, and a log of refused network attempts."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.home, self.tmp, self.cwd, self.out = (base / n for n in ("home", "tmp", "cwd", "out"))
        for d in (self.home, self.tmp, self.cwd, self.out):
            d.mkdir(parents=True)
        self.log = base / "network-attempts.log"
        self.netns = _netns_prefix()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("FACEMATCH_", "XDG_", "MPLCONFIGDIR"))}
        env.update(
            HOME=str(self.home),
            TMPDIR=str(self.tmp),
            PYTHONPATH=os.pathsep.join([str(GUARD), env.get("PYTHONPATH", "")]).rstrip(os.pathsep),
            FACEMATCH_NETLOG=str(self.log),
            FACEMATCH_MODELS=str(models_dir()),
        )
        self.env = env

    def run(self, args: list[str], timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
        cmd = [*self.netns, *args]
        done = subprocess.run(
            cmd, cwd=self.cwd, env={**self.env, **env}, capture_output=True, text=True, timeout=timeout
        )
        return done

    def facematch(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        done = self.run([sys.executable, "-m", "facematch.cli", *args], **env)
        assert done.returncode == 0, f"facematch {' '.join(args)}\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        return done

    def attempts(self) -> str:
        return self.log.read_text() if self.log.exists() else ""


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


_APP_FLOW = textwrap.dedent(
    """
    import sys
    from streamlit.testing.v1 import AppTest
    from facematch import demo
    at = AppTest.from_file(sys.argv[1], default_timeout=180)
    at.run()
    at.sidebar.text_input(key="reviewer").input("Ayse")
    at.sidebar.text_input(key="new_case_name").input("Private case")
    next(b for b in at.sidebar.button if b.label == "Create case").click()
    at.run()
    at.checkbox[0].check()  # keep the photo in the case
    at.file_uploader[0].set_value([("relative.jpg", demo.query_photo().read_bytes(), "image/jpeg")])
    at.run()
    sorted((b for b in at.button if b.key and b.key.startswith("cmp_")), key=lambda b: b.key)[0].click()
    at.run()
    at.radio(key="decision").set_value("unsure")
    next(b for b in at.button if b.label == "Record decision").click()
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    print("app flow done")
    """
)


def test_the_guard_catches_a_real_attempt(tmp_path):
    box = Sandbox(tmp_path)
    done = box.run(
        [sys.executable, "-c", "import urllib.request; urllib.request.urlopen('http://example.com', timeout=3)"]
    )
    assert done.returncode != 0
    assert "example.com" in box.attempts()  # the guard works, so an empty log below means something


def test_index_search_evaluate_check_backup_and_app_make_no_connection_and_write_only_where_asked(tmp_path):
    box = Sandbox(tmp_path)
    gallery = demo.build_gallery(box.out / "photos")
    people = box.out / "people"  # a tiny labelled set for evaluate: folders of photos per person
    for person, photos in {
        "obama": [
            demo.DEMO_DIR / "gallery" / "obama.jpg",
            demo.DEMO_DIR / "gallery" / "obama3.jpg",
            demo.query_photo(),
        ],
        "biden": [demo.DEMO_DIR / "gallery" / "biden.jpg"],
        "astronaut": [demo_photo("astronaut.png")],
    }.items():
        (people / person).mkdir(parents=True)
        for p in photos:
            shutil.copyfile(p, people / person / p.name)
    models = box.out / "models"  # an insightface pack already present: it must not be downloaded
    (models / "testpack").mkdir(parents=True)
    tiny_scrfd(models / "testpack" / "det_tiny.onnx")
    shutil.copyfile(
        models_dir() / "sface" / "face_recognition_sface_2021dec_int8bq.onnx", models / "testpack" / "w.onnx"
    )
    shutil.copytree(models_dir() / "sface", models / "sface")
    before = {d: _files(d) for d in (box.home, box.tmp, box.cwd)}
    idx = box.out / "index"

    box.facematch("index", str(gallery), "--index", str(idx), "--workers", "2", "--quiet")
    found = box.facematch("search", str(demo.query_photo()), "--index", str(idx), "--json")
    assert '"rank": 1' in found.stdout
    box.facematch(
        "evaluate", "search", "--images", str(people), "--out", str(box.out / "eval"), "--quiet", "--workers", "2"
    )
    box.facematch("check", "--index", str(idx), "--quiet")
    box.facematch("backup", str(idx), str(box.out / "backup"))
    box.facematch("app", "--check", "--index", str(idx), "--port", str(_free_port()))
    flow = box.run([sys.executable, "-c", _APP_FLOW, str(serve.APP)], FACEMATCH_INDEX=str(idx))
    assert flow.returncode == 0 and "app flow done" in flow.stdout, flow.stderr[-3000:]
    box.facematch(
        "index",
        str(gallery),
        "--index",
        str(box.out / "index-insightface"),
        "--engine",
        "insightface:testpack",
        "--workers",
        "1",
        "--quiet",
        FACEMATCH_MODELS=str(models),
    )

    assert box.attempts() == "", box.attempts()
    for d, files in before.items():
        assert _files(d) == files, f"written outside the chosen folders, in {d}: {_files(d) - files}"
    assert list((idx / "cases").rglob("*.jpg")), "the kept photo is in its case folder"
    assert not list(idx.rglob("*.tmp")) and not list(idx.rglob("*.partial"))
    assert not list(models.glob("*.zip")) and sorted(p.name for p in (models / "testpack").iterdir()) == [
        "det_tiny.onnx",
        "w.onnx",
    ]
