"""A corpus of hostile and awkward photo files, generated on the spot from licence-clean photos.

Each entry says what must happen to the file: skipped with a reason containing a given word, or
indexed with at least one face found. The same corpus goes through indexing (tests/test_hostile.py)
and through upload in the app, so both paths are held to one list.
"""

from __future__ import annotations

import io
import os
import shutil
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from conftest import demo_photo
from facematch import demo

FACE = demo.DEMO_DIR / "gallery" / "obama.jpg"


@dataclass(frozen=True)
class Kind:
    """One kind of file: its name in the corpus, what it is, and the expected outcome."""

    name: str
    what: str
    expect: str  # "face" (indexed, >= 1 face found) or a word the skip reason must contain
    uploadable: bool = True  # a file a browser could upload (not a link, pipe or unreadable entry)


def _png_with_declared_size(width: int, height: int) -> bytes:
    """A valid tiny PNG whose header claims width x height: a decompression bomb's calling card."""
    buf = io.BytesIO()
    Image.new("L", (1, 1)).save(buf, "PNG")
    data = bytearray(buf.getvalue())
    ihdr = 8 + 8  # signature, then length+type of IHDR
    data[ihdr : ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4 : ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13 : ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def _save(im: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **kw)
    return buf.getvalue()


def file_kinds() -> dict[str, tuple[Kind, bytes]]:
    """The regular files of the corpus: name -> (kind, bytes). Usable for upload as well as indexing."""
    good = FACE.read_bytes()
    face = Image.open(FACE).convert("RGB")
    png = demo_photo("astronaut.png").read_bytes()
    gray = face.convert("L")
    sixteen = Image.fromarray(np.asarray(gray, dtype=np.uint16) * 257)  # mode I;16, full 16-bit range
    alpha = face.convert("RGBA")
    alpha.putalpha(Image.new("L", face.size, 200))
    noise = Image.fromarray(np.random.default_rng(1).integers(0, 255, (face.height, face.width, 3), np.uint8))
    # Stored sideways with an EXIF tag saying "rotate 90 clockwise to show": only upright after EXIF.
    exif = Image.Exif()
    exif[0x0112] = 6
    sideways = face.transpose(Image.Transpose.ROTATE_90)
    bad_exif = Image.Exif()
    bad_exif[0x0112] = 9  # not a valid orientation
    bad_exif[0x010F] = "x" * 3000
    entries = [
        (Kind("empty.jpg", "0-byte file", "empty"), b""),
        (Kind("truncated.jpg", "JPEG cut to a third", "truncated"), good[: len(good) // 3]),
        (Kind("truncated.png", "PNG cut in half", "truncated"), png[: len(png) // 2]),
        (Kind("random.jpg", "random bytes named .jpg", "not an image"), np.random.default_rng(0).bytes(5000)),
        (Kind("text.jpg", "a text file named .jpg", "not an image"), b"this is not a photo\n"),
        (Kind("bomb.png", "decompression bomb: 60000x60000 declared, 70 bytes", "too large"), None),
        (Kind("huge.png", "20000x20000 image (real pixels)", "too large"), None),
        (Kind("tiny.png", "1x1 image", "no face"), _save(Image.new("RGB", (1, 1), (200, 150, 120)), "PNG")),
        (Kind("faceless.png", "a photo with no face (coffee cup)", "no face"), None),
        (Kind("sixteen_bit.png", "16-bit grayscale PNG of a face", "face"), _save(sixteen, "PNG")),
        (Kind("cmyk.jpg", "CMYK JPEG of a face", "face"), _save(face.convert("CMYK"), "JPEG", quality=92)),
        (Kind("grayscale.jpg", "8-bit grayscale JPEG of a face", "face"), _save(gray, "JPEG", quality=92)),
        (Kind("alpha.png", "PNG with an alpha channel", "face"), _save(alpha, "PNG")),
        (
            Kind("animated.gif", "animated GIF, face in the first frame", "face"),
            _save(face, "GIF", save_all=True, append_images=[noise], duration=200, loop=0),
        ),
        (Kind("rotated.jpg", "stored sideways, EXIF orientation 6", "face"), _save(sideways, "JPEG", exif=exif)),
        (Kind("bad_exif.jpg", "EXIF with an invalid orientation (9)", "face"), _save(face, "JPEG", exif=bad_exif)),
        (Kind("png_named.jpg", "a PNG named .jpg", "face"), _save(face, "PNG")),
        (Kind("webp.webp", "WebP photo", "face"), _save(face, "WEBP", quality=90)),
        (Kind("ئابدۇۋەلى_阿布都外力.jpg", "file name in Uyghur and Chinese script", "face"), good),
    ]
    out = {}
    for kind, data in entries:
        if data is None:
            data = _generated(kind.name)
        out[kind.name] = (kind, data)
    return out


def _generated(name: str) -> bytes:
    if name == "bomb.png":
        return _png_with_declared_size(60000, 60000)
    if name == "huge.png":
        return _save(Image.new("1", (20000, 20000)), "PNG")
    if name == "faceless.png":
        return demo_photo("coffee.png").read_bytes()
    raise KeyError(name)


def make_corpus(folder: Path) -> dict[str, Kind]:
    """Write the whole corpus (files, links, a pipe, an unreadable file) into folder; name -> Kind."""
    folder.mkdir(parents=True, exist_ok=True)
    kinds: dict[str, Kind] = {}
    for name, (kind, data) in file_kinds().items():
        (folder / name).write_bytes(data)
        kinds[name] = kind
    (folder / "dangling.jpg").symlink_to(folder / "does-not-exist.jpg")
    kinds["dangling.jpg"] = Kind("dangling.jpg", "link to a missing file", "cannot read", uploadable=False)
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    kinds["loop"] = Kind("loop", "symlink loop (a link to its own folder)", "not followed", uploadable=False)
    os.mkfifo(folder / "pipe.jpg")
    kinds["pipe.jpg"] = Kind("pipe.jpg", "named pipe called .jpg (reading would hang)", "not a regular file", False)
    unreadable = folder / "unreadable.jpg"
    shutil.copyfile(FACE, unreadable)
    unreadable.chmod(0)
    kinds["unreadable.jpg"] = Kind("unreadable.jpg", "no read permission", "permission denied", uploadable=False)
    return kinds
