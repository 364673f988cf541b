"""Write and open bundles: a signed, encrypted tar of ``manifest.json``, ``media/<sha256>``
and attached files ``files/<name>`` (hash sets).

``write_bundle`` streams: the tar is written into an encrypting writer that emits chunk
records straight to ``out``, so neither plaintext nor the whole bundle is ever held on
disk or in memory. ``open_bundle`` (manifest only) and ``iter_bundle_media`` (one item at a
time) need a seekable source: they check the whole file's signature first and decrypt in a
second pass; nothing decrypted is released before the signature, the sender and the
recipient entry have been checked. Plaintext is only ever returned in memory.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tarfile
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, BinaryIO

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from exports import chunks
from exports import format as fmt
from exports.errors import (
    BundleMalformed,
    BundleNotForUs,
    BundleTampered,
    UnknownSender,
)
from exports.key_files import fingerprint, raw_public_bytes

MANIFEST_NAME = "manifest.json"
MEDIA_DIR = "media/"
FILES_DIR = "files/"
MAX_MANIFEST_SIZE = 16 << 20
_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_FILE_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")

Recipients = X25519PrivateKey | Sequence[X25519PrivateKey]


@dataclass(frozen=True)
class Member:
    """One payload member after the manifest: a media item or an attached file."""

    kind: str  # media | file
    name: str  # the item's SHA-256, or the file's name
    data: bytes


class EncodedArray:
    """A JSON array of a manifest, kept encoded an element at a time: a writer that builds a
    large manifest (ten thousand items with their sightings) holds its bytes, not its objects.
    :func:`write_bundle` writes it exactly as it writes a list in the same place (the value
    of a top-level key), so the manifest's bytes do not depend on which was given."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.nbytes = 0
        """The encoded size of the elements so far (a writer keeps its manifest under
        :data:`MAX_MANIFEST_SIZE` by it)."""

    def append(self, value: Any) -> None:
        # An element of a top-level key's array is indented two levels deep. Every line break
        # json.dumps writes is one between tokens (a JSON string holds none), so moving each
        # break two levels in indents the element as the whole manifest's dump would.
        text = json.dumps(value, sort_keys=True, indent=2).replace("\n", "\n    ")
        self.parts.append(part := f"\n    {text}".encode())
        self.nbytes += len(part) + 1

    def __len__(self) -> int:
        return len(self.parts)

    def encoded(self) -> list[bytes]:
        """The array as ``json.dumps`` writes it at that depth (ASCII, so UTF-8 as it is)."""
        if not self.parts:
            return [b"[]"]
        return [b"[", *(part if n == 0 else b"," + part for n, part in enumerate(self.parts)), b"\n  ]"]


def encode_manifest(manifest: Mapping[str, Any]) -> list[bytes]:
    """``json.dumps(manifest, sort_keys=True, indent=2)`` in UTF-8, in pieces, with the
    :class:`EncodedArray` values written in place, without ever joining them."""
    marks = {f"\x00{uuid.uuid4().hex}": value for value in manifest.values() if isinstance(value, EncodedArray)}
    named = {key: next((m for m, v in marks.items() if v is value), value) for key, value in manifest.items()}
    text = json.dumps(named, sort_keys=True, indent=2)
    pieces: list[bytes] = []
    for mark, array in sorted(marks.items(), key=lambda m: text.index(json.dumps(m[0]))):
        before, _, text = text.partition(json.dumps(mark))
        pieces += [before.encode("utf-8"), *array.encoded()]
    return [*pieces, text.encode("utf-8")]


@dataclass(frozen=True)
class BundleInfo:
    """What was written."""

    bundle_id: str
    sha256: str  # of the whole bundle file
    size: int
    item_count: int
    sender_fingerprint: str
    recipient_fingerprints: tuple[str, ...]
    created_at: str


@dataclass(frozen=True)
class OpenedBundle:
    """A verified bundle's header facts and manifest (media via :func:`iter_bundle_media`)."""

    bundle_id: str
    created_at: str
    sender_fingerprint: str
    recipient_fingerprints: tuple[str, ...]
    manifest: dict[str, Any]
    sha256: str
    size: int


