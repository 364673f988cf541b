"""Finding a picture set inside a frame that is not one flat colour: a gradient, a
patterned or grainy frame, a mat inside a frame, or the picture's own blurred
enlargement (the fill social sites put around a picture of another shape than their
slot). Uniform borders are ``hashing.borders``'s; ``picture_box`` chains the two.

Such a frame ends at a straight edge that runs the whole length of the picture's side,
at the same place on every line across it, while the edges of a photograph's content
wander. The picture is reduced by block means to at most ``side`` pixels on its long
side; on each line across a side (rows for the left and right sides, columns for the
top and bottom), a colour step between pixels two apart votes for its place when it is
at least ``step``, at least ``jump`` times the mean of the steps just outward of it (the
frame's side) and no smaller than the next one inward. A side's edges are the places
``coverage`` of the lines across the middle of the picture vote for, the outermost
first. A frame is accepted only as a whole: four sides whose outermost edges, checked
again over the picture's own extent between the other two, keep ``extent_coverage``;
or two opposite sides at equal depths whose edges hold along the whole side and whose
bands are one fill (no rougher than the picture, alike: a blurred fill above and below
a picture that fills the width). A horizon or a dark sky gives one side, or two bands
that differ, so an unframed photograph is left whole. Each edge found is placed to the
pixel on the picture as decoded by the median step along it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from hashing.borders import BorderConfig, Box, content_box


@dataclass(frozen=True)
class FramingConfig:
    """When a frame counts.

    ``side``: the long side of the reduced picture the edges are looked for on;
    pictures whose short side is under ``min_size`` are not looked at. ``step``: the
    smallest colour step (0..255, the largest channel difference between pixels two
    apart) that votes; ``jump``: how many times the mean step of the ``window`` places
    outward of it (past the neighbour sharing the edge) it must be. ``coverage``: the
    share of the middle lines across a side that must vote for an edge;
    ``extent_coverage``: the share of the lines along the picture's whole side that
    must still vote for it. ``min_fraction`` and ``max_fraction``: the depths a side's
    frame may have, as shares of the dimension (at least 2 reduced pixels).
    ``symmetry``: how far apart, as a share of the dimension, a pair's depths may be.
    ``smooth``: a pair's band may be at most this rough (mean step) against as deep of
    the picture inside it; ``alike``: the rougher band at most this many times the
    other (plus one step).
    """

    side: int = 128
    min_size: int = 100
    step: float = 8.0
    window: int = 3
    jump: float = 2.0
    coverage: float = 0.7
    extent_coverage: float = 0.6
    min_fraction: float = 0.025
    max_fraction: float = 0.35
    symmetry: float = 0.015
    smooth: float = 1.0
    alike: float = 3.0


FRAMES = FramingConfig()


def frame_box(image: Image.Image, config: FramingConfig = FRAMES) -> Box | None:
    """The box (left, top, right, bottom) of the picture inside a frame of ``image``, or
    ``None`` when no frame is found."""
    width, height = image.size
    if min(width, height) < config.min_size:
        return None
    rgb = image if image.mode == "RGB" else image.convert("RGB")
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
    """The inner rectangle (left, top, right, bottom) in reduced pixels, or ``None``.
    A side is looked at only while a frame is still possible, so an unframed picture
    costs the two sides that first show no edge."""
    height, width = small.shape[:2]
    sides = {"left": small, "right": small[:, ::-1], "top": small.transpose(1, 0, 2),
             "bottom": small[::-1].transpose(1, 0, 2)}  # fmt: skip

    def pair(first: str, second: str, size: int, across: int) -> tuple[list[int], list[int]] | None:
        middle = slice(int(across * config.max_fraction), across - int(across * config.max_fraction))
        one = _candidates(sides[first], middle, size, config)
        other = _candidates(sides[second], middle, size, config) if one else []
        return (one, other) if one and other else None

    def holds(side: str, lines: slice, depth: int) -> bool:
        return _coverage(_steps(sides[side], lines, depth + 2), depth, config) >= config.extent_coverage

    def roughness(side: str, depth: int) -> tuple[float, float]:
        """The mean step inside a side's band, and as deep inside the picture."""
        steps = _steps(sides[side], slice(None), 2 * depth + 2)
        return float(steps[:, : max(1, depth - 2)].mean()), float(steps[:, depth + 2 :].mean())

    def fill(one: str, other: str, depths: tuple[int, int]) -> bool:
        """A pair's bands are one fill: each no rougher than the picture inside it (a
        blurred or smooth fill), and alike (not a sky above and a field below)."""
        (band, picture), (band_other, picture_other) = roughness(one, depths[0]), roughness(other, depths[1])
        return (band <= config.smooth * picture and band_other <= config.smooth * picture_other
                and max(band, band_other) <= config.alike * min(band, band_other) + 1)  # fmt: skip

    def equal(depths: tuple[list[int], list[int]], size: int) -> tuple[int, int] | None:
        """The outermost depths of the two opposite sides that are equal."""
        return next(((one, other) for one in depths[0] for other in depths[1]
                     if abs(one - other) <= max(1, config.symmetry * size)), None)  # fmt: skip

    across = pair("left", "right", width, height)
    down = pair("top", "bottom", height, width)
    if across and down:
        left, right, top, bottom = across[0][0], across[1][0], down[0][0], down[1][0]
        rows, cols = slice(top, height - bottom), slice(left, width - right)
        if holds("left", rows, left) and holds("right", rows, right) and holds("top", cols, top) and holds(
            "bottom", cols, bottom
        ):
            return (left, top, width - right, height - bottom)
    if down and (found := equal(down, height)):
        top, bottom = found
        if holds("top", slice(None), top) and holds("bottom", slice(None), bottom) and fill("top", "bottom", found):
            return (0, top, width, height - bottom)
    if across and (found := equal(across, width)):
        left, right = found
        if holds("left", slice(None), left) and holds("right", slice(None), right) and fill("left", "right", found):
            return (left, 0, width - right, height)
    return None


