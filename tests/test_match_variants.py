"""Matching re-hosted copies against a set that holds only full-size PDQ hashes (as
INTERPOL and Project VIC send them): turned and mirrored copies match by the variant
computed from the transformed pixels, every match names that variant, and a look-alike
does not match.

Only benign inputs: scikit-image sample photos and pictures synthesised here.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pdqhash
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image, ImageDraw, ImageOps
from rehost_edits import natural_photos

from catalog.decisions.records import Verdict
from catalog.known_sets.matches import match_from_row
from hashing import KnownSet, Matcher, hash_image, import_known_set, pdq_distance
from hashing.signals.base import luma
from hashing.signals.pdq.packing import bits_to_hex
from hashing.signals.pdq.reduced import ReducedPicture


def full_size_pdq(image: Image.Image) -> str:
    """The PDQ a hash list's sender computes: the reference on the full-size pixels."""
    return bits_to_hex(pdqhash.compute(np.ascontiguousarray(np.asarray(image.convert("RGB"))))[0])


def jpeg(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def photo(name: str) -> Image.Image:
    return dict(natural_photos())[name]


def on_flat_background(seed: int) -> Image.Image:
    """Shapes on a plain white background wide enough to be trimmed like a border."""
    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (640, 480), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = int(rng.integers(160, 420)), int(rng.integers(120, 300))
        colour = tuple(int(c) for c in rng.integers(0, 200, 3))
        draw.ellipse((x, y, x + int(rng.integers(30, 90)), y + int(rng.integers(30, 90))), fill=colour)
    return image


@pytest.fixture
def known(tmp_path: Path) -> tuple[Matcher, dict[str, Image.Image]]:
    originals = {"brick": photo("brick"), "grass": photo("grass"), "flat": on_flat_background(1)}
    source = tmp_path / "list.parquet"
    pq.write_table(pa.table({"pdq": [full_size_pdq(image) for image in originals.values()],
                             "id": list(originals)}), source)
    imported = import_known_set(source, tmp_path / "sets", "hash-only")
    known_set = KnownSet("hash-only", imported.path, Verdict.NATIONAL, content_sha256=imported.content_sha256)
    return Matcher([known_set]), originals


@pytest.mark.parametrize("original", ["brick", "grass", "flat"])
@pytest.mark.parametrize("turn", ["rot90", "mirror"])
def test_turned_and_mirrored_copies_match_their_full_size_hash(
    known: tuple[Matcher, dict[str, Image.Image]], original: str, turn: str
) -> None:
    """A finely textured photo (the box filter's asymmetry moved the buffer-rotated
    variants 40 bits or more from the turned pixels' PDQ) and a picture whose flat
    background is trimmed (only the trimmed picture was turned; the untrimmed one is
    what the list holds)."""
    matcher, originals = known
    image = originals[original]
    copy = image.transpose(Image.Transpose.ROTATE_90) if turn == "rot90" else ImageOps.mirror(image)
    found = matcher.match([hash_image(jpeg(copy))])
    assert [m.known_id for m in found] == [original]
    match = found[0]
    assert match.distance <= 31
    expected = {"rot90": "rotate270", "mirror": "flipy"}[turn]
    assert match.variant in (expected, f"untrimmed_{expected}")
    assert match.variant.startswith("untrimmed_") == (original == "flat")


def test_every_match_says_which_variant_matched_at_what_distance_and_quality(
    known: tuple[Matcher, dict[str, Image.Image]],
) -> None:
    matcher, originals = known
    found = matcher.match([hash_image(jpeg(ImageOps.mirror(originals["grass"])))])
    evidence = found[0].provenance()["match"]
    assert evidence == {"type": "pdq", "distance": found[0].distance, "quality": 100, "variant": "flipy"}
    row = {"sha256": found[0].sha256, "set_name": "hash-only", "match_type": "pdq", "distance": found[0].distance,
           "verdict": "national", "known_id": "grass", "category": None, "provenance": found[0].provenance()}
    assert match_from_row(row).variant == "flipy"  # kept with the verdict's provenance


def test_a_look_alike_does_not_match(known: tuple[Matcher, dict[str, Image.Image]]) -> None:
    """Another arrangement on the same plain background, and another part of the same
    brick wall: alike to the eye, not copies."""
    matcher, originals = known
    brick = originals["brick"]
    width, height = brick.size
    other_wall = brick.crop((width // 4, height // 4, width, height)).resize((width, height))
    for look_alike in (on_flat_background(2), other_wall):
        assert matcher.match([hash_image(jpeg(look_alike))]) == []


def test_a_draft_decoded_photo_hashes_as_the_full_size_reference() -> None:
    """A 1024x768 JPEG is decoded at half size; its PDQ stays within 4 bits of the
    reference's on the full-size pixels (pdqhash on the reduced picture was 14 off)."""
    distances = []
    for name in ("astronaut", "coffee", "chelsea", "grass", "brick", "motorcycle"):
        data = jpeg(photo(name).resize((1024, 768), Image.Resampling.LANCZOS))
        reference = full_size_pdq(Image.open(io.BytesIO(data)))
        distances.append(pdq_distance(hash_image(data).pdq, reference))
    assert max(distances) <= 4, distances


def test_the_reduction_is_the_reference_at_full_size() -> None:
    """At scale 1 the matrix form of PDQ's filter gives the reference's hash bit for bit,
    and each dihedral variant is the reference's hash of the transformed pixels."""
    pixels = np.asarray(photo("chelsea"))
    turned = ReducedPicture(luma(pixels)).dihedral()
    assert turned["original"][0] == full_size_pdq(Image.fromarray(pixels))
    assert turned["rotate90"][0] == full_size_pdq(Image.fromarray(np.rot90(pixels)))
    assert turned["flipy"][0] == full_size_pdq(Image.fromarray(pixels[:, ::-1]))
