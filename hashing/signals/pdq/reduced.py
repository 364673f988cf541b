"""PDQ of a picture decoded at reduced size that agrees with the full-size PDQ, and its
variants computed from transformed pixels.

PDQ reduces the luma of a picture to 64x64 by two passes of a box filter whose width
follows the picture's size (Jarosz), then samples it; the hash is the sign of 16x16 DCT
coefficients against their median. Both steps are linear, so the reduction of one axis
is a 64 x N matrix, and the 64x64 buffer is ``rows @ luma @ cols.T``. A JPEG decoded by
libjpeg's DCT scaling at 1/k size gives about the mean of each k x k block; folding the
full-size matrix over blocks of k (``axis_operator``) applies PDQ's full-size filter to
those means, so the hash stays within a few bits of what Meta's reference computes on
the full-size pixels (pdqhash on a 1/4-size picture drifts by about 14 bits; see
``bench/bench_hashing.py``). At k = 1 the result is the reference's, bit for bit.

A mirrored or turned copy's buffer is the same product with flipped matrices,
transposed: the eight dihedral variants cost two large products, not eight, and unlike
rotating the 64x64 buffer (pdqhash's ``compute_dihedral``) they are the hash of the
transformed pixels, which the box filter's asymmetry makes differ by up to 40 bits on
finely textured pictures.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

BUFFER = 64

DIHEDRAL: tuple[tuple[str, bool, bool, bool], ...] = (
    # name, rows flipped, columns flipped, transposed: the picture that transform gives
    ("original", False, False, False),
    ("rotate90", False, True, True),
    ("rotate180", True, True, False),
    ("rotate270", True, False, True),
    ("flipx", True, False, False),
    ("flipy", False, True, False),
    ("flipplus1", False, False, True),
    ("flipminus1", True, True, True),
)
"""Each dihedral transform as flips of the rows and columns and a transposition, in
pdqhash's ``compute_dihedral`` order (``DIHEDRAL_NAMES`` after the original)."""


