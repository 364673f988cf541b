"""Frames that are not one flat colour (gradient, grainy, the picture's own blurred
fill, a mat inside a frame) are trimmed before perceptual hashing, and unframed
pictures, horizons and dark skies included, are not.

Only benign inputs: pictures synthesised here and scikit-image's sample photos.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageFilter
from rehost_edits import edit, natural_photos
from synthetic import encoded, synthetic_picture

from hashing import HashingConfig, hash_image, pdq_distance
from hashing.borders import IMAGE_BORDERS
from hashing.decode import decode
from hashing.framing import FRAMES, frame_box, picture_box

UNFRAMED = HashingConfig(framing=None)


def _photo(name: str) -> Image.Image:
    return dict(natural_photos())[name]


@pytest.mark.parametrize("kind", ["frame-gradient", "frame-texture", "frame-blur", "frame-matted"])
def test_a_framed_copy_hashes_as_its_original_and_keeps_the_whole(kind: str) -> None:
    photo = _photo("chelsea")
    original = hash_image(encoded(photo))
    data, _ = edit(kind).apply(photo)
    framed = hash_image(data)
    assert pdq_distance(framed.pdq, original.pdq) <= 31
    assert framed.pdq_untrimmed is not None
    assert pdq_distance(framed.pdq_untrimmed, original.pdq) > 31  # why the frame must go
    assert pdq_distance(hash_image(data, UNFRAMED).pdq, original.pdq) > 31


def _gradient_framed(picture: Image.Image, pad: int) -> Image.Image:
    width, height = picture.size
    ys, xs = np.mgrid[0 : height + 2 * pad, 0 : width + 2 * pad]
    share = ((xs / (width + 2 * pad) + ys / (height + 2 * pad)) / 2)[..., None]
    fill = np.array([30, 90, 160]) * (1 - share) + np.array([240, 200, 120]) * share
    canvas = Image.fromarray(fill.astype(np.uint8))
    canvas.paste(picture, (pad, pad))
    return canvas


def test_the_box_of_a_synthetic_picture_in_a_gradient_is_found_to_the_pixel() -> None:
    picture = synthetic_picture(31, (320, 240))
    framed = decode(encoded(_gradient_framed(picture, 20), "JPEG", quality=90)).image
    box = frame_box(framed)
    assert box is not None
    assert np.abs(np.subtract(box, (20, 20, 340, 260))).max() <= 1


def test_a_blurred_fill_above_and_below_is_found() -> None:
    photo = _photo("coins")  # 384 x 303: a fill of 88 decoded rows above and below
    data, _ = edit("frame-blur").apply(photo)
    image = decode(data).image
    box = picture_box(image, IMAGE_BORDERS, None)
    assert box is None or box[1] < 80  # uniform borders alone do not find it
    found = frame_box(image)
    assert found is not None
    assert found[0] == 0 and found[2] == image.width
    assert abs(found[1] - 88) <= 2 and abs(found[3] - 391) <= 2


@pytest.mark.parametrize("name", [name for name, _ in natural_photos()])
def test_unframed_photos_are_trimmed_as_without_frames(name: str) -> None:
    photo = decode(encoded(_photo(name), "JPEG", quality=85)).image
    assert picture_box(photo, IMAGE_BORDERS, FRAMES) == picture_box(photo, IMAGE_BORDERS, None)


def _landscape(seed: int, horizon: float, sky: tuple[int, int, int], second_line: float | None = None) -> Image.Image:
    """A synthetic landscape: a smooth sky above a straight horizon, grainy ground below
    (and, when ``second_line``, a straight road edge across the ground)."""
    rng = np.random.default_rng(seed)
    height, width = 360, 480
    ys = np.arange(height)[:, None, None] / height
    pixels = np.broadcast_to(np.array(sky) * (0.6 + 0.4 * ys), (height, width, 3)).copy()
    ground = np.clip(rng.normal(0, 35, (height // 4, width // 4, 3)) + np.array([90, 110, 60]), 0, 255)
    grain = np.asarray(Image.fromarray(ground.astype(np.uint8)).resize((width, height), Image.Resampling.BICUBIC))
    line = round(height * horizon)
    pixels[line:] = grain[line:]
    if second_line is not None:
        pixels[round(height * second_line) :] = grain[round(height * second_line) :] * 0.5
    image = Image.fromarray(pixels.astype(np.uint8))
    return image.filter(ImageFilter.GaussianBlur(0.6))


@pytest.mark.parametrize(
    ("horizon", "sky", "second_line"),
    [
        (0.4, (120, 170, 230), None),  # a blue sky over a horizon
        (0.3, (8, 10, 25), None),  # a dark night sky
        (0.25, (150, 180, 220), 0.75),  # a horizon and a road edge at equal depths
        (0.7, (200, 150, 90), None),  # a low horizon
    ],
)
def test_horizons_and_dark_skies_are_not_frames(
    horizon: float, sky: tuple[int, int, int], second_line: float | None
) -> None:
    picture = _landscape(5, horizon, sky, second_line)
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", quality=88)
    decoded = decode(buffer.getvalue()).image
    assert frame_box(decoded) is None
    assert picture_box(decoded, IMAGE_BORDERS, FRAMES) == picture_box(decoded, IMAGE_BORDERS, None)
