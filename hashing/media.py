"""One entry point for any media file: the bytes decide whether it is hashed as an image
or a video, whatever its name, URL or Content-Type claimed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from catalog.media_items.records import FrameHashRecord, HashRecord
from hashing.errors import UnsupportedImageError
from hashing.frames import FrameHash
from hashing.image import HashingConfig, ImageHashes, hash_image
from hashing.signals.pdq import DIHEDRAL_NAMES
from hashing.sniff import sniff
from hashing.video import VideoConfig, VideoHashes, hash_video

MediaHashes = ImageHashes | VideoHashes


@dataclass(frozen=True)
class MediaConfig:
    image: HashingConfig = field(default_factory=HashingConfig)
    video: VideoConfig = field(default_factory=VideoConfig)


def hash_media(
    data: bytes, config: MediaConfig = MediaConfig(), *, claimed: str | None = None
) -> MediaHashes:
    """Hash ``data`` as the image or video its bytes show it to be. ``claimed`` (a
    Content-Type or file name) only serves the error message when the bytes are
    neither. Raises a ``HashingError``."""
    description, kind = sniff(data)
    if kind == "video" or kind == "audio":
        return hash_video(data, config.video)
    if kind in ("image", "empty"):
        return hash_image(data, config.image)
    try:  # a format the sniffer does not know may still be one Pillow reads
        return hash_image(data, config.image)
    except UnsupportedImageError:
        claim = f" although it was given as {claimed!r}" if claimed else ""
        raise UnsupportedImageError(
            f"not an image or a video{claim}: the bytes are {description} "
            f"({len(data)} bytes starting {data[:16]!r})"
        ) from None


def hashes_from_records(
    records: Mapping[str, HashRecord], frames: list[FrameHashRecord] | None = None
) -> MediaHashes:
    """Rebuild the matchable hashes of an item from what the catalog stored
    (sizes unknown: 0)."""
    frame_hashes = tuple(FrameHash(f.t, f.pdq, f.quality) for f in frames or [])
    if "pdq" not in records:
        videohash = records.get("videohash")
        return VideoHashes(
            sha256=records["sha256"].value, md5=records["md5"].value,
            sha1=records["sha1"].value, width=0, height=0, duration=None,
            frames=frame_hashes, videohash=videohash.value if videohash else None,
        )  # fmt: skip
    pdq = records["pdq"]
    untrimmed = records.get("pdq_untrimmed")
    return ImageHashes(
        sha256=records["sha256"].value,
        md5=records["md5"].value,
        sha1=records["sha1"].value,
        pdq=pdq.value,
        pdq_quality=pdq.quality or 0,
        phash=records["phash"].value,
        width=0,
        height=0,
        pdq_untrimmed=untrimmed.value if untrimmed else None,
        dihedral=tuple(
            records[f"pdq_{n}"].value for n in DIHEDRAL_NAMES if f"pdq_{n}" in records
        ),
        frames=frame_hashes,
    )


def summarise(hashes: MediaHashes) -> dict[str, object]:
    """The hashes of one file as plain JSON values (what ``hotline hash --json`` prints):
    ``kind``, the digests, ``pdq`` (64 hex) with ``pdq_quality``, ``phash`` (16 hex),
    ``frames`` (``{t, pdq, quality}`` per sampled frame of a video or animation), and for
    images the untrimmed and dihedral PDQ variants."""
    frames = [{"t": f.t, "pdq": f.pdq, "quality": f.quality} for f in hashes.frames]
    common = {"md5": hashes.md5, "sha1": hashes.sha1, "sha256": hashes.sha256}
    if isinstance(hashes, VideoHashes):
        return {
            "kind": "video", **common, "pdq": None, "pdq_quality": None, "phash": None,
            "frames": frames, "videohash": hashes.videohash, "duration": hashes.duration,
            "width": hashes.width, "height": hashes.height,
        }  # fmt: skip
    return {
        "kind": "image", **common, "pdq": hashes.pdq, "pdq_quality": hashes.pdq_quality,
        "phash": hashes.phash, "frames": frames, "pdq_untrimmed": hashes.pdq_untrimmed,
        "pdq_dihedral": dict(zip(DIHEDRAL_NAMES, hashes.dihedral, strict=True)),
        "width": hashes.width, "height": hashes.height,
    }  # fmt: skip
