"""A videohash-style secondary signal, computed in memory.

videohash 3.0.1 (the package) extracts frames with the ffmpeg program into temporary
files, pastes them into a collage and hashes it; it also breaks on Pillow 10 and later
(``Image.ANTIALIAS`` is gone). Evidence must never be written to disk in plaintext, so
this shim rebuilds its core in memory: the 1-per-second frames are laid out as
videohash lays them (rows of ``round(sqrt(n))`` frames on black, 1024 pixels wide) and
the collage's 64-bit wavelet hash (``imagehash.whash``) is the signal. It is a weak one:
it cannot tell unrelated clips of the reference vectors apart reliably, so it never
decides a match; vPDQ does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import imagehash
import numpy as np
from PIL import Image

COLLAGE_WIDTH = 1024


def collage_hash(frames: Sequence[np.ndarray]) -> str | None:
    """16 hex digits, or ``None`` for a video without frames."""
    if not frames:
        return None
    per_row = max(1, round(math.sqrt(len(frames))))
    first_h, first_w = frames[0].shape[:2]
    tile_w = max(1, COLLAGE_WIDTH // per_row)
    tile_h = max(1, round(first_h * tile_w / first_w))
    rows = math.ceil(len(frames) / per_row)
    collage = Image.new("RGB", (COLLAGE_WIDTH, tile_h * rows))
    for n, pixels in enumerate(frames):
        tile = Image.fromarray(np.asarray(pixels, dtype=np.uint8)).resize(
            (tile_w, tile_h), Image.Resampling.LANCZOS
        )
        collage.paste(tile, ((n % per_row) * tile_w, (n // per_row) * tile_h))
    return str(imagehash.whash(collage))