def write_bundle(
    out: BinaryIO,
    manifest: Mapping[str, Any],
    media: Iterable[tuple[str, bytes]],
    *,
    sender: Ed25519PrivateKey,
    recipients: Sequence[X25519PublicKey],
    chunk_size: int = fmt.DEFAULT_CHUNK_SIZE,
    files: Iterable[tuple[str, bytes]] = (),
    bundle_id: str | None = None,
    check_digests: bool = True,
) -> BundleInfo:
    """Stream a bundle of ``manifest``, ``(sha256, bytes)`` media items and ``(name, bytes)``
    attached files into ``out``. A large array of the manifest may be given as an
    :class:`EncodedArray`, so that its objects need never be held at once.

    ``bundle_id`` (32 hex digits) is drawn at random unless given, so that a caller can name
    the bundle's destination before writing. ``check_digests=False`` skips re-hashing media
    whose source already verified them (the evidence store does); readers check every item.

    ``manifest`` must be JSON-serialisable and must not hold ``bundle_id`` or ``format``
    (they are added), and its encoding must stay within ``MAX_MANIFEST_SIZE`` (checked before
    anything is written). Each item's digest is checked before it is written. If this raises
    part-way, ``out`` holds an unsigned, unfinished bundle that every reader refuses.
    """
    fps, bundle_id = _check_write(manifest, recipients, chunk_size, bundle_id)
    now = datetime.now(UTC).replace(microsecond=0)
    manifest_pieces = encode_manifest(
        {**manifest, "bundle_id": bundle_id, "format": f"{fmt.FORMAT_NAME}/{fmt.FORMAT_VERSION}"}
    )
    if (size := sum(map(len, manifest_pieces))) > MAX_MANIFEST_SIZE:  # every reader would refuse it
        raise ValueError(f"manifest is {size} bytes, over the {MAX_MANIFEST_SIZE} readers accept: "
                         "split its items over several bundles")
    content_key = AESGCM.generate_key(bit_length=256)
    header = fmt.Header(
        bundle_id=bundle_id,
        created_at=now.isoformat().replace("+00:00", "Z"),
        sender_public_key=raw_public_bytes(sender.public_key()),
        chunk_size=chunk_size,
        nonce_prefix=os.urandom(fmt.NONCE_PREFIX_SIZE),
        recipients=tuple(
            fmt.wrap_content_key(content_key, r, bundle_id) for r in recipients
        ),
    )
    header_bytes = fmt.encode_header(header)

    sink = _HashingWriter(out)
    sink.write(header_bytes)
    writer = chunks.ChunkWriter(
        sink,
        key=content_key,
        nonce_prefix=header.nonce_prefix,
        hdr_hash=fmt.header_hash(header_bytes),
        chunk_size=chunk_size,
    )
    tar = _TarWriter(writer, int(now.timestamp()))
    tar.add(MANIFEST_NAME, *manifest_pieces)
    count = _add_members(tar, media, files, check_digests)
    tar.close()
    writer.finish()
    signature = sender.sign(fmt.signature_message(sink.digest()))
    sink.write(signature)
    return BundleInfo(
        bundle_id=bundle_id,
        sha256=sink.digest().hex(),
        size=sink.size,
        item_count=count,
        sender_fingerprint=header.sender_fingerprint,
        recipient_fingerprints=tuple(fps),
        created_at=header.created_at,
    )


def _check_write(
    manifest: Mapping[str, Any], recipients: Sequence[X25519PublicKey], chunk_size: int, bundle_id: str | None
) -> tuple[list[str], str]:
    """Refuse what :func:`write_bundle` cannot write; the recipients' fingerprints and the
    bundle ID (drawn at random unless given)."""
    if not recipients:
        raise ValueError("a bundle needs at least one recipient")
    fps = [fingerprint(r) for r in recipients]
    if len(set(fps)) != len(fps):
        raise ValueError(f"duplicate recipients: {fps!r}")
    if not fmt.MIN_CHUNK_SIZE <= chunk_size <= fmt.MAX_CHUNK_SIZE:
        raise ValueError(
            f"chunk_size {chunk_size!r} is outside [{fmt.MIN_CHUNK_SIZE}, {fmt.MAX_CHUNK_SIZE}]"
        )
    reserved = sorted({"bundle_id", "format"} & manifest.keys())
    if reserved:
        raise ValueError(f"manifest keys {reserved!r} are set by write_bundle")
    if bundle_id is None:
        bundle_id = uuid.uuid4().hex
    elif not re.fullmatch(r"[0-9a-f]{32}", bundle_id):
        raise ValueError(f"bundle_id must be 32 lowercase hex digits, got {bundle_id!r}")
    return fps, bundle_id


