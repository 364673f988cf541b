"""Every hash of one image file, computed in one pass over its bytes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from PIL import Image

from catalog.media_items.records import FrameHashRecord, HashRecord
from hashing.borders import IMAGE_BORDERS, BorderConfig
from hashing.decode import DecodeConfig, decode
from hashing.errors import HashingError
from hashing.frames import FRAME_SIGNAL, FrameHash
from hashing.framing import FRAMES, FramingConfig, picture_box
from hashing.item_hashes import ItemHashes, first_name_per_hash
from hashing.signals import BytesHasher, ImageHasher, Picture, SignalHash, get_signal_type, signal_types_for


@dataclass(frozen=True)
class HashingConfig:
    """Options for ``hash_image``: decoding limits, and the uniform borders and the
    frames (gradient, patterned, blurred fill) trimmed before perceptual hashing
    (``borders=None`` and ``framing=None`` keep every image whole)."""

    decode: DecodeConfig = field(default_factory=DecodeConfig)
    borders: BorderConfig | None = IMAGE_BORDERS
    framing: FramingConfig | None = FRAMES
    edit_variants: bool = True
    """Also hash what the picture may have been before a downsizing
    (``ImageHasher.edit_variants``), stored and looked up after the other hashes."""
    crop_variants: bool = False
    """With ``edit_variants``, also what it may have been before a crop
    (``hashing.signals.pdq.uncrop``: up to about 6% of each dimension, or 10 or 15% of
    both): 129 more PDQs stored and looked up per image, about 10 ms more CPU per picture
    on the matching bench (about as much as the 63 of the 2.5% grid they replaced), and 129 more index queries, which cost more than the hashing
    on a large set, so off unless recall on cropped copies is worth that (docs/hashing.md,
    "Query variants")."""
    repair_variants: bool = True
    """With ``edit_variants``, also the picture with a turn of 2 to 4 degrees undone and
    with a caption box filled in (``hashing.signals.pdq.repairs``): up to 7 more PDQs
    per image (docs/hashing.md, "Query variants")."""


@dataclass(frozen=True)
class ImageHashes(ItemHashes):
    """The hashes of one image file.

    Digests are of the bytes as received. The perceptual hashes are of the first frame
    after EXIF rotation and after trimming a border, each with its variants: PDQ's
    ``dihedral``, the PDQ of the picture's seven rotations and mirrorings
    (``DIHEDRAL_NAMES`` order), so a turned copy still matches. When a border was
    trimmed, ``untrimmed`` holds the hashes of the whole picture (with its variants) for
    the signal types that keep it (PDQ: ``pdq_untrimmed``); ``edited`` the hashes of
    what it may have been before a crop or a downsizing. ``frames`` holds every frame
    of an animation (empty for still images). ``width`` and ``height`` are the upright
    size the file declares.
    """

    width: int
    height: int
    untrimmed: Mapping[str, SignalHash] = field(default_factory=dict)
    frames: tuple[FrameHash, ...] = ()
    edited: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Per signal type, the hashes of what the picture may have been before a re-hosting
    edit, by variant name (PDQ: ``cs_1320`` ..., ``upscaled``), stored as ``<name>_x_<variant>``."""

    @property
    def pdq(self) -> str:
        return self.signals["pdq"].value

    @property
    def pdq_quality(self) -> int:
        return self.signals["pdq"].quality or 0

    @property
    def dihedral(self) -> tuple[str, ...]:
        return self.signals["pdq"].variants

    @property
    def pdq_untrimmed(self) -> str | None:
        found = self.untrimmed.get("pdq")
        return None if found is None else found.value

    @property
    def phash(self) -> str:
        return self.signals["phash"].value

    def records(self) -> list[HashRecord]:
        """One ``HashRecord`` per signal type, then the untrimmed hashes
        (``<name>_untrimmed``), then the variants (``<name>_<variant>``), the
        untrimmed hashes' variants (``<name>_u_<variant>``) and the edit variants
        (``<name>_x_<variant>``)."""
        records = super().records()
        records += [HashRecord(self.sha256, f"{name}_untrimmed", found.value) for name, found in self.untrimmed.items()]
        records += [
            HashRecord(self.sha256, f"{name}_{prefix}{variant}", value)
            for prefix, signals in (("", self.signals), (UNTRIMMED_PREFIX, self.untrimmed))
            for name, found in signals.items()
            for variant, value in zip(variant_names(name), found.variants, strict=False)  # none: stored before
        ]
        return records + [HashRecord(self.sha256, f"{name}_{EDITED_PREFIX}{variant}", value)
                          for name, found in self.edited.items() for variant, value in found.items()]

    def frame_records(self) -> list[FrameHashRecord]:
        return [f.record(self.sha256, n) for n, f in enumerate(self.frames)]

    def named_lookups(self, name: str, min_quality: int = 0) -> list[tuple[str, str]]:
        """Also the untrimmed picture's hash and its variants (``untrimmed``,
        ``untrimmed_rotate90`` ...), and for the frame signal (PDQ) the animation frames
        at or above ``min_quality`` (``frame@<t>s``), then the edit variants (``x_cs_1320``)."""
        found = super().named_lookups(name, min_quality)
        if not found:
            return found
        if name in self.untrimmed:
            whole = self.untrimmed[name]
            found.append(("untrimmed", whole.value))
            found += [(f"untrimmed_{v}", value) for v, value in zip(variant_names(name), whole.variants, strict=False)]
        if name == FRAME_SIGNAL.name:
            found += [(f"frame@{f.t:g}s", f.pdq) for f in self.frames if f.quality >= min_quality]
        found += [(f"{EDITED_PREFIX}{variant}", value) for variant, value in self.edited.get(name, {}).items()]
        return first_name_per_hash(found)


