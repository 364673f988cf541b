"""The bundle wire format, version 1: constants, header codec, key wrap and chunk sealing.

Pure functions only (no file I/O); ``docs/bundle-format.md`` is the normative description
and every constant below appears there. Layout::

    preamble   b"HLBUNDLE" | version u16 BE | header length u32 BE
    header     UTF-8 JSON object
    chunks     ( flag u8 | ciphertext length u32 BE | AES-256-GCM ciphertext||tag ) ...
    trailer    Ed25519 signature (64 bytes)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import struct
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from exports.errors import BundleMalformed, BundleTampered, UnsupportedBundle
from exports.key_files import fingerprint, raw_public_bytes

MAGIC = b"HLBUNDLE"
FORMAT_VERSION = 1
FORMAT_NAME = "hotline-bundle"
PREAMBLE = struct.Struct(">8sHI")  # magic, version, header length
RECORD = struct.Struct(">BI")  # flag, ciphertext length
FLAG_MORE = 0x00
FLAG_FINAL = 0x01
TAG_SIZE = 16
KEY_SIZE = 32
NONCE_PREFIX_SIZE = 4
SIGNATURE_SIZE = 64
MAX_HEADER_SIZE = 1 << 20
MIN_CHUNK_SIZE = 16
MAX_CHUNK_SIZE = 1 << 24
DEFAULT_CHUNK_SIZE = 1 << 20

CIPHER = "AES-256-GCM"
KEY_WRAP = "X25519-HKDF-SHA256-AES-256-GCM"
SIGNATURE = "Ed25519"
PAYLOAD = "tar"

WRAP_INFO = b"hotline-bundle/v1 key-wrap"
WRAP_NONCE = bytes(12)
CHUNK_LABEL = b"hotline-bundle/v1 chunk\x00"
SIGNATURE_LABEL = b"hotline-bundle/v1 signature\x00"

_BUNDLE_ID_RE = re.compile(r"^[0-9a-f]{32}$")
_FINGERPRINT_RE = re.compile(r"^[0-9a-f]{16}$")


@dataclass(frozen=True)
class RecipientEntry:
    """One recipient's copy of the content key."""

    fingerprint: str
    ephemeral_public_key: bytes  # raw X25519, 32 bytes
    wrapped_key: bytes  # AES-256-GCM(content key) || tag, 48 bytes


@dataclass(frozen=True)
class Header:
    """The parsed JSON header of a bundle."""

    bundle_id: str
    created_at: str
    sender_public_key: bytes  # raw Ed25519, 32 bytes
    chunk_size: int
    nonce_prefix: bytes
    recipients: tuple[RecipientEntry, ...]

    @property
    def sender_fingerprint(self) -> str:
        return fingerprint(Ed25519PublicKey.from_public_bytes(self.sender_public_key))


def encode_header(header: Header) -> bytes:
    """Preamble and JSON header: every byte before the first chunk record."""
    obj = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "bundle_id": header.bundle_id,
        "created_at": header.created_at,
        "sender": {
            "algorithm": SIGNATURE,
            "public_key": _b64(header.sender_public_key),
            "fingerprint": header.sender_fingerprint,
        },
        "cipher": CIPHER,
        "key_wrap": KEY_WRAP,
        "payload": PAYLOAD,
        "chunk_size": header.chunk_size,
        "nonce_prefix": _b64(header.nonce_prefix),
        "recipients": [
            {
                "fingerprint": r.fingerprint,
                "ephemeral_public_key": _b64(r.ephemeral_public_key),
                "wrapped_key": _b64(r.wrapped_key),
            }
            for r in header.recipients
        ],
    }
    body = json.dumps(obj, sort_keys=True, separators=(",", ":")).encode("utf-8")
    return PREAMBLE.pack(MAGIC, FORMAT_VERSION, len(body)) + body