def _add_members(
    tar: _TarWriter, media: Iterable[tuple[str, bytes]], files: Iterable[tuple[str, bytes]], check_digests: bool
) -> int:
    """Media items, then attached files, each checked; returns how many media items."""
    count = 0
    seen: set[str] = set()
    for sha256, data in media:
        _check_item(sha256, data if check_digests else None, seen)
        tar.add(MEDIA_DIR + sha256, data)
        count += 1
        del data  # before the next item is loaded: one item in memory at a time
    names: set[str] = set()
    for name, data in files:
        _check_file(name, names)
        tar.add(FILES_DIR + name, data)
    return count


def open_bundle(
    src: BinaryIO,
    *,
    recipient: Recipients,
    trusted_senders: Sequence[Ed25519PublicKey] | None = None,
) -> OpenedBundle:
    """Verify the bundle in ``src`` (seekable) and return its header facts and manifest.

    Checks, in order: format, completeness, signature (over the whole file), sender trust,
    recipient entry; then decrypts only as far as the manifest. ``recipient`` may be several
    private keys (current and retired): the one the bundle is addressed to is used.
    """
    verified = _verify(src, recipient, trusted_senders)
    tar, _ = _open_tar(src, verified)
    with tar:
        manifest = _read_manifest(tar, verified.header.bundle_id)
    return verified.opened(manifest)


def read_bundle(
    src: BinaryIO,
    *,
    recipient: Recipients,
    trusted_senders: Sequence[Ed25519PublicKey] | None = None,
) -> tuple[OpenedBundle, Iterator[Member]]:
    """Verify once, then return the manifest and a lazy iterator over the other members.

    Every check of :func:`open_bundle` runs before this returns; each media item's digest is
    checked before it is yielded; memory holds one member at a time.
    """
    verified = _verify(src, recipient, trusted_senders)
    tar, reader = _open_tar(src, verified)
    try:
        manifest = _read_manifest(tar, verified.header.bundle_id)
    except BaseException:
        tar.close()
        raise
    return verified.opened(manifest), _iter_members(tar, reader, verified.header.bundle_id)


def iter_bundle_media(
    src: BinaryIO,
    *,
    recipient: Recipients,
    trusted_senders: Sequence[Ed25519PublicKey] | None = None,
) -> Iterator[tuple[str, bytes]]:
    """Verify the bundle in ``src`` now, then yield its ``(sha256, bytes)`` media items lazily.

    All checks of :func:`open_bundle` run before this returns; each item's digest is
    checked before it is yielded. Memory holds one item at a time.
    """
    _, members = read_bundle(src, recipient=recipient, trusted_senders=trusted_senders)
    return ((m.name, m.data) for m in members if m.kind == "media")


def iter_bundle_files(
    src: BinaryIO,
    *,
    recipient: Recipients,
    trusted_senders: Sequence[Ed25519PublicKey] | None = None,
) -> Iterator[tuple[str, bytes]]:
    """Like :func:`iter_bundle_media`, for the attached files: ``(name, bytes)``."""
    _, members = read_bundle(src, recipient=recipient, trusted_senders=trusted_senders)
    return ((m.name, m.data) for m in members if m.kind == "file")


@dataclass(frozen=True)
class _Verified:
    scan: chunks.Scan
    header: fmt.Header
    content_key: bytes

    def opened(self, manifest: dict[str, Any]) -> OpenedBundle:
        return OpenedBundle(
            bundle_id=self.header.bundle_id,
            created_at=self.header.created_at,
            sender_fingerprint=self.header.sender_fingerprint,
            recipient_fingerprints=tuple(r.fingerprint for r in self.header.recipients),
            manifest=manifest,
            sha256=self.scan.sha256,
            size=self.scan.size,
        )


