"""Hostile and awkward files: each is reported with a reason or indexed, the batch goes on, the index stays sound.

Indexing runs in a child process that, when the tests run as root, drops root's right to read any
file (CAP_DAC_OVERRIDE), so the no-permission case is real on CI machines too.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import skip_or_fail
from facematch import images
from facematch.indexing import index_folder
from hostile import FACE, _png_with_declared_size, make_corpus
from test_index import assert_consistent, faces_in_db

_RUN = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from facematch.indexing import index_folder
    r = index_folder(Path(sys.argv[1]), Path(sys.argv[2]), "sface", workers=2, progress=False)
    out = {"errors": {Path(s.path).name: s.reason for s in r.errors + r.no_face},
           "scanned": r.scanned, "faces": r.faces}
    print(json.dumps(out, ensure_ascii=False))
    """
)


def _without_root_override() -> list[str]:
    """A command prefix under which root obeys file permissions like anyone else (empty if not root)."""
    if os.geteuid() != 0:
        return []
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        skip_or_fail("running as root without setpriv: the no-permission case cannot be made real")
    caps = "-dac_override,-dac_read_search"
    return [setpriv, f"--bounding-set={caps}", f"--inh-caps={caps}"]


def _index(folder: Path, idx: Path) -> dict:
    cmd = [*_without_root_override(), sys.executable, "-c", _RUN, str(folder), str(idx)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_every_hostile_file_is_reported_or_indexed_and_the_batch_goes_on(tmp_path):
    folder = tmp_path / "hostile"
    kinds = make_corpus(folder)
    assert len(kinds) >= 19
    idx = tmp_path / "idx"
    result = _index(folder, idx)
    skipped = result["errors"]
    indexed = {Path(k[0]).name for k in faces_in_db(idx)}
    table = []
    for name, kind in kinds.items():
        if kind.expect == "face":
            assert name in indexed, f"{kind.what}: no face indexed ({skipped.get(name)})"
            outcome = "indexed"
        else:
            assert name in skipped, f"{kind.what}: not reported"
            assert kind.expect in skipped[name].lower(), (kind.what, skipped[name])
            outcome = skipped[name]
        table.append(f"| {kind.what} | {outcome} |")
    print("\n".join(table))  # the closing note's table (pytest -s)
    assert_consistent(idx)
    # The rerun reads none of the bad files again (a link loop and a pipe are listed, never read) and
    # leaves the index as it was.
    before = faces_in_db(idx)
    again = _index(folder, idx)
    assert again["scanned"] == 0
    assert faces_in_db(idx).keys() == before.keys()
    assert_consistent(idx)


def test_the_sideways_photo_is_found_only_because_exif_is_applied(tmp_path):
    kinds = make_corpus(tmp_path / "c")
    assert kinds["rotated.jpg"].expect == "face"
    data = (tmp_path / "c" / "rotated.jpg").read_bytes()
    dec = images.decode(data)
    from PIL import Image

    original = Image.open(FACE)
    assert (dec.width, dec.height) == original.size  # upright, not the stored sideways size


def test_a_file_that_changes_while_read_is_skipped_then_read_on_the_next_run(tmp_path, monkeypatch):
    """A writer rewrites the photo between the size check and the read (the race, made deterministic)."""
    photos = tmp_path / "photos"
    photos.mkdir()
    target = photos / "changing.jpg"
    shutil.copyfile(FACE, target)
    real_read = images.read_file

    def read_while_written(path: Path) -> bytes:
        data = real_read(path)
        if path.name == "changing.jpg":
            with open(path, "ab") as f:  # another program is still writing the file
                f.write(b"\0" * 1000)
        return data

    monkeypatch.setattr(images, "read_file", read_while_written)
    idx = tmp_path / "idx"
    first = index_folder(photos, idx, "sface", workers=1, progress=False)
    assert [Path(s.path).name for s in first.errors] == ["changing.jpg"]
    assert "changed while it was being read" in first.errors[0].reason
    assert faces_in_db(idx) == {}
    monkeypatch.setattr(images, "read_file", real_read)  # the writer has finished
    second = index_folder(photos, idx, "sface", workers=1, progress=False)
    assert second.scanned == 1 and second.faces == 1 and not second.errors
    assert_consistent(idx)


@pytest.mark.parametrize(
    ("width", "height", "shown"),
    [
        (10_001, 10_000, "100.01 megapixels"),  # just over: Pillow warns (limit < pixels <= 2x limit)
        (12_000, 12_000, "144 megapixels"),  # Pillow warns
        (60_000, 60_000, "3,600 megapixels"),  # over twice the limit: Pillow raises DecompressionBombError
    ],
)
def test_pillows_own_bomb_guard_refuses_with_facematchs_reason(width, height, shown):
    """A header declaring more than MAX_PIXELS is refused by Pillow's guard, set to facematch's limit."""
    with pytest.raises(images.ImageError) as e:
        images.decode(_png_with_declared_size(width, height))
    assert str(e.value) == f"image too large ({shown}; limit 100); refused before decoding"


def test_exactly_the_limit_is_decoded_not_refused_as_too_large():
    """10000x10000 = MAX_PIXELS passes the size guard; this 70-byte file then fails as what it is."""
    with pytest.raises(images.ImageError, match="damaged or truncated"):
        images.decode(_png_with_declared_size(10_000, 10_000))


def test_importing_facematch_leaves_pillows_guard_on_at_facematchs_limit():
    """Pillow's limit is process-wide: facematch sets it to its own limit, never to None (off)."""
    code = "import facematch.cli; from facematch import images; from PIL import Image; print(Image.MAX_IMAGE_PIXELS)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split()[-1] == str(images.MAX_PIXELS) != "None"


def test_the_reason_a_photo_is_refused_is_in_the_readers_language(tmp_path):
    """A bomb's reason and a file over the size limit reach people (the index report, the app) in their language,
    not in the library's English (issue 23)."""
    from facematch import i18n

    big = tmp_path / "big.jpg"
    with big.open("wb") as f:
        f.truncate(images.MAX_FILE_BYTES + 1)  # sparse: no disk used
    with i18n.language("tr"):
        with pytest.raises(images.ImageError) as bomb:
            images.decode(_png_with_declared_size(12_000, 12_000))
        with pytest.raises(images.ImageError) as huge:
            images.read_file(big)
    assert str(bomb.value) == "görüntü çok büyük (144 megapiksel; sınır 100); çözülmeden reddedildi"
    assert str(huge.value).startswith("dosya çok büyük (")