@lru_cache(maxsize=256)
def axis_operator(full: int, scale: int = 1) -> np.ndarray:
    """The 64 x ceil(full / scale) matrix that reduces one axis of a picture ``full``
    pixels long, decoded at 1/``scale`` size, as PDQ reduces the full-size axis."""
    window = (full + 2 * BUFFER - 1) // (2 * BUFFER)
    samples = np.array([int(((i + 0.5) * full) / BUFFER) for i in range(BUFFER)])
    columns, values = _twice_boxed(full, window, samples)
    matrix = np.zeros((BUFFER, -(-full // scale)), dtype=np.float32)
    rows = np.broadcast_to(np.arange(BUFFER)[:, None], columns.shape)
    np.add.at(matrix, (rows, columns // scale), values.astype(np.float32))  # a decoded pixel: its scale's sum
    matrix.setflags(write=False)
    return matrix


@dataclass(frozen=True)
class Band:
    """An axis operator kept as its non-zero band: row ``o`` weighs inputs
    ``start[o] .. start[o] + width - 1`` by ``weights[o]`` (a few dozen of hundreds), so
    applying it costs a gather and a small product instead of a dense one."""

    index: np.ndarray  # [64, width] input positions (clipped at the end)
    weights: np.ndarray  # [64, width] float32, zero past the row's support

    def apply(self, values: np.ndarray, *, flipped: bool = False) -> np.ndarray:
        """The operator (mirrored when ``flipped``) applied along the first axis of
        ``values`` ([n, ...] -> [64, ...])."""
        index = (len(values) - 1 - self.index) if flipped else self.index
        if values.ndim == 2 and not values.flags.c_contiguous and values.T.flags.c_contiguous:
            import cv2

            # a transposed buffer: gathering its rows, or numpy's copy, is 20 times slower
            values = cv2.transpose(values.T)
        result: np.ndarray = np.einsum("ok,ok...->o...", self.weights, values[index])
        return result


@lru_cache(maxsize=256)
def _band(full: int, scale: int, length: int) -> Band:
    return _as_band(axis_operator(full, scale)[:, :length])


def _as_band(matrix: np.ndarray) -> Band:
    length = matrix.shape[1]
    nonzero = matrix != 0
    start = nonzero.argmax(axis=1)
    end = length - nonzero[:, ::-1].argmax(axis=1)
    width = int((end - start).max())
    index = np.minimum(start[:, None] + np.arange(width)[None, :], length - 1)
    weights = np.take_along_axis(matrix, index, axis=1) * (np.arange(width)[None, :] < (end - start)[:, None])
    return Band(index, weights.astype(np.float32))


def _twice_boxed(n: int, window: int, samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The rows ``samples`` of ``_box(n, window) @ _box(n, window)`` as their non-zero
    band (column positions and values, ``[64, k]`` each; the band's tail past a row's
    end holds zeros), built from the ranges of the boxes a sample's box holds instead of
    the n x n product, whose cost grows with the square of the side: every picture of a
    size not seen before pays it once per axis, and every crop guessed (``uncrop``) is one."""
    half = (window + 2) // 2
    low = np.maximum(0, np.arange(n) - (window - half))
    high = np.minimum(n - 1, np.arange(n) + half - 1)
    held = low[samples][:, None] + np.arange(window)[None, :]  # [64, window] the boxes each sample's box holds
    used = held <= high[samples][:, None]
    held = np.minimum(held, n - 1)
    weight = used / ((high - low + 1)[held] * (high - low + 1)[samples][:, None])
    base = low[held[:, 0]]
    width = int((high[held[:, -1]] - base).max()) + 2
    steps = np.zeros((len(samples), width))
    rows = np.broadcast_to(np.arange(len(samples))[:, None], held.shape)
    np.add.at(steps, (rows, low[held] - base[:, None]), weight)
    np.add.at(steps, (rows, high[held] + 1 - base[:, None]), -weight)
    columns = base[:, None] + np.arange(width)[None, :]
    values = np.where(columns < n, np.cumsum(steps, axis=1), 0.0)
    return np.minimum(columns, n - 1), values


def _box(n: int, window: int) -> np.ndarray:
    """PDQ's one-dimensional box filter (``box1DFloat``) as an n x n matrix: output ``o``
    is the mean of inputs ``o - (window - half) .. o + half - 1``, cut at the ends."""
    half = (window + 2) // 2
    out = np.arange(n)
    low = np.maximum(0, out - (window - half))
    high = np.minimum(n - 1, out + half - 1)
    columns = np.arange(n)
    inside = (columns[None, :] >= low[:, None]) & (columns[None, :] <= high[:, None])
    result: np.ndarray = inside / (high - low + 1)[:, None]
    return result


_DCT = np.array(
    [[np.sqrt(2 / BUFFER) * np.cos(np.pi / 2 / BUFFER * (i + 1) * (2 * j + 1)) for j in range(BUFFER)]
     for i in range(16)],
    dtype=np.float64,
)


def buffer_hash(buffer: np.ndarray, quality: int | None = None) -> tuple[str, int]:
    """PDQ's hex hash and quality of a 64x64 reduced luma buffer (``quality`` when
    already known: a turned copy's is the same)."""
    values = buffer.astype(np.float64)
    return buffer_hashes(values[None])[0], _quality(values) if quality is None else quality


def buffer_hashes(buffers: np.ndarray) -> list[str]:
    """PDQ's hex hashes of ``[n, 64, 64]`` reduced luma buffers, in one batch."""
    return coefficient_hashes(_DCT @ buffers.astype(np.float64) @ _DCT.T)


def coefficient_hashes(dct: np.ndarray) -> list[str]:
    """PDQ's hex hashes of ``[n, 16, 16]`` DCT coefficients: each bit is a coefficient
    above its hash's median."""
    flat = dct.reshape(len(dct), 256)
    middle = np.partition(flat, (127, 128), axis=1)
    bits = (flat > ((middle[:, 127] + middle[:, 128]) / 2)[:, None])[:, ::-1]  # the reference's bit order
    return [row.tobytes().hex() for row in np.packbits(bits, axis=1)]


def _quality(buffer: np.ndarray) -> int:
    """PDQ's image-domain quality: the sum of neighbour differences (0..100)."""
    down = np.trunc(np.abs((buffer[:-1] - buffer[1:]) * 100 / 255)).sum()
    across = np.trunc(np.abs((buffer[:, :-1] - buffer[:, 1:]) * 100 / 255)).sum()
    return min(100, int((down + across) // 90))


@dataclass(frozen=True)
class ReducedPicture:
    """The luma of a picture as decoded (``[h, w]`` float32) and the DCT scale it was
    decoded at (1: full size)."""

    luma: np.ndarray
    scale: int = 1
    full: tuple[int, int] | None = None
    """The full-size (height, width) the file declares; ``None``: ``scale`` times the
    decoded size (a part of the picture)."""

    def crop(self, box: tuple[int, int, int, int]) -> ReducedPicture:
        """The part inside ``box`` (left, top, right, bottom) in decoded pixels."""
        left, top, right, bottom = box
        return ReducedPicture(self.luma[top:bottom, left:right], self.scale)

    def operators(self) -> tuple[Band, Band]:
        height, width = self.luma.shape
        full_height, full_width = self.full or (height * self.scale, width * self.scale)
        return _band(full_height, self.scale, height), _band(full_width, self.scale, width)

    def pdq(self) -> tuple[str, int]:
        """The PDQ hash and quality of the picture."""
        rows, cols = self.operators()
        return buffer_hash(cols.apply(rows.apply(self.luma).T).T)

    def dihedral(self) -> dict[str, tuple[str, int]]:
        """PDQ and quality of the picture and of its seven turned or mirrored copies, by
        ``DIHEDRAL`` name, each the hash of the transformed pixels. A transposed copy's
        DCT is the transposed DCT of the copy it is transposed from, so four buffers
        and their four DCTs give all eight."""
        rows, cols = self.operators()
        reduced = {flip: rows.apply(self.luma, flipped=flip).T for flip in (False, True)}  # [w, 64]
        flips = [(fr, fc) for fr in (False, True) for fc in (False, True)]
        buffers = np.stack([cols.apply(reduced[fr], flipped=fc).T for fr, fc in flips]).astype(np.float64)
        dct = _DCT @ buffers @ _DCT.T
        hashes = dict(zip(((fr, fc, t) for t in (False, True) for fr, fc in flips),
                          coefficient_hashes(np.concatenate([dct, dct.transpose(0, 2, 1)])), strict=True))
        quality = _quality(buffers[0])
        return {name: (hashes[flip_rows, flip_cols, transposed], quality)
                for name, flip_rows, flip_cols, transposed in DIHEDRAL}


@lru_cache(maxsize=1024)
def resampled_band(length: int, full: int, start: float, end: float) -> Band:
    """PDQ's reduction of an original axis ``full`` pixels long, of which a picture axis
    ``length`` pixels long shows the share ``start .. end`` (linear interpolation;
    positions outside it take the nearest edge pixel): how the original would hash if
    the picture were a crop or a resized copy of it."""
    positions = ((np.arange(full) + 0.5) / full - start) / (end - start) * length - 0.5
    positions = np.clip(positions, 0, length - 1)
    low = np.floor(positions).astype(int)
    high = np.minimum(low + 1, length - 1)
    part = positions - low
    reduction = axis_operator(full)
    matrix = np.zeros((length, BUFFER), dtype=np.float64)
    for target, weights in ((low, reduction * (1 - part)), (high, reduction * part)):
        # positions rise with the pixel, so each target's sources are one run: summed per run
        starts = np.flatnonzero(np.r_[True, target[1:] != target[:-1]])
        matrix[target[starts]] += np.add.reduceat(weights.T, starts, axis=0)
    return _as_band(matrix.T)


UPSCALED_SIDE = 1024
"""The long side a small picture is hashed at as if it were a downsized copy."""
UPSCALE_BELOW = 512
"""Pictures whose long side is shorter than this get the ``upscaled`` variant."""


def edit_variants(picture: ReducedPicture) -> dict[str, str]:
    """The PDQ of the original a re-hosted copy may have been downsized from:
    ``upscaled``, a picture smaller than 512 pixels on its long side hashed as if its
    original were ``UPSCALED_SIDE`` long (PDQ's box filter widens with the size). Crops
    are undone in ``uncrop``."""
    height, width = picture.luma.shape
    full_height, full_width = picture.full or (height * picture.scale, width * picture.scale)
    found = {}
    long_side = max(full_height, full_width)
    if long_side < UPSCALE_BELOW:
        zoom = UPSCALED_SIDE / long_side
        reduced = resampled_band(height, round(full_height * zoom), 0.0, 1.0).apply(picture.luma).T
        buffer = resampled_band(width, round(full_width * zoom), 0.0, 1.0).apply(reduced).T
        found["upscaled"] = buffer_hash(buffer, 0)[0]
    return found
