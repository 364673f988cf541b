"""Query variants that undo a crop: the PDQ of the larger original a cropped copy may have
been cut from.

A hash-only list holds the PDQ of the whole original. A copy with a few percent cut off
its sides shifts and stretches everything PDQ's 64x64 reduction sees, which moves the
hash by 40 to 100 bits; put back into a frame of the original's proportions, at the
place the crop took it from, it hashes within the threshold again when the guess of
each side's share is within about half a percent. The strips the crop took are not in
the copy: they are filled with the copy's edge pixels carried outward and blurred along
the edge (a plain edge replication keeps every fine line of the outermost row as a
streak; a mirror of the picture's edge, the mean luma or a normalised-convolution fill
were each further off on the matching bench).

All of it works on the luma averaged to at most ``SIDE`` pixels on the long side
(``repairs.block_mean``): the copy is padded once by the largest share of each side and
the fill blurred once; each guess is then a window of that canvas, reduced as the
reference reduces a full-size original of the window's proportions (``ReducedPicture``
with the window's full size), one row reduction per guess of the top and bottom shares
and one column reduction and DCT per guess.
"""

from __future__ import annotations

import numpy as np

from hashing.signals.pdq.reduced import BUFFER, ReducedPicture, _as_band, axis_operator, buffer_hashes
from hashing.signals.pdq.repairs import block_mean

SIDE = 128
"""The long side, in averaged pixels, the guesses are made at (PDQ keeps 64x64 of it)."""
STEP = 0.0125
"""The step of the guessed share of each side, as a share of the original's dimension."""
SMALL_CUTS = (0.0, 0.025, 0.05)
"""A small crop takes one of these shares of each dimension (none: only the other one
was cut), split between its two sides in ``STEP`` steps: 9 guesses a dimension, 80
variants (``u_0000`` is the picture itself). A guess within about half a percent of each
side matches, so this covers crops of up to about 6% of a dimension."""
LARGE_STEP = 0.05
LARGE_CUTS = (0.10, 0.15)
"""A large crop takes one of these shares of both dimensions, split between the two
sides in ``LARGE_STEP`` steps: 7 guesses a dimension, 49 variants. With a sixth or more
of the picture gone only the nearly exact guess comes within the threshold, and only
for pictures whose edges carry little."""
EDGE_BLUR = 0.03
"""The Gaussian sigma, as a share of the shorter side of the canvas, the carried-out
edge is blurred by."""


def _pairs(cuts: tuple[float, ...], step: float) -> list[tuple[float, float]]:
    """(first side, second side) shares in ``step`` steps adding up to one of ``cuts``."""
    found = []
    for cut in cuts:
        steps = round(cut / step)
        found += [(a * step, (steps - a) * step) for a in range(steps + 1)]
    return found


SMALL = _pairs(SMALL_CUTS, STEP)
LARGE = _pairs(LARGE_CUTS, LARGE_STEP)


def uncropped_variants(picture: ReducedPicture) -> dict[str, str]:
    """PDQs of the original the picture may have been cropped from, by variant name:
    ``cs_TBLR`` for a small crop (each letter the share of the top, bottom, left and
    right side in ``STEP`` steps; ``cs_0000`` left out: it is the picture itself) and
    ``cl_TBLR`` for a large one (in ``LARGE_STEP`` steps)."""
    height, width = picture.luma.shape
    full_height, full_width = picture.full or (height * picture.scale, width * picture.scale)
    small, k = block_mean(picture.luma, SIDE)
    found = _guesses(small, picture.scale * k, (full_height, full_width), SMALL, STEP, "cs")
    found |= _guesses(small, picture.scale * k, (full_height, full_width), LARGE, LARGE_STEP, "cl")
    found.pop("cs_0000", None)
    return found


def _guesses(
    luma: np.ndarray, scale: int, full: tuple[int, int], pairs: list[tuple[float, float]], step: float, prefix: str
) -> dict[str, str]:  # fmt: skip
    """The PDQ of each guess of the four sides' shares, both dimensions guessed from
    ``pairs``: the copy (``luma``, each pixel ``scale`` full-size pixels of a copy
    ``full`` (height, width) in size) put back into the frame of the original."""
    import cv2

    height, width = luma.shape
    most = max(a + b for a, b in pairs)
    margin = [round(length * most / (1 - most)) + 2 for length in (height, width)]
    canvas = cv2.copyMakeBorder(luma, margin[0], margin[0], margin[1], margin[1], cv2.BORDER_REPLICATE)
    blurred = cv2.GaussianBlur(canvas, (0, 0), max(1.0, EDGE_BLUR * min(canvas.shape)))
    blurred[margin[0] : margin[0] + height, margin[1] : margin[1] + width] = luma
    (rows, row_weights), (cols, col_weights) = (
        _reductions(pairs, full[axis], scale, margin[axis], blurred.shape[axis]) for axis in (0, 1))
    # every guess's 64x64 buffer from the few canvas pixels each of its cells weighs
    reduced = np.einsum("ok,okw->ow", row_weights, blurred[rows])  # [p*64, W]
    crossed = np.einsum("qk,oqk->oq", col_weights, reduced[:, cols])  # [p*64, q*64]
    buffers = crossed.reshape(len(pairs), BUFFER, len(pairs), BUFFER).transpose(0, 2, 1, 3)
    hashes = buffer_hashes(buffers.reshape(-1, BUFFER, BUFFER))
    names = [f"{prefix}_{round(top / step)}{round(bottom / step)}{round(left / step)}{round(right / step)}"
             for top, bottom in pairs for left, right in pairs]  # fmt: skip
    return dict(zip(names, hashes, strict=True))


def _reductions(
    pairs: list[tuple[float, float]], full: int, scale: int, margin: int, length: int
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """For each guess in ``pairs`` of the shares the two sides of an axis lost, PDQ's
    reduction of the original's axis (``full`` / (1 - the shares) full-size pixels, each
    canvas pixel ``scale`` of them) laid where the original lies on the canvas (the copy
    after ``margin`` pixels, ``length`` in all), as the canvas positions each of the 64
    outputs weighs and their weights: two ``[len(pairs) * 64, k]`` arrays."""
    bands = []
    for first, second in pairs:
        original = round(full / (1 - first - second))
        start = margin - round(original * first / scale)
        stop = min(length, start + -(-original // scale))
        band = _as_band(axis_operator(original, scale)[:, : stop - start])
        bands.append((band.index + start, band.weights))
    width = max(index.shape[1] for index, _ in bands)
    index = np.concatenate([np.pad(i, ((0, 0), (0, width - i.shape[1])), mode="edge") for i, _ in bands])
    weights = np.concatenate([np.pad(w, ((0, 0), (0, width - w.shape[1]))) for _, w in bands])
    return index, weights
