"""A repair for a wide caption plate laid over a picture: a band of flat dark or bright
rows across most of its width, as re-hosting sites print a long text on.

``repairs.caption_box`` looks for a plate as one connected region of flat pixels: a
wide plate touches the picture's own dark or bright parts almost everywhere and grows
into them, so it is found on few copies. Here a plate is a run of consecutive rows whose
longest flat run spans the same columns (within ``SPAN_SLACK`` pixels) over at least
``MIN_SPAN`` of the width: the picture's parts the plate touches change its rows' runs
from row to row, the plate's straight sides do not. The plate is then filled by
interpolating down its columns between the row above it and the row below (the one
there is, at the picture's edge), blurred: a plate over a third of the picture leaves
too little around it for ``repairs.filled``'s normalised convolution, which stayed 10
to 20 bits further off.

It works on the same luma as the other repairs (``repairs.block_mean``).
"""

from __future__ import annotations

import numpy as np

from hashing.signals.pdq.reduced import ReducedPicture, buffer_hash
from hashing.signals.pdq.repairs import BOX_SHARE, block_mean, closed_plates

MIN_SPAN = 0.3
"""The share of the width a plate's rows span at least."""
MIN_ROWS = 0.05
"""The share of the height a plate covers at least (a thinner one is a line of text,
``repairs.caption_box``'s to find)."""
SPAN_SLACK = 2
"""Pixels (of the averaged luma) a plate row's run may start or end off the row above's."""
FILL_BLUR = 0.03
"""The Gaussian sigma the interpolated plate is blurred by, as a share of the shorter side."""


def wide_caption_box(luma: np.ndarray) -> tuple[int, int, int, int] | None:
    """The largest wide caption plate (left, top, right, bottom) over the picture, or
    ``None``: rows of flat dark or bright pixels (text closed over) whose longest run
    spans the same columns, at least ``MIN_SPAN`` of the width and ``MIN_ROWS`` of the
    height, covering at most ``BOX_SHARE``'s largest share of the picture."""
    height, width = luma.shape
    best: tuple[int, tuple[int, int, int, int]] | None = None
    for closed in closed_plates(luma):
        starts, ends = _longest_runs(closed)
        top = 0
        while top < height:
            left, right = starts[top], ends[top]
            bottom = top + 1
            if right - left >= MIN_SPAN * width:
                while (bottom < height and abs(starts[bottom] - left) <= SPAN_SLACK
                       and abs(ends[bottom] - right) <= SPAN_SLACK):  # fmt: skip
                    bottom += 1
                covered = (bottom - top) * (right - left)
                if (bottom - top >= MIN_ROWS * height and covered <= BOX_SHARE[1] * height * width
                        and (best is None or covered > best[0])):  # fmt: skip
                    best = (covered, (int(left), top, int(right), bottom))
            top = bottom
    return None if best is None else best[1]


def _longest_runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's longest run of set pixels: its first column and the column past its
    end (0, 0 for a row without one)."""
    height = mask.shape[0]
    steps = np.diff(np.pad(mask.astype(np.int8), ((0, 0), (1, 1))), axis=1)
    rows, opening = np.nonzero(steps == 1)
    _, closing = np.nonzero(steps == -1)  # row-major: the n-th closing ends the n-th opening
    starts, ends = np.zeros(height, int), np.zeros(height, int)
    order = np.lexsort((opening - closing, rows))  # per row, the longest first
    first = order[np.r_[True, rows[order][1:] != rows[order][:-1]]] if len(order) else order
    starts[rows[first]], ends[rows[first]] = opening[first], closing[first]
    return starts, ends


def wide_caption_removed(luma: np.ndarray) -> np.ndarray | None:
    """The picture with its wide caption plate (``wide_caption_box``) filled in, or
    ``None`` when it has none."""
    import cv2

    box = wide_caption_box(luma)
    if box is None:
        return None
    height, width = luma.shape
    grow = 2  # JPEG rings around the plate's edges
    left, top = max(0, box[0] - grow), max(0, box[1] - grow)
    right, bottom = min(width, box[2] + grow), min(height, box[3] + grow)
    if top == 0 and bottom == height:
        return None  # the plate is the whole height: nothing to fill it from
    # a side at the picture's edge takes the other side's row
    above = luma[top - 1 if top > 0 else bottom, left:right]
    below = luma[bottom if bottom < height else top - 1, left:right]
    share = (np.arange(top, bottom) - top + 1)[:, None] / (bottom - top + 1)
    band = above * (1 - share) + below * share
    result = luma.astype(np.float32)
    result[top:bottom, left:right] = band
    blurred = cv2.GaussianBlur(result, (0, 0), max(1.0, FILL_BLUR * min(height, width)))
    result[top:bottom, left:right] = blurred[top:bottom, left:right]
    return result


def wide_caption_variants(picture: ReducedPicture) -> dict[str, str]:
    """``unplated``: the PDQ of the picture with a wide caption plate filled in,
    when one is found (stored as ``pdq_x_unplated``, within the 16 characters of a
    stored hash's name)."""
    height, width = picture.luma.shape
    full = picture.full or (height * picture.scale, width * picture.scale)
    small, k = block_mean(picture.luma)
    repaired = wide_caption_removed(small)
    if repaired is None:
        return {}
    rows, cols = ReducedPicture(small, picture.scale * k, full).operators()
    return {"unplated": buffer_hash(cols.apply(rows.apply(repaired).T).T, 0)[0]}
