"""Every hash of one image file, computed in one pass over its bytes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from catalog.media_items.records import FrameHashRecord, HashRecord
from hashing.borders import IMAGE_BORDERS, BorderConfig, content_box
from hashing.decode import DecodeConfig, decode
from hashing.errors import HashingError
from hashing.frames import FrameHash
from hashing.signals import Md5Signal, PdqSignal, PhashSignal, Sha1Signal, Sha256Signal
from hashing.signals.pdq import DIHEDRAL_NAMES


@dataclass(frozen=True)
class HashingConfig:
    """Options for ``hash_image``: decoding limits, and the uniform borders trimmed
    before perceptual hashing (``borders=None`` keeps every image whole)."""

    decode: DecodeConfig = field(default_factory=DecodeConfig)
    borders: BorderConfig | None = IMAGE_BORDERS


@dataclass(frozen=True)
class ImageHashes:
    """The hashes of one image file.

    Digests are of the bytes as received. The perceptual hashes are of the first frame
    after EXIF rotation and after trimming a uniform border: ``pdq`` (with
    ``pdq_quality``), ``phash``, and ``dihedral``, the PDQ of its seven rotations and
    mirrorings (``DIHEDRAL_NAMES`` order) so a turned copy still matches. When a border
    was trimmed, ``pdq_untrimmed`` is the PDQ of the whole picture. ``frames`` holds
    every frame of an animation (empty for still images). ``width`` and ``height`` are
    the upright size the file declares.
    """

    sha256: str
    md5: str
    sha1: str
    pdq: str
    pdq_quality: int
    phash: str
    width: int
    height: int
    pdq_untrimmed: str | None = None
    dihedral: tuple[str, ...] = ()
    frames: tuple[FrameHash, ...] = ()

    def records(self) -> list[HashRecord]:
        """One ``HashRecord`` per algorithm, keyed by this file's SHA-256."""
        records = [
            HashRecord(self.sha256, "md5", self.md5),
            HashRecord(self.sha256, "sha1", self.sha1),
            HashRecord(self.sha256, "sha256", self.sha256),
            HashRecord(self.sha256, "pdq", self.pdq, quality=self.pdq_quality),
            HashRecord(self.sha256, "phash", self.phash),
        ]
        if self.pdq_untrimmed is not None:
            records.append(HashRecord(self.sha256, "pdq_untrimmed", self.pdq_untrimmed))
        records += [
            HashRecord(self.sha256, f"pdq_{name}", value)
            for name, value in zip(DIHEDRAL_NAMES, self.dihedral, strict=True)
        ]
        return records

    def frame_records(self) -> list[FrameHashRecord]:
        return [f.record(self.sha256, n) for n, f in enumerate(self.frames)]

    def pdq_queries(self, min_quality: int = 0) -> list[str]:
        """Every PDQ hash worth looking up for this item, without repeats; animation
        frames below ``min_quality`` are left out."""
        candidates = [self.pdq, *self.dihedral]
        if self.pdq_untrimmed is not None:
            candidates.append(self.pdq_untrimmed)
        candidates += [f.pdq for f in self.frames if f.quality >= min_quality]
        return list(dict.fromkeys(candidates))


def hash_image(data: bytes, config: HashingConfig = HashingConfig()) -> ImageHashes:
    """Hash one image file. Raises a ``HashingError`` subclass for anything that is
    not a decodable image within the configured limits."""
    decoded = decode(data, config.decode)
    whole = decoded.image
    inner = _trimmed(whole, config)
    variants, quality = PdqSignal.hash_dihedral(inner)
    return ImageHashes(
        sha256=Sha256Signal.hash_bytes(data).value,
        md5=Md5Signal.hash_bytes(data).value,
        sha1=Sha1Signal.hash_bytes(data).value,
        pdq=variants[0],
        pdq_quality=quality,
        phash=PhashSignal.hash_image(inner).value,
        width=decoded.width,
        height=decoded.height,
        pdq_untrimmed=PdqSignal.hash_image(whole).value if inner is not whole else None,
        dihedral=tuple(variants[1:]),
        frames=tuple(_frame_hash(t, frame, config) for t, frame in decoded.frames),
    )


def hash_images(
    items: Iterable[bytes], config: HashingConfig = HashingConfig()
) -> list[ImageHashes | HashingError]:
    """Hash many files; a file that fails gives its ``HashingError`` in its place."""
    results: list[ImageHashes | HashingError] = []
    for data in items:
        try:
            results.append(hash_image(data, config))
        except HashingError as exc:
            results.append(exc)
    return results


def _trimmed(image: Image.Image, config: HashingConfig) -> Image.Image:
    if config.borders is None:
        return image
    box = content_box(np.asarray(image), config.borders)
    return image if box is None else image.crop(box)


def _frame_hash(t: float, frame: Image.Image, config: HashingConfig) -> FrameHash:
    pdq = PdqSignal.hash_image(_trimmed(frame, config))
    return FrameHash(t, pdq.value, pdq.quality or 0)
