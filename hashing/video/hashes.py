"""Every hash of one video file: digests of the bytes and PDQ of frames sampled by time.

Black bars are decided once for the whole clip, from its key frames, not frame by frame:
a dark scene looks like more bar than there is, and cutting each frame by its own
amount moved the hashes of dark, high-contrast clips past the match threshold. A clip
with bars keeps the hashes of its whole frames too (view ``uncut``: sets hashed by
Meta's vPDQ hash whole frames), and every clip keeps the hashes of its frames mirrored
left to right (view ``mirrored``: the mirrored frame hashed, which lands nearer a
mirrored copy than PDQ's dihedral variant of the hash does) and, when a static overlay
(a logo) sits on the moving picture, the frames with it painted out (view ``overlay``,
``hashing.video.overlay``)."""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from catalog.media_items.records import FrameHashRecord, HashRecord
from hashing.borders import VIDEO_BARS, BorderConfig, Box, content_box
from hashing.errors import CorruptVideoError
from hashing.frames import FRAME_SIGNAL, MIRRORED, OVERLAY, UNCUT, FrameHash
from hashing.item_hashes import ItemHashes
from hashing.signals import BytesHasher, SignalHash, signal_types_for
from hashing.video.collage import collage_hash
from hashing.video.frame_sampling import SampleConfig, key_frames, sample_frames
from hashing.video.overlay import overlay_mask, painted_out

FractionBox = tuple[float, float, float, float]
"""A ``Box`` as shares of the width and height (frames are sampled at other sizes)."""
_FLAT = 8.0
"""Key frames whose luma varies less than this (fades, black frames) say nothing of bars."""

_OVERLAY_FRAMES = 8
"""Sampled frames an overlay is looked for on (the first ones; all of a shorter clip)."""
_THUMBNAIL_SIDE = 96
"""Frames are kept this small for the collage hash, so memory stays flat however long
the video is."""


@dataclass(frozen=True)
class VideoConfig:
    """``sample``: how frames are taken; ``bars``: the black letterbox or pillarbox
    bars cut off the clip's frames before PDQ (``None`` hashes whole frames, as Meta's
    vPDQ reference does)."""

    sample: SampleConfig = field(default_factory=SampleConfig)
    bars: BorderConfig | None = VIDEO_BARS


@dataclass(frozen=True)
class VideoHashes(ItemHashes):
    """The hashes of one video file: the signal types for videos (digests of the bytes),
    PDQ and quality of each sampled frame (after bar removal), and the collage hash
    (``videohash``, a secondary value that never decides a match). ``views``: the same
    frames seen otherwise, by name (``mirrored``; ``uncut`` when bars were cut off),
    each compared with known videos on its own."""

    width: int
    height: int
    duration: float | None
    frames: tuple[FrameHash, ...]
    videohash: str | None = None
    samples: int | None = None  # frames the whole video should have yielded, when known
    views: Mapping[str, tuple[FrameHash, ...]] = field(default_factory=dict)

    @property
    def incomplete(self) -> str | None:
        """Why the frames hashed are fewer than the video promised (damaged or truncated
        after its first frames): a reason worth recording, or None."""
        if self.samples is None or len(self.frames) >= self.samples:
            return None
        return (f"only {len(self.frames)} of {self.samples} sampled frames decoded; the rest of the "
                f"video is damaged or truncated, and matched on those frames alone")

    def records(self) -> list[HashRecord]:
        records = super().records()
        if self.videohash is not None:
            records.append(HashRecord(self.sha256, "videohash", self.videohash))
        return records

    def frame_records(self) -> list[FrameHashRecord]:
        """The sampled frames numbered from 0, then each view's, numbered on."""
        records = [f.record(self.sha256, n) for n, f in enumerate(self.frames)]
        for view, frames in self.views.items():
            records += [f.record(self.sha256, len(records) + n, view) for n, f in enumerate(frames)]
        return records


