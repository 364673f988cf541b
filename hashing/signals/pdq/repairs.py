"""Pixel repairs that undo a re-hosting edit before PDQ: a small turn, and a caption box
laid over the picture.

A hash-only list holds the PDQ of the untouched original, so a copy turned by a few
degrees (with the corners it lost filled with a flat colour) or with a caption box
pasted over it hashes 40 to 70 bits away. Each repair rebuilds what the original most
likely looked like from the copy's own pixels: the turn is undone and the corners the
turn cut off are filled from the pixels around them (filling them with the copy's flat
colour, or cropping to the area left, stays 10 to 20 bits further off); a caption box
found on the picture is filled the same way. The fill is a normalised convolution (a
blur of the pixels seen, divided by the blur of where they are): OpenCV's Telea
inpainting matched the same copies on the matching bench, with the repairs costing
twice the CPU. A turn is undone only the ways the copy shows a turn's signature
(``turned_ways``: slivers of one flat colour along its four edges), so that most
pictures, whose edges hold the picture itself, pay a test of a few hundred pixels instead
of six turns and fills. Every turned copy of the matching bench, and 1,062 of 1,062
copies turned 1.5 to 4.5 degrees in black, white, grey or a random colour and saved as
JPEG at quality 30 or 90, WebP or PNG, shows it; a copy whose corners were filled with
anything but one colour (a blur, a mirror of the picture) no longer has its turn undone.
Repairs work on the luma as decoded, so their hashes go through ``ReducedPicture`` like
every other PDQ of the picture, averaged to at most ``REPAIR_SIDE`` pixels on the long
side (PDQ sees 64x64 of it; at 256 they cost more and matched no more copies).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache

import numpy as np

from hashing.signals.pdq.reduced import ReducedPicture, buffer_hashes

REPAIR_SIDE = 128
"""The long side, in decoded pixels, repairs work at; a larger picture is averaged down
by whole blocks first (as a DCT-scaled decode is), so its hash still follows the
full-size reduction."""
TURNS: tuple[float, ...] = (2.0, 3.0, 4.0)
"""Turns undone, in degrees, each way (``rot_p3``: the copy was turned 3 degrees
anticlockwise; ``rot_m3``: clockwise). A turn 1 degree off still matches on most
pictures, so these cover 1.5 to 4.5 degrees."""
FILL_SPREAD = 0.04
"""The Gaussian blur's sigma that fills a hidden area, as a share of the shorter side."""
SIGNATURE_TURN = 1.5
"""The smallest turn, in degrees, whose signature ``turned_ways`` looks for: the turns
undone cover 1.5 degrees and more, and the slivers a larger turn leaves hold these."""
SIGNATURE_FLAT = (0.9, 16.0)
"""The share of the slivers' pixels within the second figure (luma, 0-255) of their
median for their colour to count as one flat fill: JPEG's blocks across a sliver's edge
ring into it."""
SIGNATURE_PIXELS = 24
"""Fewer sliver pixels than this (a picture under about 100 pixels a side) tell nothing."""
BOX_LUMA = (48, 208)
"""A caption box is darker than the first or lighter than the second: the high-contrast
plates re-hosting sites print their text on."""
BOX_SHARE = (0.01, 0.45)
"""The share of the picture a caption box covers; a larger flat area is the picture's own
background, not an overlay."""
BOX_FILL = 0.92
"""The share of its bounding rectangle a box's pixels (text holes closed) must cover: a
caption box is a rectangle, a dark or bright part of a photograph rarely is."""


