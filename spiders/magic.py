"""Is this media? Decided by the file's first bytes (magic numbers), never by its name
or its Content-Type header, which a site can set to anything."""

from __future__ import annotations

from dataclasses import dataclass

# DIB header sizes a real BMP carries at offset 14 (guards "BM" against text like "BMW ...").
_BMP_DIB_SIZES = frozenset({12, 16, 40, 52, 56, 64, 108, 124})

# ISO base media ("ftyp") brands that are still images rather than video.
_IMAGE_BRANDS = {
    b"avif": "image/avif",
    b"avis": "image/avif",
    b"heic": "image/heic",
    b"heix": "image/heic",
    b"heim": "image/heic",
    b"heis": "image/heic",
    b"mif1": "image/heif",
    b"msf1": "image/heif",
}


@dataclass(frozen=True)
class MediaType:
    """What the magic bytes say: a MIME type and ``image`` or ``video``."""

    mime: str
    kind: str  # image | video


def _image(mime: str) -> MediaType:
    return MediaType(mime, "image")


def _video(mime: str) -> MediaType:
    return MediaType(mime, "video")


def _ftyp(data: bytes) -> MediaType:
    brand = data[8:12]
    if brand in _IMAGE_BRANDS:
        return _image(_IMAGE_BRANDS[brand])
    if brand == b"qt  ":
        return _video("video/quicktime")
    if brand.startswith(b"3g"):
        return _video("video/3gpp")
    return _video("video/mp4")


def sniff(data: bytes) -> MediaType | None:
    """The media type of ``data`` by its magic bytes, or None if it is not media we collect."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return _image("image/jpeg")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return _image("image/png")
    if head.startswith((b"GIF87a", b"GIF89a")):
        return _image("image/gif")
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return _image("image/webp")
    if head.startswith(b"RIFF") and head[8:12] == b"AVI ":
        return _video("video/x-msvideo")
    if head.startswith((b"II*\x00", b"MM\x00*")):
        return _image("image/tiff")
    dib_size = int.from_bytes(head[14:18], "little")
    if head.startswith(b"BM") and len(head) >= 18 and dib_size in _BMP_DIB_SIZES:
        return _image("image/bmp")
    if head.startswith(b"\x00\x00\x01\x00") and head[4:6] != b"\x00\x00" and head[9:10] == b"\x00":
        return _image("image/x-icon")  # ICO: type 1, at least one image, reserved byte 0
    if head[4:8] == b"ftyp":
        return _ftyp(head)
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return _video("video/webm" if b"webm" in head else "video/x-matroska")
    return None
