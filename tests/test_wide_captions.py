"""The wide caption repair: a copy with a text plate over a third of it (touching the
picture's own dark parts on one) matches its original's full-size PDQ once the plate is
filled in from the rows above it (and says so); without the repair it does not.

Only benign inputs: scikit-image sample photos.
"""

from __future__ import annotations

import numpy as np
import pytest
from rehost_edits import edit
from test_repair_variants import hash_only_matcher, picture

from hashing import HashingConfig, Matcher, hash_image
from hashing.decode import DecodeConfig, decode
from hashing.signals.base import luma
from hashing.signals.pdq.repairs import block_mean, caption_box
from hashing.signals.pdq.wide_captions import wide_caption_box

ORIGINALS = ("camera", "immunohistochemistry")


@pytest.fixture(scope="module")
def matcher(tmp_path_factory: pytest.TempPathFactory) -> Matcher:
    return hash_only_matcher(tmp_path_factory.mktemp("wide-captions"), ORIGINALS)


@pytest.mark.parametrize("name", ORIGINALS)
def test_a_copy_under_a_wide_caption_plate_matches_with_the_plate_filled_in(matcher: Matcher, name: str) -> None:
    copy = edit("large-text").apply(picture(name))[0]
    assert matcher.match([hash_image(copy, HashingConfig(repair_variants=False))]) == []
    found = matcher.match([hash_image(copy)])
    assert [(m.known_id, m.variant) for m in found] == [(name, "x_unplated")]
    assert found[0].distance <= 31


def test_the_plate_is_found_where_the_connected_region_grows_into_the_picture() -> None:
    """The large-text edit's plate spans 90% of the width and 30% of the height, from
    2.5% above the bottom: its rows are found within three averaged pixels, its sides within
    8 (the photo's dark coat runs into it on the left)."""
    data = edit("large-text").apply(picture("camera"))[0]
    small, _ = block_mean(luma(np.asarray(decode(data, DecodeConfig()).image.convert("RGB"))))
    assert caption_box(small) is None
    height, width = small.shape
    left, top, right, bottom = wide_caption_box(small) or (0, 0, 0, 0)
    expected = (width * 0.05, height * (1 - 0.025 - 0.3), width * 0.95, height * (1 - 0.025))
    off = [abs(a - b) for a, b in zip((left, top, right, bottom), expected, strict=True)]
    assert off[1] <= 3 and off[3] <= 3 and max(off) <= 8, off
