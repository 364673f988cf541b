"""Benign look-alike pairs: two different pictures that share much of what a matcher sees.
Review clustering must never put the two of a pair in one cluster (each pair is two
pictures an analyst has to see). Kinds: ``pan`` (two frames of a camera pan: crops of one
wide picture shifted by a third), ``reshot`` (the same layout re-drawn: same background
and places, other shapes and colours), ``template`` (one frame and caption around
different pictures)."""

from __future__ import annotations

import random

import numpy as np
from PIL import Image, ImageDraw
from rehost_edits import natural_photos
from synthetic import synthetic_picture


def _pan(seed: int) -> tuple[Image.Image, Image.Image]:
    photos = natural_photos()
    wide = photos[seed % len(photos)][1].resize((1200, 480))
    shift = 400 + 40 * (seed % 3)
    return wide.crop((0, 0, 640, 480)), wide.crop((shift, 0, shift + 640, 480))


def _layout(seed: int, variant: int) -> Image.Image:
    """A gradient with 25 shapes at places fixed by ``seed``; ``variant`` picks their kind and colour."""
    places, looks = random.Random(seed), random.Random(seed * 7919 + variant)
    width, height = 640, 480
    ramp = np.linspace(0, 255, width, dtype=np.float64)
    base = np.stack([np.tile(ramp, (height, 1))] * 3, axis=-1)
    base[..., seed % 3] = 255 - base[..., 0]
    image = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x0, y0 = places.randrange(width), places.randrange(height)
        box = (x0, y0, x0 + places.randrange(20, width // 2), y0 + places.randrange(20, height // 2))
        colour = tuple(looks.randrange(256) for _ in range(3))
        looks.choice((draw.ellipse, draw.rectangle))(box, fill=colour)
    return image


def _framed(inner: Image.Image) -> Image.Image:
    """A fixed frame with a caption around ``inner`` (a site's template)."""
    out = Image.new("RGB", (640, 480), (30, 60, 120))
    draw = ImageDraw.Draw(out)
    for x in range(0, 640, 40):
        draw.rectangle((x, 0, x + 18, 18), fill=(230, 200, 40))
        draw.rectangle((x + 20, 462, x + 38, 480), fill=(230, 200, 40))
    out.paste(inner.resize((520, 340)), (60, 40))
    for row in range(395, 450, 12):
        draw.text((70, row), "example.test gallery  page 12  all pictures  0123456789", fill=(250, 250, 250))
    return out


def lookalike_pairs(count: int = 6) -> list[tuple[str, Image.Image, Image.Image]]:
    """``count`` pairs of each kind, as (kind, one, other)."""
    pairs = []
    for n in range(count):
        pairs.append(("pan", *_pan(n)))
        pairs.append(("reshot", _layout(500 + n, 0), _layout(500 + n, 1)))
        pairs.append(("template", _framed(synthetic_picture(900 + n, (520, 340))),
                      _framed(synthetic_picture(950 + n, (520, 340)))))
    return pairs
