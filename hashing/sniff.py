"""What a file is, judged from its first bytes, never from its name or Content-Type.

Used to send each item to the right hasher (image or video) and to say clearly what a
file really holds when it is not what its name or header claimed.
"""

from __future__ import annotations

_SIGNATURES: tuple[tuple[int, bytes, str, str], ...] = (
    # (offset, magic, description, kind)
    (0, b"\xff\xd8\xff", "a JPEG image", "image"),
    (0, b"\x89PNG\r\n\x1a\n", "a PNG image", "image"),
    (0, b"GIF87a", "a GIF image", "image"),
    (0, b"GIF89a", "a GIF image", "image"),
    (0, b"BM", "a BMP image", "image"),
    (0, b"II*\x00", "a TIFF image", "image"),
    (0, b"MM\x00*", "a TIFF image", "image"),
    (0, b"\x00\x00\x01\x00", "an ICO image", "image"),
    (0, b"\x00\x00\x00\x0cjP  ", "a JPEG 2000 image", "image"),
    (0, b"\xff\x4f\xff\x51", "a JPEG 2000 image", "image"),
    (0, b"\x1a\x45\xdf\xa3", "a Matroska/WebM video", "video"),
    (0, b"FLV\x01", "an FLV video", "video"),
    (0, b"\x00\x00\x01\xba", "an MPEG program stream video", "video"),
    (0, b"OggS", "an Ogg stream", "video"),
    (0, b"ID3", "an MP3 audio file", "audio"),
    (0, b"fLaC", "a FLAC audio file", "audio"),
    (0, b"%PDF", "a PDF document", "other"),
    (0, b"PK\x03\x04", "a ZIP archive", "other"),
    (0, b"\x1f\x8b", "a gzip archive", "other"),
)
_AVIF_BRANDS = (b"avif", b"avis", b"heic", b"heix", b"mif1")
_AUDIO_BRANDS = (b"M4A ", b"M4B ")


def sniff(data: bytes) -> tuple[str, str]:
    """``(description, kind)`` of ``data``; kind is ``image``, ``video``, ``audio``,
    ``empty``, ``text`` or ``other``."""
    if not data:
        return "an empty file", "empty"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "a WebP image", "image"
    if data[:4] == b"RIFF" and data[8:12] == b"AVI ":
        return "an AVI video", "video"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "a WAV audio file", "audio"
    if data[4:8] == b"ftyp":
        brand = data[8:12]
        if brand in _AVIF_BRANDS:
            return "an AVIF/HEIF image", "image"
        if brand in _AUDIO_BRANDS:
            return "an MPEG-4 audio file", "audio"
        return "an MP4/QuickTime video", "video"
    if len(data) >= 188 * 2 and data[0] == 0x47 and data[188] == 0x47:
        return "an MPEG transport stream video", "video"
    for offset, magic, description, kind in _SIGNATURES:
        if data[offset : offset + len(magic)] == magic:
            return description, kind
    head = data[:512].lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html", b"<head", b"<body")):
        return "an HTML document", "text"
    if head.startswith((b"<?xml", b"<svg")):
        return "an XML/SVG document", "text"
    if head.startswith((b"{", b"[")):
        return "JSON or other text", "text"
    if _is_text(data[:512]):
        return "plain text", "text"
    return "unrecognised binary data", "other"


def describe_bytes(data: bytes) -> str:
    """A short description such as "an HTML document" or "a PNG image"."""
    return sniff(data)[0]


def media_kind(data: bytes) -> str:
    """``image`` or ``video`` when the bytes look like one, else the sniffed kind."""
    return sniff(data)[1]


def _is_text(head: bytes) -> bool:
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return all(c.isprintable() or c in "\r\n\t" for c in text)
