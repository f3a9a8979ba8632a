"""Safe image decoding: every photo in a leaked archive is untrusted input, and so is every upload.

Decoding refuses oversized images *before* allocating pixels (decompression bombs declare a huge
size in a tiny file), applies EXIF orientation (phone photos are stored sideways), and always
returns 8-bit RGB whatever the source mode (CMYK, 16-bit, palette, alpha, animated).

A photo uploaded to the app (`upload=True`) is held to memory, since any logged-in account can send one:
a lower pixel limit than the archive's, JPEG decoded already reduced (Pillow's draft: the DCT scaled down to
a size that still shows faces at the detector's size), other formats decoded at most MAX_UPLOAD_DECODED
pixels, large images scaled down before any conversion, and at most UPLOAD_DECODES uploads decoded at once
in a process: whatever several sessions send together, the memory decoding takes stays bounded.
"""

from __future__ import annotations

import hashlib
import io
import re
import stat
import threading
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
#: An uploaded photo may have at most this many pixels (a 48-megapixel phone photo fits): far below the archive's
#: MAX_PIXELS, whose full decode takes about a gigabyte.
MAX_UPLOAD_PIXELS = 50_000_000
#: At most this many pixels of an upload are decoded at once: a JPEG is decoded reduced to fit (draft), other
#: formats (PNG, WebP, TIFF, ...) are refused above it, with a message saying to send a JPEG or a smaller copy.
MAX_UPLOAD_DECODED = 25_000_000
#: Uploads decoded at the same moment in one process (the app's sessions share it); more wait their turn.
UPLOAD_DECODES = 2
#: A photo kept in a case is stored at most this large (longest side): enough for any face and for the report.
KEEP_SIDE = 4000
_upload_decodes = threading.BoundedSemaphore(UPLOAD_DECODES)

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
            raise ImageError(
                _(
                    "file too large ({size} MB; limit {limit} MB)",
                    size=f"{size / 1e6:.0f}",
                    limit=f"{MAX_FILE_BYTES / 1e6:.0f}",
                )
            )
        return path.read_bytes()
    except PermissionError as e:
        raise ImageError(_("cannot read the file (permission denied)")) from e
    except IsADirectoryError as e:
        raise ImageError(_("is a folder, not a file")) from e
    except OSError as e:
        raise ImageError(_("cannot read the file ({why})", why=e.strerror or e)) from e


def decode(data: bytes, max_side: int = MAX_SIDE, upload: bool = False) -> Decoded:
    """Decode bytes into oriented 8-bit RGB, or raise ImageError saying why not. `upload`: a photo a person sent
    (the app, a query photo), held to the upload limits and decoded reduced (module docstring); the archive's
    photos are decoded as they always were, so their faces and embeddings do not change."""
    if not data:
        raise ImageError(_("empty file (0 bytes)"))
    if upload:
        with _upload_decodes:
            try:
                return _decode_upload(data, max_side)
            except MemoryError as e:  # the process's limit reached by others' work at the same moment
                raise ImageError(
                    _("not enough memory to read this photo now; try again, or send a smaller copy")
                ) from e
    _register_heif()
    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        if w * h > MAX_PIXELS:  # Pillow checked already, unless someone changed its limit in this process
            raise ImageError(_too_large(w * h))
        if w < 1 or h < 1:
            raise ImageError(_("image has no pixels ({width}x{height})", width=w, height=h))
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


