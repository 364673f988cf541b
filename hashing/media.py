"""One entry point for any media file: the bytes decide whether it is hashed as an image
or a video, whatever its name, URL or Content-Type claimed."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from catalog.media_items.records import FrameHashRecord, HashRecord
from hashing.errors import UnsupportedImageError
from hashing.frames import FrameHash
from hashing.image import EDITED_PREFIX, UNTRIMMED_PREFIX, HashingConfig, ImageHashes, hash_image, variant_names
from hashing.signals import SIGNAL_TYPES, ImageHasher, SignalHash, signal_types_for
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
    """Rebuild the matchable hashes of an item from what the catalog stored (sizes
    unknown: 0). An item with a hash only images have is an image."""
    frame_hashes = tuple(FrameHash(f.t, f.pdq, f.quality) for f in frames or [] if f.view is None)
    views: dict[str, tuple[FrameHash, ...]] = {}
    for f in frames or []:
        if f.view is not None:
            views[f.view] = (*views.get(f.view, ()), FrameHash(f.t, f.pdq, f.quality))
    image = any(s.name in records and "video" not in s.content_types for s in SIGNAL_TYPES.values())
    signals: dict[str, SignalHash] = {}
    for signal in signal_types_for("image" if image else "video"):
        if signal.name in records:
            found = records[signal.name]
            variants = [records.get(f"{signal.name}_{v}") for v in variant_names(signal.name)]
            quality = (found.quality or 0) if signal.has_quality else found.quality
            signals[signal.name] = SignalHash(found.value, quality, tuple(v.value for v in variants if v))
    if not image:
        videohash = records.get("videohash")
        return VideoHashes(
            signals=signals, width=0, height=0, duration=None, frames=frame_hashes,
            videohash=videohash.value if videohash else None, views=views,
        )  # fmt: skip
    untrimmed = {
        n: SignalHash(records[f"{n}_untrimmed"].value, variants=tuple(
            records[f"{n}_{UNTRIMMED_PREFIX}{v}"].value for v in variant_names(n) if f"{n}_{UNTRIMMED_PREFIX}{v}" in records))
        for n in signals if f"{n}_untrimmed" in records
    }  # fmt: skip
    edited = {n: {key[len(f"{n}_{EDITED_PREFIX}"):]: r.value for key, r in records.items()
                  if key.startswith(f"{n}_{EDITED_PREFIX}")} for n in signals}
    return ImageHashes(signals=signals, width=0, height=0, untrimmed=untrimmed, frames=frame_hashes,
                       edited={n: found for n, found in edited.items() if found})


def summarise(hashes: MediaHashes) -> dict[str, object]:
    """The hashes of one file as plain JSON values (what ``hotline hash --json`` prints):
    ``kind``, every signal type's hash by name (``null`` when not computed for the kind:
    ``pdq`` and ``phash`` of a video), with ``<name>_quality`` for those that have one
    (``pdq_quality``), ``frames`` (``{t, pdq, quality}`` per sampled frame of a video or
    animation), for images the untrimmed hashes and the variants (``pdq_untrimmed``,
    ``pdq_dihedral``), for videos ``videohash`` and ``duration``, then the size."""
    out: dict[str, object] = {"kind": "video" if isinstance(hashes, VideoHashes) else "image"}
    for signal in SIGNAL_TYPES.values():
        found = hashes.signals.get(signal.name)
        out[signal.name] = found.value if found else None
        if signal.has_quality:
            out[f"{signal.name}_quality"] = found.quality if found else None
    out["frames"] = [{"t": f.t, "pdq": f.pdq, "quality": f.quality} for f in hashes.frames]
    if isinstance(hashes, VideoHashes):
        out |= {"videohash": hashes.videohash, "duration": hashes.duration}
    else:
        for signal in signal_types_for("image"):
            if issubclass(signal, ImageHasher) and signal.name in hashes.signals:
                if signal.hash_untrimmed:
                    whole = hashes.untrimmed.get(signal.name)
                    out[f"{signal.name}_untrimmed"] = whole.value if whole else None
                if signal.variant_names:
                    variants = hashes.signals[signal.name].variants
                    out[f"{signal.name}_{signal.variants_label}"] = dict(zip(signal.variant_names, variants, strict=True))
    return out | {"width": hashes.width, "height": hashes.height}
