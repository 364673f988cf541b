"""Finding and removing uniform borders: frames added around re-hosted images, and the
black letterbox or pillarbox bars of videos.

A plain 5% white border moves PDQ by about 100 of 256 bits, far past the match
threshold, so perceptual hashes are taken of the picture inside the border. Each side is
examined on its own: a side has a border when its outermost line is uniform (every pixel
within ``tolerance`` of the line's median colour), and the border runs inward for as
many lines as stay within ``tolerance`` of that colour with a mean within ``drift``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[int, int, int, int]
"""(left, top, right, bottom) in pixels, right and bottom exclusive, as Pillow crops."""


@dataclass(frozen=True)
class BorderConfig:
    """When a border counts.

    ``tolerance``: largest per-channel difference from the border colour (0..255).
    ``drift``: largest difference between a border line's mean colour and the edge's:
    a gradient's lines are each uniform but drift, a border's do not. ``coverage``: the
    share of a line's pixels that must be within ``tolerance`` (below 1 for video, where
    the codec smears the picture's edge into the last lines of a bar).
    ``min_fraction``: a side's border must be at least this share of the image's width
    or height, and at least ``min_pixels`` lines, to be trimmed; thinner lines are the
    picture's own edge and barely move the hashes. ``min_keep``: the picture left after
    trimming must keep at least this share of each dimension, so a flat or nearly flat
    image is never trimmed away. ``max_luma``: when set, only borders at most this
    bright count (black bars of videos); ``None`` accepts any colour.
    ``smear``: how many more lines past a border found so (and deep enough to count) still
    belong to it when their luma is within ``tolerance`` of the border's and each colour
    channel within ``chroma_tolerance``: JPEG's 4:2:0 chroma smears a saturated picture
    edge up to 8 pixels into a frame whose luma stays flat, so those inner lines of the
    frame fail the test on the channels and were left on the picture (enough to move PDQ
    past the threshold on sharp-edged pictures). Only past a border already found: a
    gradient whose channels change in opposite directions keeps a flat luma too.
    """

    tolerance: int = 12
    drift: float = 2.0
    coverage: float = 1.0
    min_fraction: float = 0.02
    min_pixels: int = 2
    min_keep: float = 0.3
    max_luma: int | None = None
    smear: int = 0
    chroma_tolerance: int = 64


IMAGE_BORDERS = BorderConfig(smear=8)
"""White, black and grey frames survive JPEG; a saturated coloured frame on a JPEG is
smeared by chroma subsampling into the picture and is usually not recognised."""
VIDEO_BARS = BorderConfig(
    tolerance=32, drift=16.0, coverage=0.8, min_fraction=0.02, min_keep=0.4, max_luma=40
)


def content_box(pixels: np.ndarray, config: BorderConfig = IMAGE_BORDERS) -> Box | None:
    """The box inside uniform borders of an ``[H, W, 3]`` uint8 array, or ``None`` when
    no side has a border worth trimming."""
    height, width = pixels.shape[:2]
    if height < 8 or width < 8:
        return None
    rows = pixels.astype(np.int16)  # signed, for differences
    tall, wide = _minimum(height, config), _minimum(width, config)
    top = _border_depth(rows, config, tall)
    bottom = _border_depth(rows[::-1], config, tall)
    cols = rows.transpose(1, 0, 2)
    left = _border_depth(cols, config, wide)
    right = _border_depth(cols[::-1], config, wide)
    top, bottom = _significant(top, height, config), _significant(bottom, height, config)
    left, right = _significant(left, width, config), _significant(right, width, config)
    if not (top or bottom or left or right):
        return None
    if (height - top - bottom) < config.min_keep * height or (
        width - left - right
    ) < config.min_keep * width:
        return None
    return (left, top, width - right, height - bottom)


def _border_depth(lines: np.ndarray, config: BorderConfig, minimum: float) -> int:
    """How many leading lines of ``lines`` ([N, L, 3]) are one uniform colour, with up to
    ``config.smear`` lines of chroma smear when that is at least ``minimum``. The
    outermost line is checked first, so a picture without a border costs one line."""
    depth = _uniform_depth(lines, config)
    if not config.smear or depth < minimum or depth >= len(lines):
        return depth
    colour = np.median(lines[0], axis=0)
    smeared = _luma_uniform(lines[depth : depth + config.smear], colour, config)
    stops = np.flatnonzero(~smeared)
    return min(depth + (int(stops[0]) if stops.size else len(smeared)), int(len(lines) * (1 - config.min_keep)) + 1)


def _uniform_depth(lines: np.ndarray, config: BorderConfig) -> int:
    edge = lines[0]
    colour = np.median(edge, axis=0)
    if config.max_luma is not None and _luma(colour) > config.max_luma:
        return 0
    if not _uniform(lines[:1], colour, config)[0]:
        return 0
    deepest = max(1, int(len(lines) * (1 - config.min_keep)) + 1)
    start, block = 1, 8
    while start < deepest:  # inward in growing blocks, stopping at the first content line
        uniform = _uniform(lines[start : min(deepest, start + block)], colour, config)
        stops = np.flatnonzero(~uniform)
        if stops.size:
            return start + int(stops[0])
        start, block = start + len(uniform), block * 2
    return deepest


def _uniform(lines: np.ndarray, colour: np.ndarray, config: BorderConfig) -> np.ndarray:
    """Per line: enough pixels within ``tolerance`` of ``colour``, mean within ``drift``."""
    within = np.abs(lines - colour).max(axis=2) <= config.tolerance  # [N, L]
    steady = (np.abs(lines.mean(axis=1) - colour) <= config.drift).all(axis=1)  # [N]
    result: np.ndarray = (within.mean(axis=1) >= config.coverage) & steady
    return result


def _luma_uniform(lines: np.ndarray, colour: np.ndarray, config: BorderConfig) -> np.ndarray:
    """Per line: as ``_uniform``, on the luma, each channel within ``chroma_tolerance``."""
    difference = (lines - colour).astype(np.int32)
    luma = difference @ _LUMA_PERMILLE  # [N, L], in thousandths: exact for a grey line
    within = (np.abs(luma) <= 1000 * config.tolerance) & (np.abs(difference).max(axis=2) <= config.chroma_tolerance)
    steady = np.abs(luma.mean(axis=1)) <= 1000 * config.drift
    result: np.ndarray = (within.mean(axis=1) >= config.coverage) & steady
    return result


def _minimum(size: int, config: BorderConfig) -> float:
    return max(config.min_pixels, config.min_fraction * size)


def _significant(depth: int, size: int, config: BorderConfig) -> int:
    return depth if depth >= _minimum(size, config) else 0


_LUMA_PERMILLE = np.array([299, 587, 114], dtype=np.int32)


def _luma(colour: np.ndarray) -> float:
    return float(0.299 * colour[0] + 0.587 * colour[1] + 0.114 * colour[2])
