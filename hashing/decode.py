"""Bytes to a decoded, upright RGB image, with guards for hostile input.

The one way into Pillow for this package: every hasher that needs pixels receives the
``PIL.Image.Image`` returned by ``decode_image``. Anything Pillow raises on malformed
input is translated into an ``ImageDecodeError``; oversized images into
``ImageTooLargeError`` (see ``errors.py``).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from hashing.errors import (
    CorruptImageError,
    EmptyImageError,
    HashingError,
    ImageTooLargeError,
    UnsupportedImageError,
)
from hashing.sniff import describe_bytes

T = TypeVar("T")

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

    ``draft_size``: JPEGs are decoded by libjpeg's DCT scaling straight to the smallest
    of 1/2, 1/4 or 1/8 size whose sides are both at least this many pixels (``None``:
    full size). PDQ is computed from the reduced picture as the reference computes it at
    full size (``hashing.signals.pdq.reduced``); at 256 it stays within 2 bits of the
    full-size PDQ on 1024x768 and 2048x1536 photos (at 192, 1/4 size for 1024x768,
    within 8 to 10), and external hash lists are computed at full size. ``max_frames``: how many frames of an animated GIF, WebP or PNG are
    hashed (the first included).
    """

    max_pixels: int = DEFAULT_MAX_PIXELS
    formats: tuple[str, ...] = DEFAULT_FORMATS
    draft_size: int | None = 256
    max_frames: int = 300

    def __post_init__(self) -> None:
        if self.max_pixels < 1:
            raise ValueError(f"max_pixels must be positive, got {self.max_pixels!r}")
        if self.draft_size is not None and self.draft_size < 64:
            raise ValueError(f"draft_size must be at least 64, got {self.draft_size!r}")
        if self.max_frames < 0:
            raise ValueError(f"max_frames must not be negative, got {self.max_frames!r}")


@dataclass(frozen=True)
class DecodedImage:
    """An image file decoded for hashing.

    ``image`` is the first frame, upright (EXIF orientation applied) and RGB, possibly
    reduced by draft decoding; ``width`` and ``height`` are the full upright size the
    file declares. ``frames`` holds, for animations only, ``(t, image)`` pairs: each
    frame's start time in seconds and the frame as RGB, first frame included.
    """

    image: Image.Image
    width: int
    height: int
    format: str
    frames: tuple[tuple[float, Image.Image], ...] = ()
    scale: int = 1
    """The DCT scaling draft decoding applied: ``image`` is 1/``scale`` of the full size."""


def decode_image(data: bytes, config: DecodeConfig = DecodeConfig()) -> Image.Image:
    """Decode ``data`` into an RGB image, rotated upright by its EXIF orientation.

    Animated formats give their first frame; transparency is composited on white.
    """
    return decode(data, config).image


def decode(data: bytes, config: DecodeConfig = DecodeConfig()) -> DecodedImage:
    """Decode ``data`` for hashing: the first frame (see ``decode_image``), the declared
    size, and every frame of an animation up to ``config.max_frames``."""
    if not data:
        raise EmptyImageError("cannot decode an image from 0 bytes")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        image = _guarded(data, config, lambda: _open(data, config))
        full = image.size
        if image.format == "JPEG" and config.draft_size is not None:
            image.draft("RGB", (config.draft_size, config.draft_size))
        decoded = image.size
        _guarded(data, config, image.load)
        animated = _frame_count(image) > 1
        first = _converted(image, upright=True, keep=animated)
        width, height = full if first.size == decoded else (full[1], full[0])
        frames = _animation(image, first, config) if animated else ()
    scale = max(1, round(full[0] / decoded[0])) if decoded[0] else 1
    return DecodedImage(first, width, height, image.format or "", frames, scale)


def _open(data: bytes, config: DecodeConfig) -> Image.Image:
    image = Image.open(io.BytesIO(data), formats=config.formats)
    _check_size(image, config)
    return image


def _guarded(data: bytes, config: DecodeConfig, step: Callable[[], T]) -> T:
    """Run a Pillow step, turning whatever it raises on bad input into a HashingError."""
    try:
        return step()
    except UnidentifiedImageError as exc:
        raise UnsupportedImageError(
            f"not an image in an accepted format ({', '.join(config.formats)}): "
            f"{describe_bytes(data)}, {len(data)} bytes starting {data[:16]!r}"
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


def _converted(image: Image.Image, *, upright: bool, keep: bool = True) -> Image.Image:
    """``image`` as RGB, turned upright when ``upright``; ``keep``: leave ``image`` as it
    is (an animation's later frames are read from it), else it may be turned in place
    (no copy of an upright picture)."""
    try:
        return to_rgb(_upright(image, keep) if upright else image)
    except Exception as exc:
        raise CorruptImageError(
            f"cannot convert {image.format or 'image'} in mode {image.mode!r} to RGB: "
            f"{type(exc).__name__}: {exc}"
        ) from exc


def _frame_count(image: Image.Image) -> int:
    return int(getattr(image, "n_frames", 1) or 1)


def _animation(
    image: Image.Image, first: Image.Image, config: DecodeConfig
) -> tuple[tuple[float, Image.Image], ...]:
    """Every frame up to ``max_frames`` with its start time. A damaged later frame ends
    the animation there: the frames before it are still hashed."""
    frames = [(0.0, first)]
    t = float(image.info.get("duration") or 0) / 1000.0
    for index in range(1, min(_frame_count(image), config.max_frames)):
        try:
            image.seek(index)
            image.load()
            frame = _converted(image, upright=False)
        except Exception:
            break
        if frame is image:  # already RGB: keep this frame, not the object seek() reuses
            frame = image.copy()
        frames.append((round(t, 3), frame))
        t += float(image.info.get("duration") or 0) / 1000.0
    return tuple(frames)


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


def _upright(image: Image.Image, keep: bool) -> Image.Image:
    try:
        if keep:
            return ImageOps.exif_transpose(image)
        ImageOps.exif_transpose(image, in_place=True)
    except Exception:  # a damaged EXIF block is no reason to refuse the pixels
        pass
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
