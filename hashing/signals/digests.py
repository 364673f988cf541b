"""Cryptographic digests of the raw bytes: MD5, SHA-1, SHA-256 (exact matching only)."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from hashing.signals.base import BytesHasher, SignalHash, SignalType


class _DigestSignal(SignalType, BytesHasher):
    content_types = frozenset({"image", "video"})
    _examples: ClassVar[tuple[bytes, ...]] = (b"", b"hotline")

    @classmethod
    def hash_bytes(cls, data: bytes) -> SignalHash:
        return SignalHash(
            hashlib.new(cls.name, data, usedforsecurity=False).hexdigest()
        )

    @classmethod
    def get_examples(cls) -> list[str]:
        return [cls.hash_bytes(data).value for data in cls._examples]


class Md5Signal(_DigestSignal):
    name = "md5"
    hex_length = 32


class Sha1Signal(_DigestSignal):
    name = "sha1"
    hex_length = 40
    column_aliases = ("sha-1",)


class Sha256Signal(_DigestSignal):
    name = "sha256"
    hex_length = 64
    column_aliases = ("sha-256",)
