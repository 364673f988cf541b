"""Finding a picture set inside a frame that is not one flat colour: a gradient, a
patterned or grainy frame, or the picture's own blurred enlargement (the fill social
sites put around a picture of another shape than their slot).

Such a frame ends at a straight edge that runs the whole length of the picture's side,
at the same place on every line across it, while the edges of a photograph's content
wander. The luma is reduced by block means to at most ``side`` pixels on its long side;
on each line across a side (rows for the left and right sides, columns for the top and
bottom), every step between pixels two apart that is the largest within ``window`` of
it and at least ``step`` votes for its place, and a side's candidate is the place the
most lines across it vote for (``coverage``: the share of them). A frame is accepted
only as a whole: four sides whose candidates, checked again over the picture's own
extent between the other two, each keep that coverage; or two opposite sides of equal
depth (a blurred or patterned fill above and below, or left and right, of a picture
that fills the other dimension). A horizon or a dark sky gives one side, not a closed
rectangle nor a pair at equal depths, so an unframed photograph is left whole. Each
edge found is placed to the pixel on the picture as decoded by the largest mean step
near it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from hashing.borders import BorderConfig, Box, content_box


@dataclass(frozen=True)
class FramingConfig:
    """When a frame counts.

    ``side``: the long side of the reduced luma the edges are looked for on. ``step``:
    the smallest luma step (0..255, between pixels two apart) that votes. ``window``: a
    vote's step must be the largest within this many places either side on its line.
    ``coverage``: the share of the lines across a side that must vote for its edge.
    ``min_fraction`` and ``max_fraction``: the depths a side's frame may have, as
    shares of the dimension (at least 2 reduced pixels). ``symmetry``: how far apart,
    as a share of the dimension, the depths of a pair of opposite sides may be.
    """

    side: int = 128
    min_size: int = 64
    step: float = 8.0
    window: int = 3
    jump: float = 2.0
    coverage: float = 0.7
    min_fraction: float = 0.025
    max_fraction: float = 0.35
    symmetry: float = 0.015


FRAMES = FramingConfig()


def frame_box(image: Image.Image, config: FramingConfig = FRAMES) -> Box | None:
    """The box (left, top, right, bottom) of the picture inside a frame of ``image``, or
    ``None`` when no frame is found."""
    width, height = image.size
    if min(width, height) < config.min_size:
        return None
    rgb = image.convert("RGB")
    factor = max(1, -(-max(width, height) // config.side))
    small = np.asarray(rgb.reduce(factor) if factor > 1 else rgb, dtype=np.float32)
    if min(small.shape[:2]) < 16:
        return None
    found = _sides(small, config)
    if found is None:
        return None
    luma = np.asarray(image.convert("L"), dtype=np.float32)
    left, top, right, bottom = found
    # reduced place d (a step between reduced pixels d - 1 and d + 1) lies in decoded d*f .. (d+1)*f
    rows = slice(top * factor, bottom * factor)
    cols = slice(left * factor, right * factor)
    return (
        _placed(luma[rows], left, factor),
        _placed(luma[:, cols].T, top, factor),
        width - _placed(luma[rows, ::-1], small.shape[1] - right, factor),
        height - _placed(luma[::-1, cols].T, small.shape[0] - bottom, factor),
    )


def _sides(small: np.ndarray, config: FramingConfig) -> tuple[int, int, int, int] | None:
    """The inner rectangle (left, top, right, bottom) in reduced pixels, or ``None``."""
    height, width = small.shape[:2]
    across = np.abs(small[:, 2:] - small[:, :-2]).max(axis=2)  # [h, w - 2]: step centred on column c + 1
    down = np.abs(small[2:] - small[:-2]).max(axis=2).T  # [w, h - 2]: step centred on row r + 1
    middle_rows = slice(int(height * config.max_fraction), height - int(height * config.max_fraction))
    middle_cols = slice(int(width * config.max_fraction), width - int(width * config.max_fraction))
    left = _candidate(across[middle_rows], width, config)
    right = _candidate(across[middle_rows, ::-1], width, config)
    top = _candidate(down[middle_cols], height, config)
    bottom = _candidate(down[middle_cols, ::-1], height, config)
    if left and right and top and bottom:
        box = (left, top, width - right, height - bottom)
        if (
            _coverage(across[top : height - bottom], left, config) >= config.coverage
            and _coverage(across[top : height - bottom, ::-1], right, config) >= config.coverage
            and _coverage(down[left : width - right], top, config) >= config.coverage
            and _coverage(down[left : width - right, ::-1], bottom, config) >= config.coverage
        ):
            return box
    if top and bottom and abs(top - bottom) <= max(1, config.symmetry * height):
        if _coverage(down, top, config) >= config.coverage and _coverage(down[:, ::-1], bottom, config) >= config.coverage:
            return (0, top, width, height - bottom)
    if left and right and abs(left - right) <= max(1, config.symmetry * width):
        if _coverage(across, left, config) >= config.coverage and _coverage(across[:, ::-1], right, config) >= config.coverage:
            return (left, 0, width - left, height)
    return None


def _votes(steps: np.ndarray, config: FramingConfig) -> np.ndarray:
    """Per line and place: the step is at least ``step``, at least ``jump`` times each
    step ``window`` places outward of it (the frame's side, past the neighbour that
    shares the edge: the picture's own edges inward may be stronger, and a blurred
    fill's ramps grow slowly) and at least the next one inward."""
    width = config.window
    padded = np.pad(steps, ((0, 0), (width + 1, 1)), mode="edge")
    outward = np.lib.stride_tricks.sliding_window_view(padded[:, : -2], width, axis=1)[:, : steps.shape[1]]
    result: np.ndarray = (
        (steps >= config.step)
        & (steps >= config.jump * outward.mean(axis=2))
        & (steps >= padded[:, width + 2 :])
    )
    return result


def _candidate(steps: np.ndarray, size: int, config: FramingConfig) -> int:
    """The depth (reduced pixels from the side) of the place most lines vote for, within
    the depths a frame may have, or 0 when too few lines agree."""
    low = max(2, round(config.min_fraction * size))
    high = int(config.max_fraction * size)
    votes = _votes(steps[:, : high + 2], config)[:, : high + 1]
    # the steps centred on places d - 1 and d both span the edge of a frame d deep, so
    # neighbours count together
    shares = votes.mean(axis=0)
    paired = (votes[:, :-1] | votes[:, 1:]).mean(axis=0)
    paired[: low - 1] = 0
    # the outermost such edge: a frame's own, where the picture's lines lie further in
    agreeing = np.flatnonzero(paired >= config.coverage)
    if not agreeing.size:
        return 0
    best = int(agreeing[0])
    best += int(paired[best + 1] > paired[best]) if best + 1 < len(paired) else 0
    return best + 1 + int(shares[best + 1] > shares[best])


def _coverage(steps: np.ndarray, depth: int, config: FramingConfig) -> float:
    """The share of lines voting for the edge ``depth`` deep (or a place beside it)."""
    if len(steps) == 0:
        return 0.0
    votes = _votes(steps[:, : depth + 2], config)
    return float(votes[:, max(0, depth - 2) : depth + 1].any(axis=1).mean())


def _placed(lines: np.ndarray, depth: int, factor: int) -> int:
    """The decoded place of an edge found ``depth`` reduced pixels deep, to the pixel:
    where the mean step across ``lines`` ([n, length], from the side) is largest."""
    if depth == 0:
        return 0
    low = max(1, (depth - 1) * factor)
    high = min(lines.shape[1] - 1, (depth + 2) * factor)
    sample = lines[:: max(1, len(lines) // 64)]
    steps = np.abs(sample[:, low : high + 1] - sample[:, low - 1 : high]).mean(axis=0)
    return low + int(steps.argmax())


def picture_box(image: Image.Image, borders: BorderConfig | None, framing: FramingConfig | None) -> Box | None:
    """The box of the picture inside whatever surrounds it in ``image``: a uniform
    border (``borders``), then a frame (``framing``), then a uniform border inside that
    frame (a mat); ``None`` when nothing is found."""
    left, top = 0, 0
    part = image
    for config in (borders, framing, borders):
        if config is None:
            continue
        if isinstance(config, BorderConfig):
            box = content_box(np.asarray(part), config)
        else:
            box = frame_box(part, config)
        if box is not None:
            part = part.crop(box)
            left, top = left + box[0], top + box[1]
    if part is image:
        return None
    return (left, top, left + part.width, top + part.height)
