"""The crop variants: a copy with a few percent, or a sixth, cut off its sides matches a
set that holds only the original's full-size PDQ, by the variant that put it back into
the original's frame (and says so); neighbouring parts of the same photo, which overlap
a known one by under half, do not match.

Only benign inputs: scikit-image sample photos and pictures synthesised here.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from rehost_edits import edit
from test_match_variants import full_size_pdq, jpeg
from test_repair_variants import picture

from catalog.decisions.records import Verdict
from hashing import HashingConfig, KnownSet, Matcher, hash_image, import_known_set
from hashing.signals.pdq.reduced import BUFFER, _box, _twice_boxed
from hashing.signals.pdq.uncrop import LARGE, SMALL

ORIGINALS = ("motorcycle", "logo", "camera", "synthetic-0", "synthetic-3")
CROPS = HashingConfig(crop_variants=True)


def tile(name: str) -> Image.Image:
    """The top-left 60% x 60% of a photo: the known picture the neighbouring tiles resemble."""
    image = picture(name)
    return image.crop((0, 0, round(image.width * 0.6), round(image.height * 0.6)))


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    tmp = tmp_path_factory.mktemp("uncrop")
    source = tmp / "list.parquet"
    known = [(name, picture(name)) for name in ORIGINALS] + [(f"tile-{n}", tile(n)) for n in ("astronaut", "coffee")]
    pq.write_table(pa.table({"pdq": [full_size_pdq(image) for _, image in known],
                             "id": [name for name, _ in known]}), source)
    imported = import_known_set(source, tmp / "sets", "hash-only")
    return Matcher([KnownSet("hash-only", imported.path, Verdict.NATIONAL, content_sha256=imported.content_sha256)])


@pytest.mark.parametrize("name", ["motorcycle", "logo", "synthetic-3"])
def test_a_copy_cropped_by_five_percent_matches_by_the_crop_undone(matcher: Matcher, name: str) -> None:
    """5% of each dimension cut off, two thirds of it on one side: 32 bits or more from
    its original as it is and with each side guessed in 2.5% steps."""
    copy = edit("crop-5").apply(picture(name))[0]
    assert matcher.match([hash_image(copy)]) == []  # without crop variants
    found = matcher.match([hash_image(copy, CROPS)])
    assert [m.known_id for m in found] == [name]
    assert found[0].variant.startswith("x_cs_") and found[0].distance <= 31


@pytest.mark.parametrize("name", ["camera", "synthetic-0"])
def test_a_copy_cropped_by_fifteen_percent_matches_when_its_edges_carry_little(matcher: Matcher, name: str) -> None:
    copy = edit("crop-15").apply(picture(name))[0]
    found = matcher.match([hash_image(copy, CROPS)])
    assert [m.known_id for m in found] == [name]
    assert found[0].variant.startswith("x_cl_")


@pytest.mark.parametrize("name", ["astronaut", "coffee"])
def test_neighbouring_tiles_of_a_known_tile_do_not_match(matcher: Matcher, name: str) -> None:
    """Tiles 32% and 40% of the photo to the right and below a known tile (under half of
    it shared) are other pictures, however alike."""
    image = picture(name)
    width, height = image.width, image.height
    size = (round(width * 0.6), round(height * 0.6))
    assert [m.known_id for m in matcher.match([hash_image(jpeg(tile(name)), CROPS)])] == [f"tile-{name}"]
    for shift in (0.32, 0.40):
        for x, y in ((round(width * shift), 0), (0, round(height * shift))):
            neighbour = image.crop((x, y, x + size[0], y + size[1]))
            assert matcher.match([hash_image(jpeg(neighbour), CROPS)]) == [], (shift, x, y)


def test_every_guess_is_a_distinct_variant() -> None:
    copy = edit("crop-5").apply(picture("synthetic-0"))[0]
    edited = hash_image(copy, CROPS).edited["pdq"]
    guesses = [name for name in edited if name.startswith(("cs_", "cl_"))]
    assert len(guesses) == len(SMALL) ** 2 - 1 + len(LARGE) ** 2 == len(set(guesses))


@pytest.mark.parametrize("full", [1, 7, 100, 128, 129, 257, 640, 1000, 1341])
def test_the_twice_boxed_rows_are_the_dense_product(full: int) -> None:
    window = (full + 2 * BUFFER - 1) // (2 * BUFFER)
    samples = np.array([int(((i + 0.5) * full) / BUFFER) for i in range(BUFFER)])
    box = _box(full, window)
    columns, values = _twice_boxed(full, window, samples)
    banded = np.zeros((BUFFER, full))
    np.add.at(banded, (np.arange(BUFFER)[:, None].repeat(columns.shape[1], 1), columns), values)
    assert np.allclose(banded, box[samples] @ box, rtol=0, atol=1e-12)