def parse_preamble(data: bytes) -> int:
    """Check magic and version of the 14-byte preamble; return the header length."""
    magic: bytes
    version: int
    length: int
    magic, version, length = PREAMBLE.unpack(data)
    if magic != MAGIC:
        raise UnsupportedBundle(
            f"not a hotline bundle: magic is {magic!r}, expected {MAGIC!r}"
        )
    if version != FORMAT_VERSION:
        raise UnsupportedBundle(
            f"bundle format version {version!r} is not supported (only {FORMAT_VERSION})"
        )
    if not 2 <= length <= MAX_HEADER_SIZE:
        raise BundleMalformed(
            f"bundle header length {length!r} is outside [2, {MAX_HEADER_SIZE}]"
        )
    return length


def parse_header_json(data: bytes) -> dict[str, Any]:
    """Decode the JSON header and check the identifiers a reader must understand."""
    try:
        obj = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleMalformed(f"bundle header is not UTF-8 JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise BundleMalformed(
            f"bundle header must be a JSON object, got {type(obj).__name__}"
        )
    expected = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "cipher": CIPHER,
        "key_wrap": KEY_WRAP,
        "payload": PAYLOAD,
    }
    for key, want in expected.items():
        if obj.get(key) != want:
            raise UnsupportedBundle(
                f"bundle header {key!r} is {obj.get(key)!r}, expected {want!r}"
            )
    return obj


def signing_fields(obj: dict[str, Any]) -> tuple[Ed25519PublicKey, int]:
    """What is needed before the signature can be checked: sender key and chunk size."""
    sender = _field(obj, "sender", dict)
    if sender.get("algorithm") != SIGNATURE:
        raise UnsupportedBundle(
            f"bundle signature algorithm {sender.get('algorithm')!r} is not {SIGNATURE!r}"
        )
    raw = _b64_field(sender, "public_key", 32)
    key = Ed25519PublicKey.from_public_bytes(raw)
    if sender.get("fingerprint") != fingerprint(key):
        raise BundleMalformed(
            f"bundle sender fingerprint {sender.get('fingerprint')!r} does not match its key ({fingerprint(key)!r})"
        )
    chunk_size: int = _field(obj, "chunk_size", int)
    if (
        isinstance(chunk_size, bool)
        or not MIN_CHUNK_SIZE <= chunk_size <= MAX_CHUNK_SIZE
    ):
        raise BundleMalformed(
            f"bundle chunk_size {chunk_size!r} is outside [{MIN_CHUNK_SIZE}, {MAX_CHUNK_SIZE}]"
        )
    return key, chunk_size


def parse_header(obj: dict[str, Any]) -> Header:
    """The full header, validated (call after the signature has been checked)."""
    sender_key, chunk_size = signing_fields(obj)
    bundle_id = _field(obj, "bundle_id", str)
    if not _BUNDLE_ID_RE.match(bundle_id):
        raise BundleMalformed(f"bundle_id {bundle_id!r} is not 32 lowercase hex digits")
    created_at = _field(obj, "created_at", str)
    try:
        datetime.fromisoformat(created_at)
    except ValueError:
        raise BundleMalformed(
            f"bundle created_at {created_at!r} is not an RFC 3339 timestamp"
        ) from None
    entries = []
    for item in _field(obj, "recipients", list):
        if not isinstance(item, dict):
            raise BundleMalformed(f"bundle recipient entry {item!r} is not an object")
        fp = _field(item, "fingerprint", str)
        if not _FINGERPRINT_RE.match(fp):
            raise BundleMalformed(
                f"recipient fingerprint {fp!r} is not 16 lowercase hex digits"
            )
        entries.append(
            RecipientEntry(
                fingerprint=fp,
                ephemeral_public_key=_b64_field(item, "ephemeral_public_key", 32),
                wrapped_key=_b64_field(item, "wrapped_key", KEY_SIZE + TAG_SIZE),
            )
        )
    if not entries:
        raise BundleMalformed("bundle header lists no recipients")
    return Header(
        bundle_id=bundle_id,
        created_at=created_at,
        sender_public_key=raw_public_bytes(sender_key),
        chunk_size=chunk_size,
        nonce_prefix=_b64_field(obj, "nonce_prefix", NONCE_PREFIX_SIZE),
        recipients=tuple(entries),
    )


