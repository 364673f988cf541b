"""Image hashing: PDQ conformance with Meta's reference vectors, every Pillow mode,
and hostile input (the contract every signal type shares: test_signal_types.py).

Only benign inputs: images synthesised here and the public vectors in shared/vectors.
"""

from __future__ import annotations

import csv
import hashlib
import random
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from synthetic import encoded as encode
from synthetic import synthetic_picture as synthetic_image
from vectors import PDQ_VECTORS

from hashing import (
    CorruptImageError,
    DecodeConfig,
    EmptyImageError,
    HashingConfig,
    HashingError,
    ImageHashes,
    ImageTooLargeError,
    InvalidHashError,
    UnsupportedImageError,
    hash_image,
    hash_images,
    pdq_distance,
)
from hashing.signals.pdq import DIHEDRAL_NAMES

REFERENCE_TOLERANCE = 10  # bits; decoders and resizers differ slightly from Meta's


def _reference_rows() -> list[tuple[str, str]]:
    csv_path = PDQ_VECTORS / "expected-pdq.csv"
    if not csv_path.is_file():
        raise FileNotFoundError(
            f"reference vectors missing: {csv_path} "
            "(shared/vectors must sit beside the repo)"
        )
    with csv_path.open(newline="") as handle:
        return [(row["path"], row["pdq_hex"]) for row in csv.DictReader(handle)]


REFERENCE_ROWS = _reference_rows()
MODE_IMAGES = sorted(
    p for p in (PDQ_VECTORS / "misc-images" / "modes").iterdir() if p.suffix != ".md"
)


def png_with_dimensions(width: int, height: int) -> bytes:
    """A valid 1x1 PNG whose IHDR is rewritten (with a correct CRC) to claim a size."""
    data = bytearray(encode(Image.new("L", (1, 1))))
    assert data[12:16] == b"IHDR"
    ihdr = struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:29] = ihdr
    data[29:33] = struct.pack(">I", zlib.crc32(b"IHDR" + ihdr))
    return bytes(data)


# --- PDQ conformance -----------------------------------------------------------------


def test_reference_vectors_present() -> None:
    assert len(REFERENCE_ROWS) >= 15
    assert len(MODE_IMAGES) >= 13


@pytest.mark.parametrize(
    ("path", "expected"), REFERENCE_ROWS, ids=[r[0] for r in REFERENCE_ROWS]
)
def test_pdq_matches_meta_reference(path: str, expected: str) -> None:
    hashes = hash_image((PDQ_VECTORS / path).read_bytes())
    distance = pdq_distance(hashes.pdq, expected)
    assert distance <= REFERENCE_TOLERANCE, (
        f"{path}: {hashes.pdq} vs {expected} = {distance} bits"
    )


@pytest.mark.parametrize("path", MODE_IMAGES, ids=[p.name for p in MODE_IMAGES])
def test_every_pillow_mode_hashes_like_the_original(path: Path) -> None:
    original = hash_image((path.parent / "original.jpg").read_bytes())
    hashes = hash_image(path.read_bytes())
    assert (hashes.width, hashes.height) == (original.width, original.height)
    assert pdq_distance(hashes.pdq, original.pdq) <= REFERENCE_TOLERANCE


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [
        ("1", "PNG"),
        ("L", "PNG"),
        ("LA", "PNG"),
        ("P", "PNG"),
        ("RGBA", "PNG"),
        ("CMYK", "TIFF"),
        ("YCbCr", "JPEG"),
        ("LAB", "TIFF"),
        ("I", "TIFF"),
        ("F", "TIFF"),
        ("I;16", "PNG"),
    ],
)
def test_synthetic_modes_decode_to_the_same_picture(mode: str, fmt: str) -> None:
    image = synthetic_image(1)
    if mode == "I;16":
        grey = np.asarray(image.convert("L")).astype(np.uint16) * 257
        converted = Image.fromarray(grey)
        assert converted.mode.startswith("I;16")
    else:
        converted = image.convert(mode)
    reference = hash_image(
        encode(image.convert("L") if mode in {"1", "L", "I", "F", "I;16"} else image)
    )
    hashes = hash_image(encode(converted, fmt))
    limit = 40 if mode == "1" else 12  # 1-bit dithering is a real edit
    assert pdq_distance(hashes.pdq, reference.pdq) <= limit


def test_transparency_is_composited_on_white() -> None:
    clear = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    from hashing import decode_image

    assert decode_image(encode(clear)).getpixel((10, 10)) == (255, 255, 255)


@pytest.mark.parametrize(
    ("tag", "stored"),
    [
        (3, Image.Transpose.ROTATE_180),
        (6, Image.Transpose.ROTATE_90),
        (8, Image.Transpose.ROTATE_270),
    ],
)
def test_exif_orientation_is_applied(tag: int, stored: Image.Transpose) -> None:
    upright = synthetic_image(2)
    exif = Image.Exif()
    exif[0x0112] = tag
    rotated = encode(upright.transpose(stored), "JPEG", quality=95, exif=exif.tobytes())
    reference = hash_image(encode(upright, "JPEG", quality=95))
    hashes = hash_image(rotated)
    assert (hashes.width, hashes.height) == upright.size
    assert pdq_distance(hashes.pdq, reference.pdq) <= 12


