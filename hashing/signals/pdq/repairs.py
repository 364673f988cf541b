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
twice the CPU.
Repairs work on the luma as decoded, so their hashes go through ``ReducedPicture`` like
every other PDQ of the picture, averaged to at most ``REPAIR_SIDE`` pixels on the long
side (PDQ sees 64x64 of it; at 256 they cost more and matched no more copies).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from hashing.signals.pdq.reduced import ReducedPicture, buffer_hash

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

    padded = np.pad(luma, ((0, -height % k), (0, -width % k)), mode="edge")
    # area interpolation by a whole factor is the mean of each block
    result: np.ndarray = cv2.resize(padded, (padded.shape[1] // k, padded.shape[0] // k), interpolation=cv2.INTER_AREA)
    return result, k


def turns_undone(luma: np.ndarray) -> dict[str, np.ndarray]:
    """The picture turned back by each of ``TURNS`` both ways, the corners the turn cut
    off filled in (``filled``), by variant name (``rot_p3`` undoes an anticlockwise turn of 3 degrees)."""
    import cv2  # only where a picture is repaired

    height, width = luma.shape
    found = {}
    for degrees in TURNS:
        for sign, name in ((1, "p"), (-1, "m")):
            turn = _turn(height, width, -sign * degrees)
            back = cv2.warpAffine(luma, turn, (width, height), flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
            lost, weight = _lost_corners(height, width, sign * degrees)
            found[f"rot_{name}{degrees:g}"] = filled(back, lost, weight)
    return found


def _turn(height: int, width: int, degrees: float) -> np.ndarray:
    import cv2

    matrix: np.ndarray = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    return matrix


@lru_cache(maxsize=64)
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
    weight = _spread(1 - lost.astype(np.float32))
    for array in (lost, weight):
        array.setflags(write=False)
    return lost, weight


def caption_box(luma: np.ndarray) -> tuple[int, int, int, int] | None:
    """The largest caption box (left, top, right, bottom) over the picture, or ``None``: a
    near-rectangle of flat dark or bright pixels, once the text on it is closed over,
    covering ``BOX_SHARE`` of the picture and at least 15% of its width."""
    import cv2

    height, width = luma.shape
    size = max(3, round(min(height, width) / 40)) | 1
    kernel = np.ones((size, size), np.uint8)
    best: tuple[int, tuple[int, int, int, int]] | None = None
    for plate in (luma < BOX_LUMA[0], luma > BOX_LUMA[1]):
        closed = cv2.morphologyEx(plate.astype(np.uint8), cv2.MORPH_CLOSE, kernel)
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
    ``FILL_SPREAD`` of the shorter side."""
    seen = (1 - hidden).astype(np.float32)
    weight = _spread(seen) if weight is None else weight
    result: np.ndarray = np.where(hidden > 0, _spread(luma * seen) / np.maximum(weight, 1e-3), luma).astype(np.float32)
    return result


def _spread(values: np.ndarray) -> np.ndarray:
    import cv2

    result: np.ndarray = cv2.GaussianBlur(values, (0, 0), max(1.0, FILL_SPREAD * min(values.shape)))
    return result

def repaired_variants(picture: ReducedPicture) -> dict[str, str]:
    """PDQs of the picture with each repair applied, by variant name: ``rot_p2`` ...
    ``rot_m4`` (``turns_undone``) and ``uncaptioned`` when a caption box was found."""
    height, width = picture.luma.shape
    full = picture.full or (height * picture.scale, width * picture.scale)
    small, k = block_mean(picture.luma)
    repaired = turns_undone(small)
    uncaptioned = caption_removed(small)
    if uncaptioned is not None:
        repaired["uncaptioned"] = uncaptioned
    rows, cols = ReducedPicture(small, picture.scale * k, full).operators()
    return {name: buffer_hash(cols.apply(rows.apply(luma).T).T, 0)[0] for name, luma in repaired.items()}
