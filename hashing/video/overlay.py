"""Finding a static overlay (a logo, a watermark, a caption box) on a moving clip, and
painting it out of a frame before hashing.

A re-hosting site's badge stays put while the picture under it moves, so the pixels that
hardly change over a few sampled frames, on a clip whose other pixels do, are the
overlay. A large one moves every frame's PDQ past the threshold; filled in from the
pixels around it (OpenCV's Telea inpainting), the frame hashes near the original's again.
This is one more view of the frames (``overlay``), compared like the others; a clip that
barely moves, or whose still part is too large to be an overlay, has none.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

MIN_FRAMES = 4
"""Sampled frames needed to tell what stays put."""
_STILL = 4.0
"""A pixel whose luma varies less than this over the frames is still."""
_MOVING = 12.0
"""The clip moves when its typical pixel varies more than this."""
_DOWN = 4
"""The fill is painted at 1/_DOWN of the frame's size."""
_SHARE = (0.003, 0.3)
"""An overlay covers more than 0.3% and at most 30% of the frame."""


def overlay_mask(frames: Sequence[np.ndarray]) -> np.ndarray | None:
    """A ``uint8 [H, W]`` mask (255: overlay) of the pixels still over ``frames`` (RGB,
    one size), or ``None`` when there is no overlay to tell."""
    if len(frames) < MIN_FRAMES or len({f.shape for f in frames}) != 1:
        return None
    luma = np.stack([cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in frames]).astype(np.float32)
    spread = luma.std(axis=0)
    if float(np.median(spread)) < _MOVING:
        return None
    still = (spread < _STILL).astype(np.uint8) * 255
    still = cv2.morphologyEx(still, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))  # lone still pixels are chance
    share = float(np.count_nonzero(still)) / still.size
    if not _SHARE[0] < share <= _SHARE[1]:
        return None
    mask: np.ndarray = cv2.dilate(still, np.ones((5, 5), np.uint8))  # the overlay's soft edge
    return mask


def painted_out(pixels: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """``pixels`` with the ``mask`` region filled in from around it. The fill is painted
    at a quarter of the size and scaled up: smoother, so nearer what PDQ saw of the
    original there (a 4%-of-the-frame badge: 90% of frames back within the threshold,
    75% painted at full size), and cheaper."""
    height, width = mask.shape
    small = (max(8, width // _DOWN), max(8, height // _DOWN))
    fill = cv2.inpaint(
        np.ascontiguousarray(cv2.resize(pixels, small, interpolation=cv2.INTER_AREA)),
        cv2.resize(mask, small, interpolation=cv2.INTER_NEAREST), 5, cv2.INPAINT_TELEA,
    )  # fmt: skip
    result = pixels.copy()
    inside = mask > 0
    result[inside] = cv2.resize(fill, (width, height), interpolation=cv2.INTER_LINEAR)[inside]
    return result