def _decode_upload(data: bytes, max_side: int) -> Decoded:
    """decode() for an upload: the pixel limits checked from the header, a JPEG decoded already reduced, the
    image scaled down in its own mode before it is turned or converted, so no full-size RGB copy is ever made."""
    _register_heif()
    try:
        im = Image.open(io.BytesIO(data))
        w, h = im.size
        if w * h > MAX_UPLOAD_PIXELS:
            raise ImageError(_upload_too_large(w * h, MAX_UPLOAD_PIXELS))
        if w < 1 or h < 1:
            raise ImageError(_("image has no pixels ({width}x{height})", width=w, height=h))
        if im.format == "JPEG" and max(w, h) > max_side:
            factor = max_side / max(w, h)  # the DCT scaled by 1/2, 1/4 or 1/8, never below the size asked
            im.draft("RGB", (max(1, int(w * factor + 1)), max(1, int(h * factor + 1))))
        if im.size[0] * im.size[1] > MAX_UPLOAD_DECODED:
            raise ImageError(_upload_too_large(w * h, MAX_UPLOAD_DECODED))
        orientation = im.getexif().get(0x0112, 1)
        im.seek(0)  # first frame of an animated GIF/WebP
        im.load()
        if max(im.size) > max_side:  # scaled down in its own mode (a palette first becomes colours)
            if im.mode.startswith("I;16"):
                im = im.convert("I")  # 16-bit grey: _to_rgb scales it to 8 bits after
            elif im.mode not in ("1", "L", "LA", "RGB", "RGBA", "RGBa", "La", "CMYK", "I", "F"):
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            factor = max_side / max(im.size)
            im = im.resize((max(1, round(im.width * factor)), max(1, round(im.height * factor))), Image.BILINEAR)
        transpose = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
                     4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
                     6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
                     8: Image.Transpose.ROTATE_90}.get(orientation)  # fmt: skip
        if transpose is not None:  # EXIF orientation, as ImageOps.exif_transpose applies it
            im = im.transpose(transpose)
            w, h = (h, w) if orientation in (5, 6, 7, 8) else (w, h)
        rgb_im = _to_rgb(im)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise ImageError(_upload_too_large(_bomb_pixels(e) or MAX_PIXELS + 1, MAX_UPLOAD_PIXELS)) from e
    except UnidentifiedImageError as e:
        raise ImageError(_("not an image, or an image format that cannot be read")) from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise ImageError(_("damaged or truncated image ({why})", why=e)) from e
    rgb = np.ascontiguousarray(np.asarray(rgb_im, dtype=np.uint8))
    return Decoded(rgb=rgb, width=w, height=h, scale=min(1.0, rgb.shape[1] / w))


def _upload_too_large(pixels: int, limit: int) -> str:
    """The reason an upload is refused for its size, before it is decoded."""
    return _(
        "this photo is too large to use here ({amount} megapixels; photos up to {limit} megapixels can be used, "
        "JPEG up to {jpeg}). Send a smaller copy, or save it as JPEG.",
        amount=_megapixels(pixels), limit=_megapixels(MAX_UPLOAD_DECODED), jpeg=_megapixels(MAX_UPLOAD_PIXELS),
    ) if limit == MAX_UPLOAD_DECODED else _(
        "this photo is too large to use here ({amount} megapixels; up to {limit}). Send a smaller copy.",
        amount=_megapixels(pixels), limit=_megapixels(limit),
    )  # fmt: skip


def _too_large(pixels: int | None) -> str:
    """The one reason for a photo over MAX_PIXELS, whichever check caught it."""
    limit = _megapixels(MAX_PIXELS)
    if not pixels:
        return _("image too large (over {limit} megapixels); refused before decoding", limit=limit)
    amount = _megapixels(pixels)
    return _("image too large ({amount} megapixels; limit {limit}); refused before decoding", amount=amount,
             limit=limit)  # fmt: skip


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
            _(
                "this file is {size} MB; photos up to {limit} MB can be uploaded (save it again as JPEG, or send a "
                "smaller copy)",
                size=f"{len(data) / 1e6:.0f}",
                limit=MAX_UPLOAD_MB,
            )
        )


def kept_copy(data: bytes) -> tuple[bytes, float]:
    """An uploaded photo as a case keeps it: re-encoded without EXIF/GPS/camera serials, turned upright, at most
    KEEP_SIDE on its longest side (decoded with the upload limits); and its scale to the upload (<= 1)."""
    dec = decode(data, max_side=KEEP_SIDE, upload=True)
    out = io.BytesIO()
    Image.fromarray(dec.rgb).save(out, format="JPEG", quality=95)
    return out.getvalue(), dec.scale


def strip_metadata(data: bytes) -> bytes:
    """Re-encode an uploaded photo without EXIF/GPS/camera serials, keeping its orientation (kept_copy)."""
    return kept_copy(data)[0]
