"""Errors raised by ``hashing``.

Every error this package raises on bad input is a ``HashingError``; callers that hash
untrusted bytes catch that one class and never see a raw Pillow, PyArrow or DuckDB
exception::

    HashingError
    ├── ImageDecodeError          the bytes are not a usable image
    │   ├── EmptyImageError       zero bytes
    │   ├── UnsupportedImageError not an image format Pillow knows (HTML, text, ...)
    │   └── CorruptImageError     an image format, but truncated or damaged
    ├── VideoDecodeError          the bytes are not a usable video
    │   ├── EmptyVideoError       zero bytes
    │   ├── NoVideoStreamError    a container without a video stream (audio only)
    │   └── CorruptVideoError     not a container FFmpeg can read, or no frame decodes
    ├── ImageTooLargeError        declared dimensions over the decompression-bomb limit
    ├── InvalidHashError          a hash string is not valid for its signal type
    └── KnownSetError             a known-hash set cannot be imported or read

Messages name the offending value with ``!r``.
"""

from __future__ import annotations


class HashingError(Exception):
    """Root of every error raised by ``hashing``."""


class ImageDecodeError(HashingError):
    """The bytes could not be decoded into an image."""


class EmptyImageError(ImageDecodeError):
    """Zero bytes were given."""


class UnsupportedImageError(ImageDecodeError):
    """The bytes are not in any image format Pillow can identify."""


class CorruptImageError(ImageDecodeError):
    """The bytes start like an image but are truncated or damaged."""


class VideoDecodeError(HashingError):
    """The bytes could not be decoded into video frames."""


class EmptyVideoError(VideoDecodeError):
    """Zero bytes were given."""


class NoVideoStreamError(VideoDecodeError):
    """The container holds no video stream (audio only, or subtitles)."""


class CorruptVideoError(VideoDecodeError):
    """The bytes are not a readable container, or no frame could be decoded."""


class ImageTooLargeError(HashingError):
    """The image declares more pixels than the configured limit (decompression bomb)."""


class InvalidHashError(HashingError, ValueError):
    """A hash string is not valid for its signal type."""


class KnownSetError(HashingError):
    """A known-hash set file is malformed, or cannot be read or written."""
