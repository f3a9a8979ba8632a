"""Archive records from a CSV file, joined to photos by file name.

Leaked archives come as spreadsheets with inconsistent headers, so a few common names are
recognised for the record id and the photo column; every other column is kept as-is.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

ID_COLUMNS = ("record_id", "id", "record", "person_id")
PHOTO_COLUMNS = ("photo", "photo_filename", "photo_file", "filename", "file", "image", "photo_path")


class RecordsError(ValueError):
    pass


def _pick(header: list[str], choices: tuple[str, ...]) -> str | None:
    lowered = {h.strip().lower(): h for h in header}
    for c in choices:
        if c in lowered:
            return lowered[c]
    return None


def read_csv(path: Path) -> Iterator[tuple[str, str | None, dict]]:
    """(record_id, photo file name, all columns) for every row; rows without an id get 'file:row'."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError:
        text = path.read_bytes().decode("gb18030", errors="replace")
    except OSError as e:
        raise RecordsError(f"cannot read records file {path}: {e.strerror or e}") from e
    reader = csv.DictReader(text.splitlines())
    header = reader.fieldnames or []
    if not header:
        raise RecordsError(f"records file {path} has no header row")
    id_col, photo_col = _pick(header, ID_COLUMNS), _pick(header, PHOTO_COLUMNS)
    if photo_col is None:
        raise RecordsError(f"records file {path} has no photo column; name one of: {', '.join(PHOTO_COLUMNS)}")
    for n, row in enumerate(reader, start=2):
        data = {k.strip(): (v or "").strip() for k, v in row.items() if k is not None}
        record_id = (row.get(id_col) or "").strip() if id_col else ""
        if not record_id:
            record_id = f"{path.name}:{n}"
        photo = (row.get(photo_col) or "").strip()
        yield record_id, _basename(photo) if photo else None, data


def _basename(name: str) -> str:
    """File name from a path written on any system ("a\\b\\c.jpg" or "a/b/c.jpg")."""
    return PureWindowsPath(PurePosixPath(name).name).name