def test_exif_vectors_come_out_upright() -> None:
    folder = PDQ_VECTORS / "reg-test-input" / "exif-rotn"
    sizes = {
        n: hash_image((folder / f"exif-rotn-{n}.jpg").read_bytes()) for n in (1, 6)
    }
    assert (sizes[1].width, sizes[1].height) == (4032, 3024)
    assert (sizes[6].width, sizes[6].height) == (3024, 4032)


# --- ImageHashes ---------------------------------------------------------------------


def test_image_hashes_fields_and_records() -> None:
    data = encode(synthetic_image(3))
    hashes = hash_image(data)
    assert hashes.sha256 == hashlib.sha256(data).hexdigest()
    assert hashes.md5 == hashlib.md5(data).hexdigest()
    assert hashes.sha1 == hashlib.sha1(data).hexdigest()
    assert len(hashes.pdq) == 64 and len(hashes.phash) == 16
    assert hashes.pdq_quality >= 50
    assert (hashes.width, hashes.height) == (320, 240)
    records = hashes.records()
    assert [r.algorithm for r in records] == [
        "md5", "sha1", "sha256", "pdq", "phash",
        *(f"pdq_{name}" for name in DIHEDRAL_NAMES),
        *(f"pdq_x_{name}" for name in hashes.edited["pdq"]),
    ]  # fmt: skip
    assert hashes.pdq_untrimmed is None and hashes.frames == ()
    assert all(r.sha256 == hashes.sha256 for r in records)
    assert {r.algorithm: r.value for r in records}["pdq"] == hashes.pdq
    assert [r.quality for r in records if r.algorithm == "pdq"] == [hashes.pdq_quality]
    with pytest.raises(AttributeError):
        hashes.pdq = "0" * 64  # type: ignore[misc]


def test_different_pictures_hash_far_apart_and_same_picture_hashes_alike() -> None:
    a, b = (
        hash_image(encode(synthetic_image(4))),
        hash_image(encode(synthetic_image(5))),
    )
    again = hash_image(encode(synthetic_image(4)))
    assert again == a
    assert pdq_distance(a.pdq, b.pdq) > 64
    assert a.phash != b.phash


def test_hash_images_returns_errors_in_place() -> None:
    good = encode(synthetic_image(6))
    results = hash_images([good, b"", b"<html></html>"])
    assert isinstance(results[0], ImageHashes)
    assert isinstance(results[1], EmptyImageError)
    assert isinstance(results[2], UnsupportedImageError)


# --- hostile input -------------------------------------------------------------------


def _half_jpeg() -> bytes:
    data = encode(synthetic_image(7), "JPEG", quality=90)
    return data[: len(data) // 2]


def _broken_png() -> bytes:
    data = bytearray(encode(synthetic_image(8)))
    start = data.index(b"IDAT") + 8
    data[start : start + 200] = bytes(200)
    return bytes(data)


@pytest.mark.parametrize(
    ("data", "error", "words"),
    [
        (b"", EmptyImageError, "0 bytes"),
        (
            b"<!DOCTYPE html><html><body>not an image</body></html>",
            UnsupportedImageError,
            "not an image in an accepted format",
        ),
        (
            bytes(random.Random(9).randrange(256) for _ in range(4096)),
            UnsupportedImageError,
            "not an image in an accepted format",
        ),
        (_half_jpeg(), CorruptImageError, "truncated"),
        (_broken_png(), CorruptImageError, "corrupt"),
        (b"\x89PNG\r\n\x1a\n" + bytes(40), UnsupportedImageError, "starting"),
        (
            png_with_dimensions(100_000, 100_000),
            ImageTooLargeError,
            "decompression bomb",
        ),
        (png_with_dimensions(12_000, 10_000), ImageTooLargeError, "12000x10000"),
    ],
    ids=[
        "zero-bytes",
        "html",
        "noise",
        "truncated-jpeg",
        "corrupt-png",
        "bad-header",
        "bomb-10gp",
        "bomb-120mp",
    ],
)
def test_bad_input_raises_hashing_error(
    data: bytes, error: type[HashingError], words: str
) -> None:
    with pytest.raises(error, match=words) as caught:
        hash_image(data)
    assert isinstance(caught.value, HashingError)


def test_pixel_limit_is_configurable() -> None:
    data = encode(synthetic_image(10, (100, 100)))
    config = HashingConfig(decode=DecodeConfig(max_pixels=9_999))
    with pytest.raises(
        ImageTooLargeError, match="100x100 = 10,000 pixels, over the limit of 9,999"
    ):
        hash_image(data, config)
    assert (
        hash_image(data, HashingConfig(decode=DecodeConfig(max_pixels=10_000))).width
        == 100
    )


# --- distances (the signal-type contract: test_signal_types.py) ----------------------


def test_pdq_distance() -> None:
    zero, ones = "0" * 64, "f" * 64
    assert pdq_distance(zero, ones) == 256
    assert pdq_distance(zero, "0" * 63 + "3") == 2
    assert pdq_distance(" " + ones.upper(), ones) == 0
    with pytest.raises(InvalidHashError, match="'xyz'"):
        pdq_distance("xyz", zero)


def test_only_allowed_formats_are_decoded() -> None:
    eps = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"
    with pytest.raises(UnsupportedImageError, match="accepted format"):
        hash_image(eps)
    bmp = encode(synthetic_image(12), "BMP")
    assert hash_image(bmp).width == 320
    png_only = HashingConfig(decode=DecodeConfig(formats=("PNG",)))
    with pytest.raises(UnsupportedImageError, match=r"\(PNG\)"):
        hash_image(bmp, png_only)
