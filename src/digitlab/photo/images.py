"""Reading a picture safely into a grey float32 array, whatever its format, mode and size.

``read_grey(source)`` takes a path, bytes, a file object, a PIL image or a NumPy array and returns
a (H, W) float32 array in [0, 1] (0 black, 1 white), turned upright by its EXIF orientation and
shrunk (by area averaging) so that its longer side is at most ``max_side``. Transparent pixels
become paper: white behind dark ink, black behind light ink.

Every way a file can be wrong is an ImageError with one line that names the file: missing, a
folder, not an image, truncated or damaged, too small, or over the pixel cap (a decompression
bomb: a small file that would decode to billions of pixels is refused before it is decoded).
"""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import (  # noqa: F401
    BmpImagePlugin,
    GifImagePlugin,
    Image,
    ImageOps,
    JpegImagePlugin,
    PngImagePlugin,  # registers them
    PpmImagePlugin,
    TiffImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

from digitlab.errors import ImageError

MAX_PIXELS = 64_000_000     # a 50-megapixel phone photo passes; a decompression bomb does not
MIN_SIDE = 8                # the smallest picture that can hold a recognisable digit
WORK_SIDE = 800             # pictures are shrunk to this longer side before any work on them
FORMATS = ("PNG", "JPEG", "BMP", "DIB", "GIF", "TIFF", "WEBP", "PPM")
READABLE = "PNG, JPEG, BMP, GIF, TIFF or WebP"


def describe(source) -> str:
    """How a source is named in a message: its path, or what kind of object it is."""
    if isinstance(source, (str, os.PathLike)):
        return str(source)
    if isinstance(source, (bytes, bytearray)):
        return "<image bytes>"
    return getattr(source, "name", None) or f"<{type(source).__name__}>"


def open_image(source, max_pixels: int = MAX_PIXELS, max_side: int | None = WORK_SIDE) -> Image.Image:
    """The picture in ``source`` decoded, upright and (with ``max_side``) shrunk; raises ImageError."""
    if isinstance(source, Image.Image):
        image = source
        _check_size(image, describe(source), max_pixels)
    else:
        name = describe(source)
        image = _decode(_open(source, name), name, max_pixels, max_side)
    try:
        image = ImageOps.exif_transpose(image)
    except Exception:  # a broken EXIF block: keep the picture as it was stored
        pass
    if max_side and max(image.size) > max_side:
        scale = max_side / max(image.size)
        size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
        image = _as_resizable(image).resize(size, Image.Resampling.BOX, reducing_gap=3.0)
    return image


def read_grey(source, max_pixels: int = MAX_PIXELS, max_side: int | None = WORK_SIDE) -> np.ndarray:
    """The picture as a (H, W) float32 grey array in [0, 1]; transparency becomes paper."""
    if isinstance(source, np.ndarray):
        return _array_to_grey(source)
    grey, alpha = grey_and_alpha(open_image(source, max_pixels, max_side))
    return grey if alpha is None else composite_on_paper(grey, alpha)


def _open(source, name):
    if isinstance(source, (str, os.PathLike)):
        path = Path(source)
        if path.is_dir():
            raise ImageError(f"{name}: is a folder, not an image")
        if not path.exists():
            raise ImageError(f"{name}: no such file")
        try:
            return path.open("rb")
        except OSError as error:
            raise ImageError(f"{name}: cannot be read ({error.strerror or error})") from None
    if isinstance(source, (bytes, bytearray)):
        return io.BytesIO(source)
    if not hasattr(source, "read"):
        raise TypeError(f"an image is a path, bytes, a file opened for reading, a PIL image or an array, "
                        f"not {type(source).__name__}")
    return source


def _decode(file, name, max_pixels, max_side) -> Image.Image:
    """Open (header only), check the size against the cap, then decode the first frame."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(file, formats=FORMATS)
            _check_size(image, name, max_pixels)
            if max_side and image.format in ("JPEG", "MPO"):
                image.draft(image.mode, (max_side, max_side))  # decode at 1/2, 1/4 or 1/8 scale
            image.load()
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{name}: too large to be a digit: over the cap of {max_pixels:,} pixels "
                         "(a decompression bomb?)") from None
    except UnidentifiedImageError:
        raise ImageError(f"{name}: not an image digitlab can read ({READABLE})") from None
    except (OSError, ValueError, SyntaxError, EOFError) as error:
        raise ImageError(f"{name}: the image is truncated or damaged ({error})") from None
    finally:
        if isinstance(file, io.BufferedReader):
            file.close()
    return image


def _check_size(image, name, max_pixels):
    width, height = image.size
    if width * height > max_pixels:
        raise ImageError(f"{name}: too large to be a digit: {width}x{height} pixels is over the cap of "
                         f"{max_pixels:,} pixels (a decompression bomb?)")
    if min(width, height) < MIN_SIDE:
        raise ImageError(f"{name}: too small ({width}x{height} pixels): a digit needs at least "
                         f"{MIN_SIDE}x{MIN_SIDE}")


def _as_resizable(image):
    """A copy in a mode Pillow can resize with area averaging without losing depth or alpha."""
    if image.mode in ("L", "LA", "RGB", "RGBA", "F"):
        return image
    if image.mode.startswith("I"):
        return Image.fromarray(_sixteen_bit(image), "F")
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGBA" if _has_alpha(image) else "RGB")


def _has_alpha(image):
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _sixteen_bit(image):
    """Integer pixels (16-bit greys, 32-bit 'I') as float32 in [0, 1]."""
    values = np.asarray(image).astype(np.float32)
    top = 65535.0 if image.mode.startswith("I;16") or values.max(initial=0) > 255 else 255.0
    return np.clip(values / top, 0, 1)


def grey_and_alpha(image: Image.Image):
    """(grey, alpha or None), each (H, W) float32 in [0, 1]; grey is luma (ITU-R 601)."""
    if image.mode == "F":
        values = np.asarray(image, np.float32)
        top = float(values.max(initial=0))
        return np.clip(values / (top if top > 1 else 1.0), 0, 1), None
    if image.mode.startswith("I"):
        return _sixteen_bit(image), None
    if _has_alpha(image):
        rgba = image.convert("LA") if image.mode in ("LA", "La") else image.convert("RGBA")
        grey = np.asarray(rgba.convert("L"), np.float32) / np.float32(255)
        alpha = np.asarray(rgba.getchannel("A"), np.float32) / np.float32(255)
        return grey, (None if alpha.min() >= 1 else alpha)
    return np.asarray(image.convert("L"), np.float32) / np.float32(255), None


def composite_on_paper(grey, alpha):
    """Put a picture with transparency on paper: white behind dark ink, black behind light ink."""
    weight = float(alpha.sum())
    ink_is_dark = weight == 0 or float((alpha * grey).sum()) / weight < 0.5
    paper = np.float32(1.0 if ink_is_dark else 0.0)
    return (alpha * grey + (1 - alpha) * paper).astype(np.float32)


def _array_to_grey(array):
    """A NumPy picture (H, W) or (H, W, 3|4), uint8 0..255, uint16 or float in [0, 1]."""
    array = np.asarray(array)
    if array.ndim == 3 and array.shape[2] in (3, 4):
        mode = "RGBA" if array.shape[2] == 4 else "RGB"
        if array.dtype != np.uint8:
            array = np.clip(np.rint(_unit(array) * 255), 0, 255).astype(np.uint8)
        grey, alpha = grey_and_alpha(Image.fromarray(array, mode))
        return grey if alpha is None else composite_on_paper(grey, alpha)
    if array.ndim != 2:
        raise ImageError(f"an image array must be (H, W), (H, W, 3) or (H, W, 4), got {array.shape}")
    if min(array.shape) < MIN_SIDE:
        raise ImageError(f"the image array is too small ({array.shape[1]}x{array.shape[0]} pixels): "
                         f"a digit needs at least {MIN_SIDE}x{MIN_SIDE}")
    return _unit(array)


def _unit(array):
    if array.dtype == np.uint8:
        return array.astype(np.float32) / np.float32(255)
    if array.dtype == np.uint16:
        return array.astype(np.float32) / np.float32(65535)
    if array.dtype == bool:
        return array.astype(np.float32)
    return np.clip(array.astype(np.float32), 0, 1)
