"""Image hashing that holds up: PDQ's dihedral variants, EXIF rotation, uniform borders,
animations, JPEG draft decoding, and files that are not what they claim.

Only benign inputs: pictures synthesised here and the public vectors in shared/vectors.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from PIL import Image, ImageOps
from synthetic import encoded, synthetic_picture
from vectors import PDQ_VECTORS

from hashing import (
    EmptyImageError,
    ImageHashes,
    UnsupportedImageError,
    hash_image,
    hash_media,
    pdq_distance,
)
from hashing.borders import VIDEO_BARS, content_box
from hashing.decode import DecodeConfig, decode
from hashing.sniff import describe_bytes, media_kind


def best_distance(a: ImageHashes, b: ImageHashes) -> int:
    """The distance the matcher sees: ``a`` against every dihedral variant of ``b``."""
    return min(pdq_distance(a.pdq, v) for v in (b.pdq, *b.dihedral))


def bordered(image: Image.Image, share: float, colour: tuple[int, int, int]) -> Image.Image:
    width, height = image.size
    pad = int(round(max(width, height) * share))
    return ImageOps.expand(image, border=pad, fill=colour)


# --- conformance on the reference vectors --------------------------------------------


def test_the_eight_dihedral_images_all_match_each_other() -> None:
    folder = PDQ_VECTORS / "reg-test-input" / "dih"
    hashes = {p.name: hash_image(p.read_bytes()) for p in sorted(folder.glob("*.jpg"))}
    assert len(hashes) == 8
    for (a, ha), (b, hb) in itertools.permutations(hashes.items(), 2):
        assert best_distance(ha, hb) <= 31, (a, b)
    plain = [pdq_distance(ha.pdq, hb.pdq) for ha, hb in itertools.combinations(hashes.values(), 2)]
    assert max(plain) > 31  # without the variants, turned copies would be missed
    original = hashes["bridge-1-original.jpg"]
    for n, name in enumerate(sorted(hashes)[1:]):  # variants come in the files' order
        assert pdq_distance(hashes[name].pdq, original.dihedral[n]) <= 31, name  # others: ~120


def test_the_four_exif_rotations_come_out_upright() -> None:
    """Four separate shots of one desk, stored with orientation tags 1, 3, 6 and 8. They
    are different photographs (PDQ 100+ bits apart however turned), so what is checked is
    that each comes out upright: its coarse picture agrees with the tag-1 shot's as it
    is, and not once turned."""
    folder = PDQ_VECTORS / "reg-test-input" / "exif-rotn"
    upright = [decode(p.read_bytes()).image for p in sorted(folder.glob("*.jpg"))]
    assert len(upright) == 4

    def coarse(image: Image.Image) -> np.ndarray:
        pixels = np.asarray(image.convert("L").resize((16, 16), Image.Resampling.BOX), float)
        pixels -= pixels.mean()
        return pixels / np.linalg.norm(pixels)

    reference = coarse(upright[0])
    for image in upright[1:]:
        agreement = {turn: float((coarse(image.rotate(turn, expand=True)) * reference).sum())
                     for turn in (0, 90, 180, 270)}
        assert max(agreement, key=agreement.__getitem__) == 0, agreement


def test_draft_decoding_reduces_pixels_but_not_the_declared_size() -> None:
    data = (PDQ_VECTORS / "reg-test-input" / "exif-rotn" / "exif-rotn-6.jpg").read_bytes()
    fast = decode(data)
    assert (fast.width, fast.height) == (3024, 4032)
    assert max(fast.image.size) <= 1008  # decoded at 1/4 or 1/8 of 4032
    full = decode(data, DecodeConfig(draft_size=None))
    assert full.image.size == (3024, 4032)
    assert pdq_distance(hash_image(data).pdq, hash_image(data).pdq) == 0


# --- borders -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("share", "colour", "fmt"),
    [(0.05, (255, 255, 255), "JPEG"), (0.10, (0, 0, 0), "JPEG"), (0.03, (200, 30, 60), "PNG")],
)
def test_a_uniform_border_is_trimmed_and_the_whole_picture_kept(
    share: float, colour: tuple[int, int, int], fmt: str
) -> None:
    picture = synthetic_picture(21)
    original = hash_image(encoded(picture))
    framed = hash_image(encoded(bordered(picture, share, colour), fmt))
    assert original.pdq_untrimmed is None
    assert framed.pdq_untrimmed is not None
    assert pdq_distance(framed.pdq, original.pdq) <= 12
    assert pdq_distance(framed.pdq_untrimmed, original.pdq) > 31  # why trimming matters


def test_a_letterbox_on_one_side_only_is_trimmed() -> None:
    picture = np.asarray(synthetic_picture(22))
    boxed = np.concatenate([picture, np.full((40, picture.shape[1], 3), 255, np.uint8)])
    assert content_box(boxed) == (0, 0, picture.shape[1], picture.shape[0])


def test_gradients_and_flat_images_are_not_trimmed() -> None:
    ramp = np.tile(np.linspace(0, 255, 320, dtype=np.uint8), (240, 1))
    assert content_box(np.stack([ramp] * 3, axis=-1)) is None
    assert content_box(np.full((100, 100, 3), 255, np.uint8)) is None
    assert hash_image(encoded(Image.new("RGB", (64, 64), "white"))).pdq_untrimmed is None


def test_video_bars_must_be_dark() -> None:
    picture = np.asarray(synthetic_picture(23))
    white_bars = np.pad(picture, ((30, 30), (0, 0), (0, 0)), constant_values=255)
    black_bars = np.pad(picture, ((30, 30), (0, 0), (0, 0)), constant_values=12)
    assert content_box(white_bars, VIDEO_BARS) is None
    assert content_box(black_bars, VIDEO_BARS) == (0, 30, picture.shape[1], 30 + picture.shape[0])


# --- animations ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["GIF", "WEBP"])
def test_animations_are_hashed_per_frame_and_by_first_frame(fmt: str) -> None:
    frames = [synthetic_picture(seed) for seed in (31, 32, 33)]
    data = encoded(frames[0], fmt, save_all=True, append_images=frames[1:], duration=[200, 300, 400], loop=0)
    hashes = hash_image(data)
    assert [f.t for f in hashes.frames] == [0.0, 0.2, 0.5]
    assert hashes.frames[0].pdq == hashes.pdq
    stills = [hash_image(encoded(f, fmt)) for f in frames]
    for frame, still in zip(hashes.frames, stills, strict=True):
        assert pdq_distance(frame.pdq, still.pdq) <= 31
    assert pdq_distance(hashes.frames[1].pdq, hashes.frames[2].pdq) > 31
    assert set(hashes.lookups("pdq")) >= {f.pdq for f in hashes.frames}
    assert [r.index for r in hashes.frame_records()] == [0, 1, 2]


def test_frame_limit_applies() -> None:
    frames = [synthetic_picture(seed) for seed in range(40, 46)]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100)
    assert len(decode(data, DecodeConfig(max_frames=4)).frames) == 4
    assert decode(encoded(frames[0], "GIF")).frames == ()


# --- what the bytes really are -------------------------------------------------------


def test_bytes_decide_not_the_name() -> None:
    png = encoded(synthetic_picture(50))
    assert hash_media(png, claimed="photo.jpg").sha256 == hash_image(png).sha256
    html = b"<!DOCTYPE html><html><body>moved</body></html>"
    with pytest.raises(UnsupportedImageError, match="given as 'photo.jpg'.*an HTML document"):
        hash_media(html, claimed="photo.jpg")
    with pytest.raises(EmptyImageError):
        hash_media(b"", claimed="image/png")
    assert describe_bytes(png) == "a PNG image" and media_kind(png) == "image"
    assert media_kind(b"\x00\x00\x00\x18ftypisom" + bytes(16)) == "video"
    assert media_kind(b"RIFF\x00\x00\x00\x00WEBPVP8 ") == "image"
    assert describe_bytes(b"%PDF-1.7") == "a PDF document"
