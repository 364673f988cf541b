"""The repair variants: a copy turned by a few degrees, a copy with a caption box laid
over it and a copy in a frame JPEG's chroma smeared into match a set that holds only the
original's full-size PDQ, each by the variant that undid the edit; unrelated pictures
repaired the same way do not match.

Only benign inputs: scikit-image sample photos and pictures synthesised here.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from rehost_edits import edit, natural_photos
from synthetic import synthetic_picture
from test_match_variants import full_size_pdq, jpeg

from catalog.decisions.records import Verdict
from hashing import HashingConfig, KnownSet, Matcher, hash_image, import_known_set
from hashing.borders import content_box
from hashing.decode import DecodeConfig, decode
from hashing.signals.base import luma
from hashing.signals.pdq.repairs import block_mean, caption_box, turned_ways

ORIGINALS = ("coffee", "chelsea", "motorcycle", "synthetic-3", "synthetic-4", "immunohistochemistry")


def picture(name: str) -> Image.Image:
    if name.startswith("synthetic-"):
        return synthetic_picture(10_000 + int(name.split("-")[1]), (640, 480))
    return dict(natural_photos())[name]


def hash_only_matcher(tmp: Path, names: Sequence[str]) -> Matcher:
    """A matcher of one set holding only the full-size PDQ of each picture ``names``, as a
    hash-only list is sent."""
    source = tmp / "list.parquet"
    pq.write_table(pa.table({"pdq": [full_size_pdq(picture(name)) for name in names], "id": list(names)}), source)
    imported = import_known_set(source, tmp / "sets", "hash-only")
    return Matcher([KnownSet("hash-only", imported.path, Verdict.NATIONAL, content_sha256=imported.content_sha256)])


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return hash_only_matcher(tmp_path_factory.mktemp("repairs"), ORIGINALS)


def turned(image: Image.Image, degrees: float, fill: tuple[int, int, int], quality: int = 92) -> bytes:
    turned = image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=fill)
    buffer = io.BytesIO()
    turned.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


@pytest.mark.parametrize(("name", "degrees", "fill"), [
    ("coffee", 3, (0, 0, 0)), ("chelsea", -3, (255, 255, 255)), ("motorcycle", 2.5, (0, 0, 0)),
])
def test_a_slightly_turned_copy_matches_by_the_turn_undone(
    matcher: Matcher, name: str, degrees: float, fill: tuple[int, int, int]
) -> None:
    """The corners the turn cut off are filled in whatever colour the copy gave them."""
    copy = turned(picture(name), degrees, fill)
    assert matcher.match([hash_image(copy, HashingConfig(repair_variants=False))]) == []
    found = matcher.match([hash_image(copy)])
    assert [m.known_id for m in found] == [name]
    assert found[0].variant in ({"x_rot_p2", "x_rot_p3", "x_rot_p4"} if degrees > 0 else {"x_rot_m2", "x_rot_m3", "x_rot_m4"})


def test_a_copy_turned_both_ways_at_low_quality_in_any_fill_matches() -> None:
    """The turns are undone only where a turn's signature is seen (corner slivers of one
    flat colour): it is seen through JPEG at quality 30 in a grey or coloured fill."""
    original = picture("chelsea")
    for degrees, fill in ((2, (128, 128, 128)), (-4, (200, 30, 90)), (3.5, (255, 255, 255))):
        copy = decode(turned(original, degrees, fill, quality=30), DecodeConfig())
        assert turned_ways(luma(np.asarray(copy.image))) in ((1 if degrees > 0 else -1,), (1, -1)), (degrees, fill)


@pytest.mark.parametrize("name", ["astronaut", "coffee", "motorcycle", "synthetic-20"])
def test_a_picture_without_a_turns_signature_gets_no_turn_undone(name: str) -> None:
    """Its edges hold the picture, not a flat fill: no turn is undone, none stored."""
    hashes = hash_image(jpeg(picture(name)))
    assert not [variant for variant in hashes.edited.get("pdq", {}) if variant.startswith("rot_")]
    turned_copy = hash_image(turned(picture(name), -3, (0, 0, 0)))
    assert {"rot_m2", "rot_m3", "rot_m4"} <= set(turned_copy.edited["pdq"])


@pytest.mark.parametrize("name", ["immunohistochemistry", "synthetic-4"])
def test_a_copy_with_a_caption_box_matches_with_the_box_filled_in(matcher: Matcher, name: str) -> None:
    copy, _ = edit("small-text").apply(picture(name))
    assert matcher.match([hash_image(copy, HashingConfig(repair_variants=False))]) == []
    found = matcher.match([hash_image(copy)])
    assert [m.known_id for m in found] == [name]
    assert found[0].variant in ("x_uncaptioned", "x_unplated")  # the nearer of the two fills


def test_a_frame_smeared_by_chroma_subsampling_is_trimmed_whole(matcher: Matcher) -> None:
    """Saturated shapes at the picture's edge smear colour into the frame's inner lines
    (4:2:0 JPEG); the frame is still found to its inner edge and the copy matches."""
    copy, _ = edit("border-5").apply(picture("synthetic-3"))
    decoded = decode(copy, DecodeConfig())
    assert content_box(np.asarray(decoded.image)) == (12, 12, 332, 252)  # 24 of 688x528 at half size
    found = matcher.match([hash_image(copy)])
    assert [(m.known_id, m.variant) for m in found] == [("synthetic-3", "original")]


@pytest.mark.parametrize("name", ["astronaut", "camera", "gravel", "page", "synthetic-20"])
def test_unrelated_pictures_do_not_match_once_repaired(matcher: Matcher, name: str) -> None:
    """Other pictures, as they are, turned and captioned: every repair variant is looked
    up and none comes near a known original."""
    image = picture(name)
    for copy in (jpeg(image), turned(image, 3, (0, 0, 0)), edit("small-text").apply(image)[0]):
        assert matcher.match([hash_image(copy)]) == []


def test_a_plain_photo_has_no_caption_box() -> None:
    for name in ("astronaut", "coffee", "camera", "page", "text"):
        small, _ = block_mean(luma(np.asarray(picture(name))))
        assert caption_box(small) is None, name