def hash_video(data: bytes, config: VideoConfig = VideoConfig()) -> VideoHashes:
    """Hash one video file with every signal type for videos that hashes bytes, and its
    sampled frames. Raises a ``VideoDecodeError`` for anything that is not a decodable
    video with at least one frame."""
    info, sampled = sample_frames(data, config.sample)
    frames = iter(sampled)
    opening = next(frames, None)
    box: FractionBox | None = None
    if config.bars is not None and not (opening is not None and _without_bars(opening[1], config.bars)):
        # the first frame is the first key frame, which ``clip_bars`` would look at: when it
        # shows no bars the clip has none, and the key frames need not be decoded
        box = clip_bars(key_frames(data), config.bars)
    if opening is not None:
        frames = itertools.chain([opening], frames)
    hashed: list[FrameHash] = []
    mirrored: list[FrameHash] = []
    uncut: list[FrameHash] = []
    thumbnails: list[np.ndarray] = []
    first: list[tuple[float, np.ndarray]] = []  # the first frames, until the overlay is known
    mask: np.ndarray | None = None
    painted: list[FrameHash] = []
    for t, pixels in frames:
        if box is not None:
            uncut.append(_frame_hash(t, FRAME_SIGNAL.hash_pixels(pixels)))
            height, width = pixels.shape[:2]
            left, top, right, bottom = (round(v * s) for v, s in zip(box, (width, height, width, height), strict=True))
            pixels = pixels[top:bottom, left:right]
        hashed.append(_frame_hash(t, FRAME_SIGNAL.hash_pixels(pixels)))
        mirrored.append(_frame_hash(t, FRAME_SIGNAL.hash_pixels(pixels[:, ::-1])))
        thumbnails.append(_thumbnail(pixels))
        if len(first) < _OVERLAY_FRAMES:
            first.append((t, pixels))
            if len(first) == _OVERLAY_FRAMES:
                mask = overlay_mask([p for _, p in first])
                painted += _painted(first, mask)
        elif mask is not None:
            painted += _painted([(t, pixels)], mask)
    if not hashed:
        raise CorruptVideoError("the video stream holds no decodable frame")
    if len(first) < _OVERLAY_FRAMES:  # a short clip: judged on all its frames
        painted = _painted(first, overlay_mask([p for _, p in first]))
    views = {MIRRORED: tuple(mirrored)} | ({UNCUT: tuple(uncut)} if uncut else {})
    if painted:
        views[OVERLAY] = tuple(painted)
    return VideoHashes(
        signals={s.name: s.hash_bytes(data) for s in signal_types_for("video") if issubclass(s, BytesHasher)},
        width=info.width,
        height=info.height,
        duration=info.duration,
        frames=tuple(hashed),
        videohash=collage_hash(thumbnails),
        samples=info.samples,
        views=views,
    )


def clip_bars(frames: Sequence[np.ndarray], config: BorderConfig | None = VIDEO_BARS) -> FractionBox | None:
    """The black bars of a whole clip, as shares of the width and height, from a few of
    its frames: a bar is in every frame, so the clip's content box is the union of the
    frames' (a dark frame that seems to have wider bars does not narrow it); a frame
    without bars means the clip has none. Flat frames (fades), and frames too dark to
    tell bars from picture, do not count. ``None``:
    no bars, or nothing to judge by."""
    if config is None:
        return None
    boxes: list[FractionBox] = []
    for pixels in frames:
        if _flat(pixels):
            continue
        box = content_box(pixels, config)
        if box is None:
            if _dark_edge(pixels, config):
                continue  # so dark that bars and picture are one: undecided
            return None
        boxes.append(_fractions(box, pixels.shape[1], pixels.shape[0]))
    if not boxes:
        return None
    left, top = min(b[0] for b in boxes), min(b[1] for b in boxes)
    right, bottom = max(b[2] for b in boxes), max(b[3] for b in boxes)
    return None if (left, top, right, bottom) == (0.0, 0.0, 1.0, 1.0) else (left, top, right, bottom)


def _without_bars(pixels: np.ndarray, config: BorderConfig) -> bool:
    """Whether this one frame shows the clip has no bars (``clip_bars`` returns ``None``
    for any clip holding it)."""
    return not _flat(pixels) and content_box(pixels, config) is None and not _dark_edge(pixels, config)


def _flat(pixels: np.ndarray) -> bool:
    return float(pixels.mean(axis=2).std()) < _FLAT


def _fractions(box: Box, width: int, height: int) -> FractionBox:
    left, top, right, bottom = box
    return (left / width, top / height, right / width, bottom / height)


def _dark_edge(pixels: np.ndarray, config: BorderConfig) -> bool:
    """Whether an outermost row or column of the frame could be a bar."""
    limit = config.max_luma if config.max_luma is not None else 255
    edges = (pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1])
    return any(float(edge.mean()) <= limit and int(np.ptp(edge)) <= 2 * config.tolerance for edge in edges)


def _painted(frames: Sequence[tuple[float, np.ndarray]], mask: np.ndarray | None) -> list[FrameHash]:
    if mask is None:
        return []
    return [_frame_hash(t, FRAME_SIGNAL.hash_pixels(painted_out(p, mask))) for t, p in frames if p.shape[:2] == mask.shape]


def _frame_hash(t: float, pdq: SignalHash) -> FrameHash:
    return FrameHash(t, pdq.value, pdq.quality or 0)


def _thumbnail(pixels: np.ndarray) -> np.ndarray:
    image = Image.fromarray(pixels)
    image.thumbnail((_THUMBNAIL_SIDE, _THUMBNAIL_SIDE))
    return np.asarray(image)