def block_mean(luma: np.ndarray, side: int = REPAIR_SIDE) -> tuple[np.ndarray, int]:
    """``luma`` averaged over k x k blocks so that its long side is at most ``side``, and
    k (1: as it was). The last partial block repeats the edge pixels."""
    height, width = luma.shape
    k = -(-max(height, width) // side)
    if k == 1:
        return luma, 1
    import cv2

    padded = np.pad(luma, ((0, -height % k), (0, -width % k)), mode="edge") if height % k or width % k else luma
    # area interpolation by a whole factor is the mean of each block
    result: np.ndarray = cv2.resize(padded, (padded.shape[1] // k, padded.shape[0] // k), interpolation=cv2.INTER_AREA)
    return result, k


def turns_undone(luma: np.ndarray, ways: tuple[int, ...] = (1, -1)) -> dict[str, np.ndarray]:
    """The picture turned back by each of ``TURNS`` each of ``ways`` (1: the copy was
    turned anticlockwise, -1: clockwise), the corners the turn cut off filled in
    (``filled``), by variant name (``rot_p3`` undoes an anticlockwise turn of 3 degrees)."""
    stacked = _turns_undone(luma, ways)
    return {name: stacked[..., n] for n, name in enumerate(_turn_names(ways))}


def _turn_names(ways: tuple[int, ...]) -> list[str]:
    return [f"rot_{'p' if sign > 0 else 'm'}{degrees:g}" for degrees in TURNS for sign in ways]


def _turns_undone(luma: np.ndarray, ways: tuple[int, ...]) -> np.ndarray:
    """``turns_undone`` as one ``[h, w, n]`` array (``_turn_names`` order): the turns are
    filled in one blur of all of them."""
    import cv2  # only where a picture is repaired

    height, width = luma.shape
    back = np.stack([
        cv2.warpAffine(luma, _turn(height, width, -sign * degrees), (width, height), flags=cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
        for degrees in TURNS for sign in ways
    ], axis=-1)
    lost, weight = _all_lost_corners(height, width, ways)
    return filled(back, lost, weight)


def turned_ways(luma: np.ndarray) -> tuple[int, ...]:
    """The ways (1: anticlockwise, -1: clockwise) a copy may have been turned, from the
    signature a turn leaves: the slivers along the four edges that it moved the picture
    off (``SIGNATURE_TURN`` or more) hold one flat colour, whatever the copy filled them
    with (``SIGNATURE_FLAT``). A picture too small to tell is tested no further: both."""
    height, width = luma.shape
    found = []
    for sign in (1, -1):
        rows, cols = _slivers(height, width, sign)
        if len(rows) < SIGNATURE_PIXELS:
            found.append(sign)
            continue
        values = luma[rows, cols]
        share, tolerance = SIGNATURE_FLAT
        if np.mean(np.abs(values - np.median(values)) <= tolerance) >= share:
            found.append(sign)
    return tuple(found)


@lru_cache(maxsize=64)
def _slivers(height: int, width: int, sign: int) -> tuple[np.ndarray, np.ndarray]:
    """The rows and columns of the pixels a turn by ``SIGNATURE_TURN`` degrees ``sign``
    way moves the picture off, 2 pixels or more from the picture left (where JPEG blurs
    the fill into it)."""
    import cv2

    inside = np.full((height, width), 255, np.uint8)
    kept = cv2.warpAffine(inside, _turn(height, width, sign * SIGNATURE_TURN), (width, height),
                          flags=cv2.INTER_LINEAR, borderValue=0)
    deep = cv2.erode((kept == 0).astype(np.uint8), np.ones((5, 5), np.uint8), borderType=cv2.BORDER_CONSTANT,
                     borderValue=1)
    rows, cols = np.nonzero(deep)
    for array in (rows, cols):
        array.setflags(write=False)
    return rows, cols


def _turn(height: int, width: int, degrees: float) -> np.ndarray:
    import cv2

    matrix: np.ndarray = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    return matrix


@lru_cache(maxsize=64)
def _all_lost_corners(height: int, width: int, ways: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """``_lost_corners`` of every turn in ``_turn_names`` order, stacked on a last axis."""
    found = [_lost_corners(height, width, sign * degrees) for degrees in TURNS for sign in ways]
    lost, weight = (np.stack(arrays, axis=-1) for arrays in zip(*found, strict=True))
    for array in (lost, weight):
        array.setflags(write=False)
    return lost, weight


def _lost_corners(height: int, width: int, degrees: float) -> tuple[np.ndarray, np.ndarray]:
    """The pixels of an original that a turn by ``degrees`` (about the centre, keeping the
    size) moves out of the frame (the copy does not hold them, whatever it filled them
    with), and the blurred weight of the others (``filled``)."""
    import cv2

    inside = np.full((height, width), 255, np.uint8)
    kept = cv2.warpAffine(inside, _turn(height, width, degrees), (width, height), flags=cv2.INTER_NEAREST,
                          borderValue=0)  # the copy's pixels that come from the frame
    back = cv2.warpAffine(kept, _turn(height, width, -degrees), (width, height), flags=cv2.INTER_LINEAR,
                          borderValue=0)
    lost = (back < 250).astype(np.uint8)
    return lost, _spread(1 - lost.astype(np.float32))


def closed_plates(luma: np.ndarray) -> Iterator[np.ndarray]:
    """Where a caption plate can be: the picture's dark pixels, then its light ones
    (``BOX_LUMA``), as uint8 masks with the text printed on a plate closed over."""
    import cv2

    height, width = luma.shape
    size = max(3, round(min(height, width) / 40)) | 1
    kernel = np.ones((size, size), np.uint8)
    for plate in (luma < BOX_LUMA[0], luma > BOX_LUMA[1]):
        yield cv2.morphologyEx(plate.astype(np.uint8), cv2.MORPH_CLOSE, kernel)


def caption_box(luma: np.ndarray) -> tuple[int, int, int, int] | None:
    """The largest caption box (left, top, right, bottom) over the picture, or ``None``: a
    near-rectangle of flat dark or bright pixels, once the text on it is closed over,
    covering ``BOX_SHARE`` of the picture and at least 15% of its width."""
    import cv2

    height, width = luma.shape
    best: tuple[int, tuple[int, int, int, int]] | None = None
    for closed in closed_plates(luma):
        if cv2.countNonZero(closed) < BOX_FILL * BOX_SHARE[0] * height * width:
            continue  # too few such pixels for any box: spare the labelling, the dearest step
        count, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=4)
        for left, top, box_width, box_height, area in stats[1:count]:
            covered = box_width * box_height
            if box_width < 0.15 * width or box_height < 0.03 * height or area < BOX_FILL * covered:
                continue
            if not BOX_SHARE[0] * height * width <= covered <= BOX_SHARE[1] * height * width:
                continue
            if best is None or covered > best[0]:
                best = (int(covered), (int(left), int(top), int(left + box_width), int(top + box_height)))
    return None if best is None else best[1]


def caption_removed(luma: np.ndarray) -> np.ndarray | None:
    """The picture with its caption box (``caption_box``) filled in (``filled``), or ``None`` when
    it has none."""

    box = caption_box(luma)
    if box is None:
        return None
    left, top, right, bottom = box
    grow = 2  # JPEG rings around the box's edges
    hidden = np.zeros(luma.shape, np.uint8)
    hidden[max(0, top - grow) : bottom + grow, max(0, left - grow) : right + grow] = 1
    return filled(luma, hidden)


def filled(luma: np.ndarray, hidden: np.ndarray, weight: np.ndarray | None = None) -> np.ndarray:
    """``luma`` with its ``hidden`` pixels (1) filled from the pixels seen around them: a
    blur of the seen pixels divided by the same blur of where they are (normalised
    convolution; ``weight``: that blur, when already known), with a spread of
    ``FILL_SPREAD`` of the shorter side. ``[h, w, n]`` arrays fill n pictures at once."""
    seen = (1 - hidden).astype(np.float32)
    weight = _spread(seen) if weight is None else weight
    result: np.ndarray = np.where(hidden > 0, _spread(luma * seen) / np.maximum(weight, 1e-3), luma).astype(np.float32)
    return result


def _spread(values: np.ndarray) -> np.ndarray:
    import cv2

    result: np.ndarray = cv2.GaussianBlur(values, (0, 0), max(1.0, FILL_SPREAD * min(values.shape[:2])))
    return result.reshape(values.shape)  # one channel comes back without its axis

def repaired_variants(picture: ReducedPicture) -> dict[str, str]:
    """PDQs of the picture with each repair applied, by variant name: ``rot_p2`` ...
    ``rot_m4`` (``turns_undone``) and ``uncaptioned`` when a caption box was found; all
    reduced and hashed in one batch."""
    height, width = picture.luma.shape
    full = picture.full or (height * picture.scale, width * picture.scale)
    small, k = block_mean(picture.luma)
    ways = turned_ways(picture.luma)
    names = _turn_names(ways)
    layers = [_turns_undone(small, ways)] if ways else []
    uncaptioned = caption_removed(small)
    if uncaptioned is not None:
        names.append("uncaptioned")
        layers.append(uncaptioned[..., None])
    if not layers:
        return {}
    repaired = layers[0] if len(layers) == 1 else np.concatenate(layers, axis=-1)
    rows, cols = ReducedPicture(small, picture.scale * k, full).operators()
    buffers = cols.apply(rows.apply(repaired).transpose(1, 0, 2))  # [64 across, 64 down, n]
    return dict(zip(names, buffer_hashes(buffers.transpose(2, 1, 0)), strict=True))