def _steps(side: np.ndarray, lines: slice, places: int) -> np.ndarray:
    """The colour steps ([n, places]: the largest channel difference between pixels two
    apart, centred on place c + 1) along ``lines`` of a side's view ([lines, inward, 3])."""
    strip = side[lines, : places + 2]
    result: np.ndarray = np.abs(strip[:, 2:] - strip[:, :-2]).max(axis=2)
    return result


def _votes(steps: np.ndarray, config: FramingConfig) -> np.ndarray:
    """Per line and place: the step is at least ``step``, at least ``jump`` times the
    mean step of the ``window`` places outward of it (the frame's side, past the
    neighbour that shares the edge: the picture's own edges inward may be stronger, and
    a blurred fill's ramps grow slowly) and at least the next one inward."""
    width, count = config.window, steps.shape[1]
    padded = np.concatenate([np.repeat(steps[:, :1], width + 1, axis=1), steps, steps[:, -1:]], axis=1)
    outward = sum(padded[:, k : k + count] for k in range(width))
    result: np.ndarray = (
        (steps >= config.step)
        & (steps * width >= config.jump * outward)
        & (steps >= padded[:, width + 2 :])
    )
    return result


def _candidates(side: np.ndarray, lines: slice, size: int, config: FramingConfig) -> list[int]:
    """The depths (reduced pixels from the side), outermost first, of the places that
    ``coverage`` of ``lines`` vote for, within the depths a frame may have."""
    low = max(2, round(config.min_fraction * size))
    high = int(config.max_fraction * size)
    votes = _votes(_steps(side, lines, high + 2), config)[:, : high + 1]
    # the steps centred on places d - 1 and d both span the edge of a frame d deep, so
    # a line voting for either counts, and a run of agreeing places is one edge
    paired = (votes[:, :-1] | votes[:, 1:]).mean(axis=0)
    paired[: low - 1] = 0
    agreeing = paired >= config.coverage
    starts = np.flatnonzero(agreeing & ~np.r_[False, agreeing[:-1]])
    ends = np.flatnonzero(agreeing & ~np.r_[agreeing[1:], False])
    return [int(start + paired[start : end + 1].argmax()) + 2 for start, end in zip(starts, ends, strict=True)]


def _coverage(steps: np.ndarray, depth: int, config: FramingConfig) -> float:
    """The share of lines voting for the edge ``depth`` deep (or a place beside it)."""
    if len(steps) == 0:
        return 0.0
    votes = _votes(steps, config)
    return float(votes[:, max(0, depth - 2) : depth + 1].any(axis=1).mean())


def _placed(lines: np.ndarray, depth: int, factor: int) -> int:
    """The decoded place of an edge found ``depth`` reduced pixels deep, to the pixel:
    where the mean step across ``lines`` ([n, length], from the side) is largest."""
    if depth == 0:
        return 0
    low = max(1, (depth - 1) * factor)
    high = min(lines.shape[1] - 1, (depth + 2) * factor)
    sample = lines[:: max(1, len(lines) // 64)]
    steps = np.median(np.abs(sample[:, low : high + 1] - sample[:, low - 1 : high]), axis=0)
    return low + int(steps.argmax())


def picture_box(image: Image.Image, borders: BorderConfig | None, framing: FramingConfig | None, *,
                pixels: np.ndarray | None = None) -> Box | None:
    """The box of the picture inside whatever surrounds it in ``image``: a uniform
    border (``borders``), then a frame (``framing``) and, inside a frame found, a
    uniform border again (a mat); ``None`` when nothing is found. ``pixels``: the
    image's RGB pixels when the caller holds them already."""
    outer = None if borders is None else content_box(np.asarray(image) if pixels is None else pixels, borders)
    part = image if outer is None else image.crop(outer)
    inner = None if framing is None else frame_box(part, framing)
    if inner is None and outer is not None and framing is not None:
        # what looked like a border may be the flat end of a blurred fill above and
        # below (or left and right of) the picture: such a pair is then looked for on the
        # whole picture
        inner = frame_box(image, framing)
        if inner is not None and (inner[0], inner[2]) != (0, image.width) and (inner[1], inner[3]) != (0, image.height):
            inner = None
        if inner is not None:
            outer, part = None, image
    if inner is not None:
        part = part.crop(inner)
        mat = None if borders is None else content_box(np.asarray(part), borders)
        inner = inner if mat is None else (inner[0] + mat[0], inner[1] + mat[1], inner[0] + mat[2], inner[1] + mat[3])
    if outer is None:
        return inner
    if inner is None:
        return outer
    return (outer[0] + inner[0], outer[1] + inner[1], outer[0] + inner[2], outer[1] + inner[3])