def wrap_content_key(
    content_key: bytes,
    recipient: X25519PublicKey,
    bundle_id: str,
    *,
    ephemeral: X25519PrivateKey | None = None,
) -> RecipientEntry:
    """Encrypt ``content_key`` to ``recipient`` under a fresh (or given, for test vectors) ephemeral key."""
    ephemeral = ephemeral or X25519PrivateKey.generate()
    eph_pub = raw_public_bytes(ephemeral.public_key())
    wrap_key = _wrap_key(
        ephemeral.exchange(recipient), eph_pub, raw_public_bytes(recipient)
    )
    wrapped = AESGCM(wrap_key).encrypt(
        WRAP_NONCE, content_key, bundle_id.encode("ascii")
    )
    return RecipientEntry(fingerprint(recipient), eph_pub, wrapped)


def unwrap_content_key(
    entry: RecipientEntry, recipient: X25519PrivateKey, bundle_id: str
) -> bytes:
    """Recover the content key from ``entry`` with our private key."""
    try:
        shared = recipient.exchange(
            X25519PublicKey.from_public_bytes(entry.ephemeral_public_key)
        )
    except ValueError:
        raise BundleTampered(
            f"bundle {bundle_id!r}: ephemeral key for {entry.fingerprint!r} is invalid"
        ) from None
    wrap_key = _wrap_key(
        shared, entry.ephemeral_public_key, raw_public_bytes(recipient.public_key())
    )
    try:
        return AESGCM(wrap_key).decrypt(
            WRAP_NONCE, entry.wrapped_key, bundle_id.encode("ascii")
        )
    except InvalidTag:
        raise BundleTampered(
            f"bundle {bundle_id!r}: the content key wrapped for {entry.fingerprint!r} failed authentication"
        ) from None


def header_hash(header_bytes: bytes) -> bytes:
    """SHA-256 of preamble and JSON header, bound into every chunk."""
    return hashlib.sha256(header_bytes).digest()


def chunk_nonce(nonce_prefix: bytes, index: int) -> bytes:
    return nonce_prefix + index.to_bytes(8, "big")


def chunk_aad(hdr_hash: bytes, index: int, final: bool) -> bytes:
    return (
        CHUNK_LABEL
        + hdr_hash
        + index.to_bytes(8, "big")
        + bytes([FLAG_FINAL if final else FLAG_MORE])
    )


def seal_chunk(
    aead: AESGCM,
    nonce_prefix: bytes,
    hdr_hash: bytes,
    index: int,
    final: bool,
    data: bytes | memoryview,
) -> bytes:
    return aead.encrypt(
        chunk_nonce(nonce_prefix, index), data, chunk_aad(hdr_hash, index, final)
    )


def open_chunk(
    aead: AESGCM,
    nonce_prefix: bytes,
    hdr_hash: bytes,
    index: int,
    final: bool,
    data: bytes,
) -> bytes:
    try:
        return aead.decrypt(
            chunk_nonce(nonce_prefix, index), data, chunk_aad(hdr_hash, index, final)
        )
    except InvalidTag:
        raise BundleTampered(f"bundle chunk {index!r} failed authentication") from None


def signature_message(signed_digest: bytes) -> bytes:
    """What Ed25519 signs: a domain label and SHA-256 of every byte before the trailer."""
    return SIGNATURE_LABEL + signed_digest


def _wrap_key(shared: bytes, eph_pub: bytes, recipient_pub: bytes) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=KEY_SIZE,
        salt=eph_pub + recipient_pub,
        info=WRAP_INFO,
    )
    return hkdf.derive(shared)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _field(obj: dict[str, Any], key: str, kind: type) -> Any:
    value = obj.get(key)
    if not isinstance(value, kind):
        raise BundleMalformed(
            f"bundle header field {key!r} must be a {kind.__name__}, got {value!r}"
        )
    return value


def _b64_field(obj: dict[str, Any], key: str, size: int) -> bytes:
    text = _field(obj, key, str)
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise BundleMalformed(
            f"bundle header field {key!r} is not base64: {text!r}"
        ) from None
    if len(raw) != size:
        raise BundleMalformed(
            f"bundle header field {key!r} must decode to {size} bytes, got {len(raw)}"
        )
    return raw
