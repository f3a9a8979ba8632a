"""ruff is part of the test command, so style problems fail CI like any other defect."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from conftest import skip_or_fail

ROOT = Path(__file__).resolve().parents[1]


def test_ruff_clean():
    beside = Path(sys.executable).parent / "ruff"  # the venv's own ruff, even when not on PATH
    ruff = str(beside) if beside.exists() else shutil.which("ruff")
    if ruff is None:
        skip_or_fail("ruff is not installed (pip install -e '.[test]' installs it)")
    out = subprocess.run([ruff, "check", "src", "tests", "bench"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
