"""Every hash of one image file, computed in one pass over its bytes."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from catalog.records import HashRecord
from hashing.decode import DecodeConfig, decode_image
from hashing.errors import HashingError
from hashing.signals import Md5Signal, PdqSignal, PhashSignal, Sha1Signal, Sha256Signal


@dataclass(frozen=True)
class HashingConfig:
    """Options for ``hash_image``. Seams for later work (border trimming, dihedral
    PDQ variants, video) become fields here."""

    decode: DecodeConfig = field(default_factory=DecodeConfig)


@dataclass(frozen=True)
class ImageHashes:
    """The hashes of one image file. Digests are of the bytes as received; ``pdq``,
    ``phash``, ``width`` and ``height`` are of the decoded image after EXIF rotation."""

    sha256: str
    md5: str
    sha1: str
    pdq: str
    pdq_quality: int
    phash: str
    width: int
    height: int

    def records(self) -> list[HashRecord]:
        """One ``HashRecord`` per algorithm, keyed by this file's SHA-256."""
        return [
            HashRecord(self.sha256, "md5", self.md5),
            HashRecord(self.sha256, "sha1", self.sha1),
            HashRecord(self.sha256, "sha256", self.sha256),
            HashRecord(self.sha256, "pdq", self.pdq, quality=self.pdq_quality),
            HashRecord(self.sha256, "phash", self.phash),
        ]


def hash_image(data: bytes, config: HashingConfig = HashingConfig()) -> ImageHashes:
    """Hash one image file. Raises a ``HashingError`` subclass for anything that is
    not a decodable image within the configured limits."""
    image = decode_image(data, config.decode)
    pdq = PdqSignal.hash_image(image)
    return ImageHashes(
        sha256=Sha256Signal.hash_bytes(data).value,
        md5=Md5Signal.hash_bytes(data).value,
        sha1=Sha1Signal.hash_bytes(data).value,
        pdq=pdq.value,
        pdq_quality=pdq.quality if pdq.quality is not None else 0,
        phash=PhashSignal.hash_image(image).value,
        width=image.width,
        height=image.height,
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