def _verify(
    src: BinaryIO,
    recipient: Recipients,
    trusted: Sequence[Ed25519PublicKey] | None,
) -> _Verified:
    scanned = chunks.scan(src)
    try:
        scanned.sender.verify(
            scanned.signature, fmt.signature_message(scanned.signed_digest)
        )
    except InvalidSignature:
        raise BundleTampered(
            f"bundle signature does not verify under its sender key {fingerprint(scanned.sender)!r}"
        ) from None
    header = fmt.parse_header(scanned.header_obj)
    if trusted is not None:
        trusted_raw = {raw_public_bytes(k) for k in trusted}
        if header.sender_public_key not in trusted_raw:
            raise UnknownSender(
                f"bundle {header.bundle_id!r} is signed by {header.sender_fingerprint!r}, "
                f"which is not among the trusted senders {sorted(fingerprint(k) for k in trusted)!r}"
            )
    keys = [recipient] if isinstance(recipient, X25519PrivateKey) else list(recipient)
    ours = {fingerprint(k.public_key()): k for k in keys}
    entries = [e for e in header.recipients if e.fingerprint in ours]
    if not entries:
        mine = sorted(ours)
        raise BundleNotForUs(
            f"bundle {header.bundle_id!r} is addressed to {[e.fingerprint for e in header.recipients]!r}, "
            f"not to our key{'s' if len(mine) > 1 else ''} {mine[0] if len(mine) == 1 else mine!r}"
        )
    key = fmt.unwrap_content_key(entries[0], ours[entries[0].fingerprint], header.bundle_id)
    return _Verified(scan=scanned, header=header, content_key=key)


def _open_tar(
    src: BinaryIO, verified: _Verified
) -> tuple[tarfile.TarFile, chunks.PlaintextReader]:
    plain = chunks.decrypted_chunks(
        src,
        verified.scan,
        key=verified.content_key,
        nonce_prefix=verified.header.nonce_prefix,
    )
    reader = chunks.PlaintextReader(plain)
    try:
        return tarfile.open(fileobj=reader, mode="r|"), reader  # type: ignore[call-overload]
    except tarfile.TarError as exc:
        raise BundleMalformed(
            f"bundle {verified.header.bundle_id!r} payload is not a tar stream: {exc}"
        ) from None


