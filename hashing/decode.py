"""Bytes to a decoded, upright RGB image, with guards for hostile input.

The one way into Pillow for this package: every hasher that needs pixels receives the
``PIL.Image.Image`` returned by ``decode_image``. Anything Pillow raises on malformed
input is translated into an ``ImageDecodeError``; oversized images into
``ImageTooLargeError`` (see ``errors.py``).
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from hashing.errors import (
    CorruptImageError,
    EmptyImageError,
    HashingError,
    ImageTooLargeError,
    UnsupportedImageError,
)

DEFAULT_MAX_PIXELS = 100_000_000
"""Decompression-bomb limit: images declaring more pixels than this are refused."""

DEFAULT_FORMATS: tuple[str, ...] = (
    "AVIF", "BMP", "GIF", "ICO", "JPEG", "JPEG2000", "PNG", "TIFF", "WEBP",
)  # fmt: skip
"""Pillow formats tried by default: web image formats only. Formats that run external
programs (EPS via Ghostscript) or are rarely served on the web stay off."""

_WHITE = (255, 255, 255, 255)
_HIGH_DEPTH_MODES = frozenset({"I", "F", "I;16", "I;16L", "I;16B", "I;16N"})


@dataclass(frozen=True)
class DecodeConfig:
    """How ``decode_image`` treats its input.

    ``max_pixels`` is checked against the dimensions the file declares, before any pixel
    is decoded, so a small file that unpacks into a huge bitmap is refused cheaply.
    Pillow's own ``DecompressionBombWarning`` is silenced while decoding because this
    limit replaces it; Pillow still raises ``DecompressionBombError`` (mapped to
    ``ImageTooLargeError``) above twice ``PIL.Image.MAX_IMAGE_PIXELS``, so a
    ``max_pixels`` above about 179 MP also needs that global raised.

    ``formats`` lists the Pillow format names that may be decoded (see
    ``DEFAULT_FORMATS``); anything else is an ``UnsupportedImageError``.
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    formats: tuple[str, ...] = DEFAULT_FORMATS

    def __post_init__(self) -> None:
        if self.max_pixels < 1:
            raise ValueError(f"max_pixels must be positive, got {self.max_pixels!r}")


def decode_image(data: bytes, config: DecodeConfig = DecodeConfig()) -> Image.Image:
    """Decode ``data`` into an RGB image, rotated upright by its EXIF orientation.

    Animated formats give their first frame; transparency is composited on white.
    """
    if not data:
        raise EmptyImageError("cannot decode an image from 0 bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=config.formats)
            _check_size(image, config)
            image.load()
    except UnidentifiedImageError as exc:
        raise UnsupportedImageError(
            f"not an image in an accepted format ({', '.join(config.formats)}): "
            f"{len(data)} bytes starting {data[:16]!r}"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageTooLargeError(
            f"image too large (possible decompression bomb): {exc}"
        ) from exc
    except HashingError:
        raise
    except Exception as exc:  # Pillow plugins raise many types on damaged input
        raise CorruptImageError(
            f"corrupt or truncated image ({len(data)} bytes): "
            f"{type(exc).__name__}: {exc}"
        ) from exc
    try:
        return to_rgb(_upright(image))
    except Exception as exc:
        raise CorruptImageError(
            f"cannot convert {image.format or 'image'} in mode {image.mode!r} to RGB: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def to_rgb(image: Image.Image) -> Image.Image:
    """Return ``image`` as 8-bit RGB, whatever its Pillow mode."""
    if image.mode == "RGB":
        return image
    if image.mode in _HIGH_DEPTH_MODES:
        image = _to_8bit_grey(image)
    elif image.mode == "LAB":
        return _lab_to_rgb(image)
    if image.has_transparency_data:
        rgba = (
            image.convert("RGBA")
            if image.mode != "La"
            else image.convert("LA").convert("RGBA")
        )
        return Image.alpha_composite(
            Image.new("RGBA", rgba.size, _WHITE), rgba
        ).convert("RGB")
    return image.convert("RGB")


def _check_size(image: Image.Image, config: DecodeConfig) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise CorruptImageError(f"image declares empty dimensions {width}x{height}")
    if width * height > config.max_pixels:
        raise ImageTooLargeError(
            f"image declares {width}x{height} = {width * height:,} pixels, over the "
            f"limit of {config.max_pixels:,} (possible decompression bomb)"
        )


def _upright(image: Image.Image) -> Image.Image:
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # a damaged EXIF block is no reason to refuse the pixels
        return image


def _to_8bit_grey(image: Image.Image) -> Image.Image:
    """Scale 16-bit, 32-bit integer and float greyscale to 0..255.

    ``I;16*`` always spans 0..65535. For ``I`` and ``F`` the range is guessed from the
    values: 0..1 (float), 0..255, 0..65535, else stretched from min to max.
    """
    values = np.nan_to_num(np.asarray(image, dtype=np.float64))
    low, high = (
        (float(values.min()), float(values.max())) if values.size else (0.0, 0.0)
    )
    if image.mode.startswith("I;16") or (low >= 0 and 255 < high <= 65535):
        values = values / 257.0
    elif image.mode == "F" and low >= 0 and high <= 1.0:
        values = values * 255.0
    elif low < 0 or high > 255:
        values = (values - low) * (255.0 / (high - low))
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8))


def _lab_to_rgb(image: Image.Image) -> Image.Image:
    transform = ImageCms.buildTransform(
        ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
    )
    converted = ImageCms.applyTransform(image, transform)
    if converted is None:  # only returned for in-place transforms
        raise CorruptImageError("LAB to RGB conversion produced no image")
    return converted
