"""Starting the Streamlit app: localhost only unless the person explicitly asks for more.

Photos of relatives are sensitive; serving the app on a network interface lets anyone who can
reach it see them, so that takes an explicit --address and prints a warning.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

APP = Path(__file__).resolve().parents[2] / "app.py"
LOCAL = ("localhost", "127.0.0.1", "::1")


def command(address: str = "localhost", port: int = 8501) -> list[str]:
    if not APP.is_file():
        raise FileNotFoundError(
            f"app.py not found at {APP}; install facematch from its source folder (pip install -e .)"
        )
    return [
        sys.executable, "-m", "streamlit", "run", str(APP),
        "--server.address", address,
        "--server.port", str(port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",
        "--global.developmentMode", "false",
    ]  # fmt: skip


def environment(index: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if index is not None:
        env["FACEMATCH_INDEX"] = str(Path(index).resolve())
    env.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    return env


def start(index: Path | None = None, address: str = "localhost", port: int = 8501, cwd: Path | None = None):
    """Start the app in a child process (the caller waits on or stops it)."""
    return subprocess.Popen(command(address, port), env=environment(index), cwd=cwd or APP.parent)


def wait_until_up(port: int, timeout: float = 120.0, proc: subprocess.Popen | None = None) -> bool:
    """Poll Streamlit's health endpoint on this machine until it answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return True
        except OSError:
            time.sleep(0.5)
    return False