EDITED_PREFIX = "x_"
"""Stored names of the edit variants: ``pdq_x_cs_1320``, ``pdq_x_upscaled``."""
UNTRIMMED_PREFIX = "u_"
"""Stored names of the untrimmed picture's variants: ``pdq_u_rotate90`` (at most 16
characters with the longest variant name)."""


def variant_names(name: str) -> tuple[str, ...]:
    """The variants the signal type ``name`` computes (``pdq``: the dihedral ones)."""
    signal = get_signal_type(name)
    return signal.variant_names if issubclass(signal, ImageHasher) else ()


def hash_image(data: bytes, config: HashingConfig = HashingConfig()) -> ImageHashes:
    """Hash one image file with every signal type for images. Raises a ``HashingError``
    subclass for anything that is not a decodable image within the configured limits."""
    decoded = decode(data, config.decode)
    whole = Picture(decoded.image, decoded.scale, (decoded.height, decoded.width))
    inner = _trimmed(whole, config)
    signals: dict[str, SignalHash] = {}
    untrimmed: dict[str, SignalHash] = {}
    edited: dict[str, dict[str, str]] = {}
    for signal in signal_types_for("image"):
        if issubclass(signal, BytesHasher):
            signals[signal.name] = signal.hash_bytes(data)
        elif issubclass(signal, ImageHasher):
            if config.edit_variants:
                found = signal.edit_variants(inner, repairs=config.repair_variants)
                # from the whole picture: the new edge a crop or a caption plate leaves is
                # often flat enough to be trimmed as a border, and the original holds it
                found |= signal.whole_variants(whole, crops=config.crop_variants, repairs=config.repair_variants)
                if found:
                    edited[signal.name] = found
            signals[signal.name] = signal.hash_with_variants(inner)
            if inner is not whole and signal.hash_untrimmed:
                untrimmed[signal.name] = signal.hash_with_variants(whole)
    return ImageHashes(
        signals=signals,
        width=decoded.width,
        height=decoded.height,
        untrimmed=untrimmed,
        frames=tuple(_frame_hash(t, frame, config) for t, frame in decoded.frames),
        edited=edited,
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


def _trimmed(picture: Picture, config: HashingConfig) -> Picture:
    box = picture_box(picture.image, config.borders, config.framing, pixels=picture.pixels)
    return picture if box is None else picture.crop(box)


def _frame_hash(t: float, frame: Image.Image, config: HashingConfig) -> FrameHash:
    pdq = FRAME_SIGNAL.hash_image(_trimmed(Picture(frame), config).image)
    return FrameHash(t, pdq.value, pdq.quality or 0)
