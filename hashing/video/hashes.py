"""Every hash of one video file: digests of the bytes and PDQ of frames sampled by time."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from catalog.media_items.records import FrameHashRecord, HashRecord
from hashing.borders import VIDEO_BARS, BorderConfig, content_box
from hashing.errors import CorruptVideoError
from hashing.frames import FRAME_SIGNAL, FrameHash
from hashing.item_hashes import ItemHashes
from hashing.signals import BytesHasher, signal_types_for
from hashing.video.collage import collage_hash
from hashing.video.frame_sampling import SampleConfig, sample_frames

_THUMBNAIL_SIDE = 96
"""Frames are kept this small for the collage hash, so memory stays flat however long
the video is."""


@dataclass(frozen=True)
class VideoConfig:
    """``sample``: how frames are taken; ``bars``: the black letterbox or pillarbox
    bars cut off each frame before PDQ (``None`` hashes whole frames, as Meta's vPDQ
    reference does)."""

    sample: SampleConfig = field(default_factory=SampleConfig)
    bars: BorderConfig | None = VIDEO_BARS


@dataclass(frozen=True)
class VideoHashes(ItemHashes):
    """The hashes of one video file: the signal types for videos (digests of the bytes),
    PDQ and quality of each sampled frame (after bar removal), and the collage hash
    (``videohash``, a secondary value that never decides a match)."""

    width: int
    height: int
    duration: float | None
    frames: tuple[FrameHash, ...]
    videohash: str | None = None
    samples: int | None = None  # frames the whole video should have yielded, when known

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
        return [f.record(self.sha256, n) for n, f in enumerate(self.frames)]


def hash_video(data: bytes, config: VideoConfig = VideoConfig()) -> VideoHashes:
    """Hash one video file with every signal type for videos that hashes bytes, and its
    sampled frames. Raises a ``VideoDecodeError`` for anything that is not a decodable
    video with at least one frame."""
    info, frames = sample_frames(data, config.sample)
    hashed: list[FrameHash] = []
    thumbnails: list[np.ndarray] = []
    for t, pixels in frames:
        if config.bars is not None:
            box = content_box(pixels, config.bars)
            if box is not None:
                left, top, right, bottom = box
                pixels = pixels[top:bottom, left:right]
        pdq = FRAME_SIGNAL.hash_pixels(pixels)
        hashed.append(FrameHash(t, pdq.value, pdq.quality or 0))
        thumbnails.append(_thumbnail(pixels))
    if not hashed:
        raise CorruptVideoError("the video stream holds no decodable frame")
    return VideoHashes(
        signals={s.name: s.hash_bytes(data) for s in signal_types_for("video") if issubclass(s, BytesHasher)},
        width=info.width,
        height=info.height,
        duration=info.duration,
        frames=tuple(hashed),
        videohash=collage_hash(thumbnails),
        samples=info.samples,
    )


def _thumbnail(pixels: np.ndarray) -> np.ndarray:
    image = Image.fromarray(pixels)
    image.thumbnail((_THUMBNAIL_SIDE, _THUMBNAIL_SIDE))
    return np.asarray(image)
