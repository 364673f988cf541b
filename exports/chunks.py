"""Streaming chunk encryption, and the two reading passes: verify, then decrypt.

Writing: :class:`ChunkWriter` is the file-like object the tar stream writes into; it seals
every ``chunk_size`` bytes as one chunk record, so memory stays at about one chunk.

Reading needs a seekable file. Pass 1, :func:`scan`, walks the framing without decrypting,
hashes every byte before the trailer and remembers a SHA-256 per chunk record; the caller
checks the signature. Pass 2, :func:`decrypted_chunks`, re-reads each record, checks it is
the one that was verified (so a file changed between the passes is refused) and decrypts.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from exports import format as fmt
from exports.errors import BundleTampered, BundleTruncated, UnsupportedBundle


class Sink(Protocol):
    def write(self, data: bytes, /) -> int: ...


class ChunkWriter:
    """File-like writer that encrypts what it is given into chunk records on ``sink``."""

    def __init__(
        self,
        sink: Sink,
        *,
        key: bytes,
        nonce_prefix: bytes,
        hdr_hash: bytes,
        chunk_size: int,
    ) -> None:
        self._sink = sink
        self._aead = AESGCM(key)
        self._prefix = nonce_prefix
        self._hdr_hash = hdr_hash
        self._size = chunk_size
        self._buf = bytearray()
        self._index = 0
        self._finished = False

    def write(self, data: bytes | memoryview) -> int:
        if self._finished:
            raise ValueError("write to a finished ChunkWriter")
        # Keep at least one byte back so the final chunk is never empty and never needs
        # a look-ahead: a full chunk is sealed only once more data is known to follow.
        # Whole chunks of a large write are sealed straight from it, without copying.
        view = memoryview(data).cast("B")
        if self._buf:
            take = min(self._size - len(self._buf), len(view))
            self._buf += view[:take]
            view = view[take:]
            if not view:
                return len(data)
            self._emit(bytes(self._buf), final=False)
            self._buf.clear()
        while len(view) > self._size:
            self._emit(view[: self._size], final=False)
            view = view[self._size :]
        self._buf += view
        return len(data)

    def finish(self) -> int:
        """Seal the buffered rest as the final chunk; returns the number of chunks."""
        if not self._finished:
            self._emit(bytes(self._buf), final=True)
            self._buf.clear()
            self._finished = True
        return self._index

    def _emit(self, plaintext: bytes | memoryview, *, final: bool) -> None:
        sealed = fmt.seal_chunk(
            self._aead, self._prefix, self._hdr_hash, self._index, final, plaintext
        )
        flag = fmt.FLAG_FINAL if final else fmt.FLAG_MORE
        self._sink.write(fmt.RECORD.pack(flag, len(sealed)))
        self._sink.write(sealed)
        self._index += 1


@dataclass(frozen=True)
class Scan:
    """What pass 1 learned about a bundle file; the signature is not yet checked."""

    start: int  # offset of the bundle in the source
    header_obj: dict[str, Any]
    header_size: int  # preamble and JSON header
    hdr_hash: bytes
    sender: Ed25519PublicKey
    chunk_size: int
    record_digests: tuple[bytes, ...]  # SHA-256 of each chunk record, in order
    signed_digest: bytes  # SHA-256 of every byte before the trailer
    signature: bytes
    sha256: str  # of the whole file
    size: int


def scan(src: BinaryIO) -> Scan:
    """Pass 1: parse preamble, header, chunk framing and trailer, hashing as it goes."""
    start = src.tell()
    signed = hashlib.sha256()
    first = src.read(fmt.PREAMBLE.size)
    if len(first) < fmt.PREAMBLE.size:
        if fmt.MAGIC.startswith(first[: len(fmt.MAGIC)]):
            raise BundleTruncated(
                f"bundle ends inside its preamble after {len(first)} bytes"
            )
        raise UnsupportedBundle(f"not a hotline bundle: starts with {first!r}")
    length = fmt.parse_preamble(first)
    body = _read_exact(src, length, "the JSON header")
    header_bytes = first + body
    signed.update(header_bytes)
    obj = fmt.parse_header_json(body)
    sender, chunk_size = fmt.signing_fields(obj)

    digests: list[bytes] = []
    while True:
        index = len(digests)
        head = src.read(fmt.RECORD.size)
        if not head:
            raise BundleTruncated(
                f"bundle ends after chunk {index - 1!r} without a final chunk"
            )
        if len(head) < fmt.RECORD.size:
            raise BundleTruncated(
                f"bundle ends inside the record header of chunk {index!r}"
            )
        flag, ct_len = fmt.RECORD.unpack(head)
        _check_record(index, flag, ct_len, chunk_size)
        ciphertext = _read_exact(src, ct_len, f"chunk {index!r}")
        signed.update(head)
        signed.update(ciphertext)
        digests.append(hashlib.sha256(head + ciphertext).digest())
        if flag == fmt.FLAG_FINAL:
            break

    signature = _read_exact(src, fmt.SIGNATURE_SIZE, "the signature")
    if src.read(1):
        raise BundleTampered("bundle has data after its signature")
    signed_digest = signed.digest()
    whole = signed.copy()
    whole.update(signature)
    return Scan(
        start=start,
        header_obj=obj,
        header_size=len(header_bytes),
        hdr_hash=fmt.header_hash(header_bytes),
        sender=sender,
        chunk_size=chunk_size,
        record_digests=tuple(digests),
        signed_digest=signed_digest,
        signature=signature,
        sha256=whole.hexdigest(),
        size=src.tell() - start,
    )


def decrypted_chunks(
    src: BinaryIO, scanned: Scan, *, key: bytes, nonce_prefix: bytes
) -> Iterator[bytes]:
    """Pass 2: yield the plaintext of each chunk, in order, after checking it was verified."""
    aead = AESGCM(key)
    src.seek(scanned.start + scanned.header_size)
    last = len(scanned.record_digests) - 1
    for index, digest in enumerate(scanned.record_digests):
        head = src.read(fmt.RECORD.size)
        _, ct_len = fmt.RECORD.unpack(head) if len(head) == fmt.RECORD.size else (-1, 0)
        ciphertext = src.read(ct_len)
        if hashlib.sha256(head + ciphertext).digest() != digest:
            raise BundleTampered(
                f"bundle chunk {index!r} changed after the signature was checked"
            )
        yield fmt.open_chunk(
            aead, nonce_prefix, scanned.hdr_hash, index, index == last, ciphertext
        )


class PlaintextReader:
    """Read-only file-like view over an iterator of plaintext chunks (for ``tarfile`` "r|")."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buf = b""
        self._pos = 0

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            rest = [self._buf[self._pos :], *self._chunks]
            self._buf, self._pos = b"", 0
            return b"".join(rest)
        while self._pos >= len(self._buf):
            nxt = next(self._chunks, None)
            if nxt is None:
                return b""
            self._buf, self._pos = nxt, 0
        out = self._buf[self._pos : self._pos + size]
        self._pos += len(out)
        return out

    def drain(self) -> None:
        """Decrypt (and so authenticate) every remaining chunk, discarding the plaintext."""
        for _ in self._chunks:
            pass
        self._buf, self._pos = b"", 0


def _check_record(index: int, flag: int, ct_len: int, chunk_size: int) -> None:
    if flag == fmt.FLAG_MORE:
        if ct_len != chunk_size + fmt.TAG_SIZE:
            raise BundleTampered(
                f"bundle chunk {index!r} is {ct_len!r} bytes; non-final chunks are {chunk_size + fmt.TAG_SIZE}"
            )
    elif flag == fmt.FLAG_FINAL:
        if not fmt.TAG_SIZE <= ct_len <= chunk_size + fmt.TAG_SIZE:
            raise BundleTampered(
                f"bundle final chunk {index!r} is {ct_len!r} bytes, outside [{fmt.TAG_SIZE}, {chunk_size + fmt.TAG_SIZE}]"
            )
    else:
        raise BundleTampered(f"bundle chunk {index!r} has unknown flag {flag!r}")


def _read_exact(src: BinaryIO, n: int, what: str) -> bytes:
    parts: list[bytes] = []
    got = 0
    while got < n:
        part = src.read(n - got)
        if not part:
            raise BundleTruncated(
                f"bundle ends inside {what}: expected {n} bytes, got {got}"
            )
        parts.append(part)
        got += len(part)
    return b"".join(parts)
