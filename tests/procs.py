"""Processes seen from /proc, for the tests that check nothing outlives its parent (workers, the app's child)."""

from __future__ import annotations

from pathlib import Path


def _state_and_parent(pid: int | str) -> tuple[str, int] | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": state, ppid, ...
    return fields[0], int(fields[1])


def children(pid: int) -> list[int]:
    """The live processes whose parent is `pid` (zombies waiting to be reaped count as gone)."""
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            seen = _state_and_parent(entry.name)
            if seen is not None and seen[1] == pid and seen[0] != "Z":
                out.append(int(entry.name))
    return out


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its new parent to reap it counts as gone)."""
    seen = _state_and_parent(pid)
    return seen is not None and seen[0] != "Z"
