"""Starting the Streamlit app: localhost only unless the person explicitly asks for more.

Photos of relatives are sensitive; serving the app on a network interface lets anyone who can
reach it see them, so that takes an explicit --address and prints a warning.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .. import images

#: The script Streamlit runs, inside the package: it is there after any `pip install`, editable or not.
APP = Path(__file__).resolve().parent / "run.py"
#: Team mode serves the same script as an st.App with the door in front (door.py): a login cookie for everything.
DOOR_APP = Path(__file__).resolve().parent / "door_app.py"
LOCAL = ("localhost", "127.0.0.1", "::1")
#: Every Streamlit setting facematch relies on, given on the command line: the project's
#: .streamlit/config.toml is only read when Streamlit starts in the project folder, and a family that
#: installed facematch with pip starts it from anywhere. Usage statistics off is a promise, not a default.
SETTINGS = {
    "browser.gatherUsageStats": "false",
    "server.headless": "true",
    "server.enableXsrfProtection": "true",
    "server.maxUploadSize": str(images.MAX_UPLOAD_MB),  # per photo; the library checks the same (images.py)
    "global.developmentMode": "false",
    "server.fileWatcherType": "none",  # watching the folder (.venv included) costs thousands of inotify watches
    "server.runOnSave": "false",
    "client.toolbarMode": "minimal",
    "client.showErrorDetails": "none",  # "false" means "stacktrace" to Streamlit 1.67: file paths and code lines
    "theme.base": "light",
    # the fonts for Uyghur and Chinese ship in the package (app/static/fonts, fonts.py) and are served from /app/static
    "server.enableStaticServing": "true",
}


def command(address: str = "localhost", port: int = 8501, team: bool = False) -> list[str]:
    settings = {**SETTINGS, "server.address": address, "server.port": str(port)}
    flags = [arg for key, value in settings.items() for arg in (f"--{key}", value)]
    return [sys.executable, "-m", "streamlit", "run", str(DOOR_APP if team else APP), *flags]


#: Names the file descriptor, inherited from `facematch app --team`, from which the Streamlit child reads the
#: families' data passphrase once (read_passphrase). The passphrase itself is never in an environment: a process's
#: environment stays readable in /proc/<pid>/environ for as long as it runs, whatever it later removes.
PASSPHRASE_FD = "FACEMATCH_PASSPHRASE_FD"


def environment(
    index: Path | None, team: bool = False, passphrase: str | None = None, oidc: bool = False
) -> dict[str, str]:
    """The server's environment. Team mode reaches the Streamlit process here, never on a command line (readable by
    everyone). A passphrase is put in a pipe (passphrase_pipe) whose inheritable read end the environment names:
    start it with `pass_fds=inherited_fds(env)` (start() does), and close that descriptor in this process then."""
    env = dict(os.environ)
    if index is not None:
        env["FACEMATCH_INDEX"] = str(Path(index).resolve())
    env.setdefault("STREAMLIT_BROWSER_GATHER_USAGE_STATS", "false")
    for name in ("FACEMATCH_TEAM", "FACEMATCH_OIDC", "FACEMATCH_PASSPHRASE", PASSPHRASE_FD):
        env.pop(name, None)
    if team:
        env["FACEMATCH_TEAM"] = "1"
    if team and oidc:
        env["FACEMATCH_OIDC"] = "1"
    if passphrase is not None:
        env[PASSPHRASE_FD] = str(passphrase_pipe(passphrase))
    return env


def passphrase_pipe(passphrase: str) -> int:
    """A pipe that holds the passphrase: its write end is closed at once, its read end (returned) is inheritable.
    A passphrase is far smaller than a pipe's buffer, so the write never waits for the reader."""
    read, write = os.pipe()
    try:
        os.write(write, passphrase.encode())
    finally:
        os.close(write)
    os.set_inheritable(read, True)
    return read


def inherited_fds(env: dict[str, str]) -> tuple[int, ...]:
    """The descriptors a child started with `env` must inherit (subprocess.Popen's pass_fds)."""
    return (int(env[PASSPHRASE_FD]),) if env.get(PASSPHRASE_FD) else ()


def read_passphrase() -> str | None:
    """In the Streamlit process: the families' data passphrase from the inherited descriptor, read once (the
    descriptor is closed and its name removed); None when none was given."""
    fd = os.environ.pop(PASSPHRASE_FD, None)
    if not fd:
        return None
    try:
        with os.fdopen(int(fd), "rb") as pipe:
            return pipe.read().decode()
    except (OSError, ValueError):
        return None  # not inherited: the unlock then says a passphrase is needed


def start(
    index: Path | None = None,
    address: str = "localhost",
    port: int = 8501,
    cwd: Path | None = None,
    team: bool = False,
    passphrase: str | None = None,
    oidc: bool = False,
):
    """Start the app in a child process (the caller waits on or stops it). With oidc, Streamlit reads the
    provider's settings from .streamlit/secrets.toml in `cwd` (or ~/.streamlit). A passphrase reaches the child
    through an inherited pipe, never its environment or command line."""
    env = environment(index, team, passphrase, oidc)
    fds = inherited_fds(env)
    try:
        return subprocess.Popen(
            command(address, port, team), env=env, cwd=cwd, pass_fds=fds, preexec_fn=die_with_parent()
        )
    finally:
        for fd in fds:  # the child has its own copy; this process keeps none
            os.close(fd)


def die_with_parent():
    """For Popen(preexec_fn=...): the server ends when the process that started it ends, however that one ends
    (SIGKILL included: Linux's parent-death signal; the CLI also stops it on SIGTERM/SIGHUP, cli/team.py cmd_app).
    A server left running after `facematch app` was stopped would go on serving families' data unattended."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)  # loaded here: the child only calls it (no imports between fork and exec)
    parent = os.getpid()

    def in_child() -> None:
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG, kept across exec
        if os.getppid() != parent:  # the parent died before the line above
            os.kill(os.getpid(), signal.SIGTERM)

    return in_child


def stop(proc: subprocess.Popen, timeout: float = 20.0) -> None:
    """Stop the server: SIGTERM, then SIGKILL if it has not ended within `timeout` seconds."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


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