def _read_manifest(tar: tarfile.TarFile, bundle_id: str) -> dict[str, Any]:
    member = _next_member(tar, bundle_id)
    if member is None or member.name != MANIFEST_NAME or not member.isreg():
        found = None if member is None else member.name
        raise BundleMalformed(
            f"bundle {bundle_id!r} payload starts with {found!r}, not {MANIFEST_NAME!r}"
        )
    if member.size > MAX_MANIFEST_SIZE:
        raise BundleMalformed(
            f"bundle {bundle_id!r} manifest is {member.size!r} bytes, over {MAX_MANIFEST_SIZE}"
        )
    try:
        manifest = json.loads(_member_bytes(tar, member, bundle_id).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BundleMalformed(
            f"bundle {bundle_id!r} manifest is not UTF-8 JSON: {exc}"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("bundle_id") != bundle_id:
        got = manifest.get("bundle_id") if isinstance(manifest, dict) else manifest
        raise BundleMalformed(f"bundle {bundle_id!r} manifest names bundle {got!r}")
    return manifest


def _iter_members(
    tar: tarfile.TarFile, reader: chunks.PlaintextReader, bundle_id: str
) -> Iterator[Member]:
    seen: set[str] = set()
    with tar:
        while (member := _next_member(tar, bundle_id)) is not None:
            kind, name = _classify(member, bundle_id)
            if member.name in seen:
                raise BundleMalformed(
                    f"bundle {bundle_id!r} holds {member.name!r} twice"
                )
            seen.add(member.name)
            data = _member_bytes(tar, member, bundle_id)
            if kind == "media" and hashlib.sha256(data).hexdigest() != name:
                raise BundleMalformed(
                    f"bundle {bundle_id!r} media {name!r} does not hash to its name"
                )
            yield Member(kind, name, data)
    # The tar's end-of-archive mark may come before the last chunks (padding): decrypt
    # them anyway, so a stream whose final chunk is missing or forged is still refused.
    reader.drain()


def _classify(member: tarfile.TarInfo, bundle_id: str) -> tuple[str, str]:
    if member.isreg():
        sha256 = member.name.removeprefix(MEDIA_DIR)
        if member.name.startswith(MEDIA_DIR) and _SHA256_RE.match(sha256):
            return "media", sha256
        name = member.name.removeprefix(FILES_DIR)
        if member.name.startswith(FILES_DIR) and _FILE_NAME_RE.match(name):
            return "file", name
    raise BundleMalformed(f"bundle {bundle_id!r} holds unexpected member {member.name!r}")


def _next_member(tar: tarfile.TarFile, bundle_id: str) -> tarfile.TarInfo | None:
    try:
        return tar.next()
    except tarfile.TarError as exc:
        raise BundleMalformed(
            f"bundle {bundle_id!r} payload is not a valid tar stream: {exc}"
        ) from None


def _member_bytes(
    tar: tarfile.TarFile, member: tarfile.TarInfo, bundle_id: str
) -> bytes:
    try:
        fh = tar.extractfile(member)
        assert fh is not None  # regular files always have data
        return fh.read()
    except tarfile.TarError as exc:
        raise BundleMalformed(
            f"bundle {bundle_id!r} member {member.name!r} is unreadable: {exc}"
        ) from None


class _TarWriter:
    """Writes the POSIX tar stream byte for byte as ``tarfile.open(mode="w|",
    format=PAX_FORMAT)`` does (same headers, NUL padding to 512-byte blocks, two NUL blocks
    and padding to a 10 240-byte record at the end), but hands each member's data to the
    writer in the pieces it was given instead of 16 KiB copies."""

    def __init__(self, out: chunks.ChunkWriter, mtime: int) -> None:
        self._out = out
        self._mtime = mtime
        self._offset = 0

    def add(self, name: str, *pieces: bytes) -> None:
        """A member ``name`` whose data is ``pieces``, one after the other."""
        info = tarfile.TarInfo(name)
        info.size = sum(len(p) for p in pieces)
        info.mtime = self._mtime
        info.mode = 0o644
        self._write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
        for piece in pieces:
            self._write(piece)
        self._write(bytes(-info.size % tarfile.BLOCKSIZE))

    def close(self) -> None:
        self._write(bytes(2 * tarfile.BLOCKSIZE))
        self._write(bytes(-self._offset % tarfile.RECORDSIZE))

    def _write(self, data: bytes) -> None:
        if data:
            self._out.write(data)
            self._offset += len(data)


def _check_item(sha256: str, data: bytes | None, seen: set[str]) -> None:
    if not isinstance(sha256, str) or not _SHA256_RE.match(sha256):
        raise ValueError(
            f"media key must be a lowercase SHA-256 hex digest, got {sha256!r}"
        )
    actual = sha256 if data is None else hashlib.sha256(data).hexdigest()
    if actual != sha256:
        raise ValueError(f"media item {sha256!r} hashes to {actual!r}")
    if sha256 in seen:
        raise ValueError(f"media item {sha256!r} is given twice")
    seen.add(sha256)


def _check_file(name: str, seen: set[str]) -> None:
    if not isinstance(name, str) or not _FILE_NAME_RE.match(name):
        raise ValueError(
            f"attached file name must be 1-128 of A-Z a-z 0-9 . _ - (not starting with . _ -), got {name!r}"
        )
    if name in seen:
        raise ValueError(f"attached file {name!r} is given twice")
    seen.add(name)


class _HashingWriter:
    """Pass-through to ``out`` that counts and hashes what is written."""

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self._out.write(data)
        self._hash.update(data)
        self.size += len(data)
        return len(data)

    def digest(self) -> bytes:
        return self._hash.digest()
