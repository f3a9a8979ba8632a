"""Safe image decoding: every photo in a leaked archive is untrusted input.

Decoding refuses oversized images *before* allocating pixels (decompression bombs declare a huge
size in a tiny file), applies EXIF orientation (phone photos are stored sideways), and always
returns 8-bit RGB whatever the source mode (CMYK, 16-bit, palette, alpha, animated).
"""

from __future__ import annotations

import hashlib
import io
import re
import stat
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .i18n import _

#: Refuse anything above this many pixels (a 100-megapixel photo is already far beyond any camera
#: used for booking photos). Checked from the header, before decoding.
MAX_PIXELS = 100_000_000
#: Photos are scaled down so the longest side is at most this before detection: faces in booking
#: photos are large, and detection time grows with pixel count.
MAX_SIDE = 2000
#: Files larger than this are refused without being read.
MAX_FILE_BYTES = 200 * 1024 * 1024
#: A photo uploaded by a person (the app, the team server) may be at most this large: far above any phone
#: photo, far below what fills a disk or a server's memory when several people upload at once. The same
#: number is Streamlit's server.maxUploadSize (serve.SETTINGS), so the browser refuses first.
MAX_UPLOAD_MB = 50
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif", ".heic", ".heif"}

# Pillow's own bomb guard, set to facematch's limit for the whole process (not switched off): it warns
# above MAX_IMAGE_PIXELS and raises above twice that, from the header, in Image.open and in every plugin
# that reads further frames (GIF, ICO, ...). decode() turns both into the one "too large" reason.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS
ImageFile.LOAD_TRUNCATED_IMAGES = False


# Set once for the process, not with warnings.catch_warnings() around each decode: that saves and restores
# the process's whole filter list and is not thread-safe (the app decodes photos on several threads).
# Over the pixel limit, Pillow's warning is a refusal; its other notes (odd EXIF, palettes) are not errors.
warnings.filterwarnings("error", category=Image.DecompressionBombWarning)
warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")


class ImageError(ValueError):
    """A photo that cannot be used, with a reason a person can read."""


@dataclass(frozen=True)
class Decoded:
    """A decoded photo: RGB pixels (possibly scaled down) and how they relate to the original."""

    rgb: np.ndarray  # HxWx3 uint8, C-contiguous
    width: int  # of the oriented original, before any scaling
    height: int
    scale: float  # rgb pixels per original pixel (<= 1)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def read_file(path: Path) -> bytes:
    """Read a photo's bytes, refusing huge files and turning OS errors into reasons."""
    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):  # a pipe or device named .jpg would block or never end
            raise ImageError(_("not a regular file (a pipe, device or socket); not read"))
        size = st.st_size
        if size == 0:
            raise ImageError(_("empty file (0 bytes)"))
        if size > MAX_FILE_BYTES:
            raise ImageError(f"file too large ({size / 1e6:.0f} MB; limit {MAX_FILE_BYTES / 1e6:.0f} MB)")
        return path.read_bytes()
    except PermissionError as e:
        raise ImageError(_("cannot read the file (permission denied)")) from e
    except IsADirectoryError as e:
        raise ImageError(_("is a folder, not a file")) from e
    except OSError as e:
        raise ImageError(_("cannot read the file ({why})", why=e.strerror or e)) from e


def decode(data: bytes, max_side: int = MAX_SIDE) -> Decoded:
    """Decode bytes into oriented 8-bit RGB, or raise ImageError saying why not."""
    if not data:
        raise ImageError(_("empty file (0 bytes)"))
    _register_heif()
    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        if w * h > MAX_PIXELS:  # Pillow checked already, unless someone changed its limit in this process
            raise ImageError(_too_large(w * h))
        if w < 1 or h < 1:
            raise ImageError(f"image has no pixels ({w}x{h})")
        im.seek(0)  # first frame of an animated GIF/WebP
        im.load()
        im = ImageOps.exif_transpose(im)
        rgb_im = _to_rgb(im)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(_too_large(_bomb_pixels(e))) from e
    except UnidentifiedImageError as e:
        raise ImageError(_("not an image, or an image format that cannot be read")) from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(_("damaged or truncated image ({why})", why=e)) from e
    width, height = rgb_im.size
    scale = 1.0
    if max(width, height) > max_side:
        scale = max_side / max(width, height)
        rgb_im = rgb_im.resize((max(1, round(width * scale)), max(1, round(height * scale))), Image.BILINEAR)
    rgb = np.ascontiguousarray(np.asarray(rgb_im, dtype=np.uint8))
    return Decoded(rgb=rgb, width=width, height=height, scale=scale)


def _too_large(pixels: int | None) -> str:
    """The one reason for a photo over MAX_PIXELS, whichever check caught it."""
    limit = _megapixels(MAX_PIXELS)
    amount = _megapixels(pixels) if pixels else f"over {limit}"
    return f"image too large ({amount} megapixels; limit {limit}); refused before decoding"


def _megapixels(pixels: int) -> str:
    """3,600 or 100.01: two decimals only where they matter (just over the limit is not "100; limit 100")."""
    return f"{pixels / 1e6:,.2f}".rstrip("0").rstrip(".")


def _bomb_pixels(e: Exception) -> int | None:
    """The pixel count in Pillow's bomb message ("Image size (N pixels) exceeds limit ..."); Pillow gives no size."""
    m = re.search(r"\((\d+) pixels\)", str(e))
    return int(m[1]) if m else None


def load(path: Path, max_side: int = MAX_SIDE) -> tuple[Decoded, str]:
    """Read and decode a file; returns the image and the sha256 of the exact bytes read."""
    data = read_file(path)
    return decode(data, max_side), sha256_bytes(data)


def _to_rgb(im: Image.Image) -> Image.Image:
    """Any Pillow mode to 8-bit RGB; alpha is composited on white so transparent areas are not black."""
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        hi = arr.max() or 1.0
        im = Image.fromarray((arr * (255.0 / hi)).clip(0, 255).astype(np.uint8), "L")
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        im = Image.alpha_composite(bg, im)
    return im.convert("RGB")


_heif_registered = False


def _register_heif() -> None:
    """HEIC (iPhone photos) is read if pillow-heif happens to be installed; it is optional."""
    global _heif_registered
    if _heif_registered:
        return
    _heif_registered = True
    try:
        from pillow_heif import register_heif_opener  # type: ignore[import-not-found]

        register_heif_opener()
    except ImportError:
        pass


def check_upload(data: bytes) -> None:
    """Refuse an uploaded photo over MAX_UPLOAD_BYTES with a message a person can act on (checked in the library
    too, not only by Streamlit: a script or another front end reaches the same functions)."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImageError(
            f"this file is {len(data) / 1e6:.0f} MB; photos up to {MAX_UPLOAD_MB} MB can be uploaded "
            "(save it again as JPEG, or send a smaller copy)"
        )


def strip_metadata(data: bytes) -> bytes:
    """Re-encode a photo without EXIF/GPS/camera serials, keeping its pixels and orientation."""
    dec = decode(data, max_side=10**9)
    out = io.BytesIO()
    Image.fromarray(dec.rgb).save(out, format="JPEG", quality=95)
    return out.getvalue()
