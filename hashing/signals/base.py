"""The tiny abstract classes every signal type implements.

A signal type is one hash algorithm, and everything hotline does with it follows from its
class: ``name`` is the ``hashes.algorithm`` it is stored under, the known-set column it is
imported into and the ``match_type`` of its matches; ``content_types`` says which media
it is computed for; ``column_aliases`` are the other names known-set files give its
column; its hashes travel as ``hex_length`` lowercase hex digits; ``match_threshold`` is
the largest ``distance`` that still matches, found by ``index_cls`` (``None``: looked up
exactly); ``get_examples`` feeds the shared contract test. What it can hash is a mixin:
``BytesHasher`` (digests of the raw bytes) or ``ImageHasher`` (perceptual hashes of the
decoded RGB image, handed over as a ``Picture``).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, ClassVar

import numpy as np
from PIL import Image

from hashing.errors import InvalidHashError

if TYPE_CHECKING:
    import pyarrow as pa

    from hashing.signals.index import SignalIndex

CONTENT_TYPES = frozenset({"image", "video"})
"""What a signal type can be computed for: the kinds ``hashing.sniff`` tells apart."""


@dataclass(frozen=True)
class SignalHash:
    """One computed hash: lowercase hex, its quality where the algorithm has one, and the
    hashes of the same picture turned or mirrored (in the type's ``variant_names`` order)."""

    value: str
    quality: int | None = None
    variants: tuple[str, ...] = ()


class SignalType(ABC):
    """One hash algorithm whose hashes travel as fixed-length hex strings."""

    name: ClassVar[str]
    hex_length: ClassVar[int]
    content_types: ClassVar[frozenset[str]]
    column_aliases: ClassVar[tuple[str, ...]] = ()
    """Other header names of its column in known-set files, lowercase ("sha-1")."""
    known_set_column: ClassVar[bool] = True
    """Whether known sets carry it: a column of the normalised set, looked up when matching."""
    match_threshold: ClassVar[int] = 0
    index_cls: ClassVar[type[SignalIndex] | None] = None
    """Finds a set's hashes within ``match_threshold``; ``None``: exact lookups only."""
    has_quality: ClassVar[bool] = False
    """Its hashes carry a quality (0-100); one below the matcher's minimum is not looked up."""

    @classmethod
    def validate_hex(cls, value: str) -> str:
        """Return ``value`` stripped and lowercased, or raise ``InvalidHashError``."""
        return normalise_hex(value, cls.name, cls.hex_length)

    @classmethod
    def distance(cls, a: str, b: str) -> int:
        """Hamming distance in bits. For cryptographic digests only 0 is meaningful."""
        return (int(cls.validate_hex(a), 16) ^ int(cls.validate_hex(b), 16)).bit_count()

    @classmethod
    @abstractmethod
    def get_examples(cls) -> list[str]:
        """Valid hashes of this type, for the shared contract test."""


_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def luma(pixels: np.ndarray) -> np.ndarray:
    """The luma (ITU-R 601 weights, as PDQ computes it) of an ``[H, W, 3]`` uint8 array, float32."""
    result: np.ndarray = pixels.astype(np.float32) @ _LUMA
    return result


@dataclass(frozen=True)
class Picture:
    """A decoded picture as every ``ImageHasher`` receives it: the upright RGB ``image``,
    decoded at 1/``scale`` of the full (height, width) ``full`` the file declares
    (``None``: ``scale`` times its size, as for a part of a picture).

    Its pixels are read out of Pillow, and its luma computed, once for all the hashers
    and variants that need them (each read is a copy of the whole picture); a part cut
    out by ``crop`` shares them with the whole.
    """

    image: Image.Image
    scale: int = 1
    full: tuple[int, int] | None = None
    _whole: tuple[Picture, tuple[int, int, int, int]] | None = field(default=None, repr=False, compare=False)

    @cached_property
    def pixels(self) -> np.ndarray:
        """The ``[H, W, 3]`` uint8 RGB pixels (read-only)."""
        if self._whole is not None:
            whole, (left, top, right, bottom) = self._whole
            return whole.pixels[top:bottom, left:right]
        return np.asarray(self.image if self.image.mode == "RGB" else self.image.convert("RGB"))

    @cached_property
    def luma(self) -> np.ndarray:
        """The ``[H, W]`` float32 luma (``luma``)."""
        if self._whole is not None:
            whole, (left, top, right, bottom) = self._whole
            return whole.luma[top:bottom, left:right]
        return luma(self.pixels)

    def crop(self, box: tuple[int, int, int, int]) -> Picture:
        """The part inside ``box`` (left, top, right, bottom), at the same scale."""
        return Picture(self.image.crop(box), self.scale, None, (self, box))


class BytesHasher(ABC):
    """A signal type computed from the raw bytes of a file."""

    @classmethod
    @abstractmethod
    def hash_bytes(cls, data: bytes) -> SignalHash: ...


class ImageHasher(ABC):
    """A signal type computed from a decoded RGB image (see ``hashing.decode``), after a
    uniform border was trimmed off (``hashing.borders``): ``hash_image`` takes a Pillow
    image, the rest a ``Picture``."""

    variant_names: ClassVar[tuple[str, ...]] = ()
    """Turned or mirrored copies hashed with the picture and looked up too, each stored as
    ``<name>_<variant>``."""
    variants_label: ClassVar[str] = "variants"
    """``hotline hash --json`` lists the variants under ``<name>_<variants_label>``."""
    hash_untrimmed: ClassVar[bool] = False
    """Also hash the whole picture when a border was trimmed (``<name>_untrimmed``)."""

    @classmethod
    @abstractmethod
    def hash_image(cls, image: Image.Image) -> SignalHash: ...

    @classmethod
    def hash_with_variants(cls, picture: Picture) -> SignalHash:
        """The hash of ``picture`` with its ``variant_names`` variants (none by default).
        The picture may have been decoded at reduced size (``Picture.scale``): a type
        whose hashes must agree with full-size ones elsewhere (known sets) takes that
        into account."""
        return cls.hash_image(picture.image)

    @classmethod
    def edit_variants(cls, picture: Picture, *, repairs: bool = False) -> dict[str, str]:
        """Hashes of what ``picture`` may have been before a re-hosting edit (a downsizing;
        with ``repairs`` a small turn or a caption box), by variant name, looked up after
        the hash and its variants; none by default."""
        return {}

    @classmethod
    def whole_variants(cls, picture: Picture, *, crops: bool = False, repairs: bool = False) -> dict[str, str]:
        """Hashes of what ``picture``, the whole picture as decoded (border and all), may
        have been before a re-hosting edit that the border trimming can mistake for a
        border (with ``crops`` a crop, with ``repairs`` a wide caption plate), by variant
        name, looked up with the edit variants; none by default."""
        return {}


def normalise_hex(value: str, name: str, hex_length: int) -> str:
    """``value`` stripped and lowercased when it is ``hex_length`` hex digits, else
    ``InvalidHashError`` naming the signal type ``name`` (for code below the signal
    classes, such as an index, that must not import them)."""
    if not isinstance(value, str):
        raise InvalidHashError(f"{name} hash must be a str, got {value!r}")
    normalised = value.strip().lower()
    if len(normalised) != hex_length or not _HEX.fullmatch(normalised):
        raise InvalidHashError(f"{value!r} is not a {name} hash ({hex_length} hex digits)")
    return normalised


_HEX = re.compile(r"[0-9a-f]+")


_NIBBLE = np.full(256, 255, dtype=np.uint8)
_NIBBLE[np.frombuffer(b"0123456789abcdef", dtype=np.uint8)] = np.arange(16, dtype=np.uint8)


def hex_column_bytes(values: pa.Array, nbytes: int) -> np.ndarray:
    """A column of lowercase hex strings of ``2 * nbytes`` digits (as a normalised set holds
    them; nulls skipped) as ``uint8 [N, nbytes]``, decoded from Arrow's buffers in one pass:
    a set of millions of hashes is read without a Python string per hash."""
    import pyarrow as pa  # only where sets are read: hashing an item does not need it

    values = values.drop_null()
    if not len(values):
        return np.zeros((0, nbytes), dtype=np.uint8)
    values = pa.array(values, pa.string()) if values.type != pa.string() else values
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32)[values.offset : values.offset + len(values) + 1]
    digits = np.frombuffer(values.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
    nibbles = _NIBBLE[digits]
    if len(digits) != len(values) * nbytes * 2 or (nibbles == 255).any():
        raise InvalidHashError(f"not {nbytes * 2}-digit lowercase hex hashes")
    return ((nibbles[0::2] << 4) | nibbles[1::2]).reshape(len(values), nbytes)
