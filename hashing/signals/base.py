"""The tiny abstract classes every signal type implements.

A signal type is one hash algorithm: a name, a fixed-length lowercase hex form, a
distance, and examples for the shared contract test. What it can hash is a mixin:
``BytesHasher`` (cryptographic digests of the raw bytes) or ``ImageHasher``
(perceptual hashes of the decoded RGB image).
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from PIL import Image

from hashing.errors import InvalidHashError


@dataclass(frozen=True)
class SignalHash:
    """One computed hash: lowercase hex, plus quality where the algorithm has one."""

    value: str
    quality: int | None = None


class SignalType(ABC):
    """One hash algorithm whose hashes travel as fixed-length hex strings."""

    name: ClassVar[str]
    hex_length: ClassVar[int]

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


class BytesHasher(ABC):
    """A signal type computed from the raw bytes of a file."""

    @classmethod
    @abstractmethod
    def hash_bytes(cls, data: bytes) -> SignalHash: ...


class ImageHasher(ABC):
    """A signal type computed from a decoded RGB image (see ``hashing.decode``)."""

    @classmethod
    @abstractmethod
    def hash_image(cls, image: Image.Image) -> SignalHash: ...


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
