"""S3 (or any S3-compatible store) as a destination for bundles and a source of inbound ones.

Uploads are boto3's managed transfers (``upload_file``, ``upload_fileobj``): a single PUT up
to ``part_size``, above it a multipart upload of ``part_size`` parts, ``concurrency`` at a
time, on a client within the installation's ``S3Budget`` (timeouts, and botocore's attempts
per request: the only level that retries). An object appears under its name only when the
upload is complete (the PUT, or CompleteMultipartUpload), so no partial bundle is ever
visible there; a multipart upload that fails is aborted by the transfer, and one a crash left
behind is aborted before the next upload of that name.

Integrity rests on S3's own checksums, not on ETags, which are not the MD5 of the data on
SSE-KMS or SSE-C buckets or for multipart objects. Every request carries a CRC32 of its body
that the store checks, and the object keeps a CRC32 of its whole content (checksum type
FULL_OBJECT). A bundle file's CRC32 is sent with its upload, so S3 itself refuses an object
that is not what was sent. After every upload, HeadObject (ChecksumMode ENABLED) must show
the size and CRC32 that were sent, or the object is removed and the delivery fails; from a
store that keeps no such checksum the object is read back to compute it. CRC32 catches
corruption and loss, not forgery: the recipient checks the bundle's signature for that.

Delivery is idempotent: a bundle goes to ``<prefix><name>``, its name holds the bundle ID, and
an object already there with the same size and CRC32 means an earlier attempt succeeded
(no-op); one with other content is a :class:`DeliveryConflict`. Credentials come from the
usual AWS configuration (environment, shared files, instance role); only the endpoint URL is
ours to configure.

:meth:`S3Destination.open_stream` uploads a bundle while it is being written (the outbox tees
its bytes into it) and lets the upload complete only when asked, after the outbox has
recorded the bundle: a crash before that leaves at most an incomplete upload, which the next
delivery aborts. If the upload fails, the stream gives up quietly (its writes are ignored)
and the outbox writes the same bundle to a file and delivers that on its next run.
"""

from __future__ import annotations

import base64
import contextlib
import threading
import zlib
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from boto3.exceptions import S3UploadFailedError

from evidence.s3 import (  # the same s3://bucket/prefix URLs, refusals and budget as the evidence store
    parse_s3_url,
    refusal,
)
from evidence.spec import S3Budget
from exports.destinations import DestinationOptions, check_bundle_file, check_bundle_name, register_destination
from exports.errors import DeliveryConflict, DeliveryError, DeliveryRefused

DEFAULT_PART_SIZE = 8 << 20
MIN_PART_SIZE = 5 << 20  # S3's smallest part (except the last)
STREAMED_PARTS_IN_MEMORY = 2  # parts of a streamed upload held at once, besides the one being written
# a streamed bundle's CRC32 is known only at its end, so the store combines the parts' CRC32s
STREAMED_CHECKSUM = {"ChecksumAlgorithm": "CRC32", "ChecksumType": "FULL_OBJECT"}


@dataclass
class S3Destination:
    """Bundles in ``s3://bucket/prefix`` on the store at ``endpoint_url`` (None: AWS)."""

    bucket: str
    prefix: str = ""
    endpoint_url: str | None = None
    part_size: int = DEFAULT_PART_SIZE
    concurrency: int = 4
    budget: S3Budget = field(default_factory=S3Budget)  # per request: timeouts and botocore's attempts
    _client: Any = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def from_url(cls, url: str, endpoint_url: str | None = None, **kw: Any) -> S3Destination:
        bucket, prefix = parse_s3_url(url)
        return cls(bucket=bucket, prefix=prefix, endpoint_url=endpoint_url, **kw)

    @classmethod
    def from_location(cls, where: str, options: DestinationOptions) -> S3Destination:
        """``s3://bucket/prefix`` on the endpoint, with the part size and budget of ``options``."""
        return cls.from_url(where, options.endpoint_url, part_size=options.part_size, budget=options.budget)

    def __post_init__(self) -> None:
        if self.part_size < MIN_PART_SIZE:
            raise ValueError(f"part_size {self.part_size!r} is below S3's minimum of {MIN_PART_SIZE}")

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                self._client = self.budget.client(
                    self.endpoint_url, max_pool_connections=max(10, self.concurrency * 2)
                )
            return self._client

    @property
    def transfer_config(self) -> Any:
        """boto3's TransferConfig for our part size and concurrency. Always the classic
        transfer client: the CRT one would not use the client, so not its budget."""
        from boto3.s3.transfer import TransferConfig

        return TransferConfig(multipart_threshold=self.part_size, multipart_chunksize=self.part_size,
                              max_concurrency=self.concurrency, preferred_transfer_client="classic")

    def refused(self, exc: BaseException) -> DeliveryRefused | None:
        """``exc`` as a :class:`DeliveryRefused` when it is an answer no retry changes."""
        if isinstance(exc, S3UploadFailedError):  # upload_file wraps the store's answer in this
            exc = exc.__context__ or exc
        why = refusal(exc)
        if why is None:
            return None
        return DeliveryRefused(f"S3 at {self.endpoint_url or 'AWS'} refused s3://{self.bucket}/{self.prefix}: {why}")

    @contextlib.contextmanager
    def _refusals(self) -> Iterator[None]:
        """Raise answers no retry changes as :class:`DeliveryRefused`; the rest as they are."""
        try:
            yield
        except DeliveryError:
            raise
        except Exception as exc:
            refused = self.refused(exc)
            if refused is None:
                raise
            raise refused from exc

    def url(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.key(name)}"

    def key(self, name: str) -> str:
        return self.prefix + check_bundle_name(name)

    # Destination -------------------------------------------------------------------------
    def deliver(self, path: Path, name: str) -> str:
        path, key = Path(path), self.key(name)
        check_bundle_file(path)
        sent = (path.stat().st_size, crc32_of_file(path))
        try:
            there = self._found(key, sent)
            if there is not None:
                if there == sent:
                    return self.url(name)
                raise DeliveryConflict(f"{self.url(name)!r} already exists with different content")
            self._abort_incomplete(key)
            # the whole file's CRC32 goes with it: S3 refuses an object that does not match it
            self.client.upload_file(str(path), self.bucket, key, ExtraArgs={"ChecksumCRC32": sent[1]},
                                    Config=self.transfer_config)
            self._verify(key, sent)
        except DeliveryError:
            raise
        except Exception as exc:  # botocore's ClientError, connection and endpoint errors
            raise self.refused(exc) or DeliveryError(
                f"upload of {str(path)!r} to {self.url(name)!r} failed: {exc}") from exc
        return self.url(name)

    def exists(self, name: str) -> bool:
        with self._refusals():
            return self._head(self.key(name)) is not None

    def locate(self, name: str) -> str:
        return self.url(name)

    def discard_incomplete(self, name: str) -> None:
        """Abort what a run that died mid-stream left of the upload of ``name``."""
        with self._refusals():
            self._abort_incomplete(self.key(name))

    def open_stream(self, name: str) -> StreamUpload:
        """An upload of ``name`` to feed while the bundle is written. Its first request is
        made here, so an unreachable store is known before the bundle is built."""
        key = self.key(name)
        with self._refusals():
            self._abort_incomplete(key)
        return StreamUpload(self, key)

    # Source (inbound) --------------------------------------------------------------------
    def list_bundles(self) -> list[str]:
        """Names of the ``.hlb`` files directly under the prefix, oldest first."""
        found: list[tuple[Any, str]] = []
        with self._refusals():
            pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(self.prefix):]
                    if name.endswith(".hlb") and "/" not in name:
                        found.append((obj["LastModified"], name))
        return [name for _, name in sorted(found)]

    def fetch(self, name: str, into: Path) -> Path:
        """Download bundle ``name`` (already encrypted) to the file ``into``."""
        with self._refusals():
            self.client.download_file(self.bucket, self.key(name), str(into))
        return Path(into)

    # Internals ---------------------------------------------------------------------------
    def _head(self, key: str) -> dict[str, Any] | None:
        from botocore.exceptions import ClientError

        try:
            return dict(self.client.head_object(Bucket=self.bucket, Key=key, ChecksumMode="ENABLED"))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise

    def _found(self, key: str, sent: tuple[int, str]) -> tuple[int, str] | None:
        """The size and CRC32 of the object at ``key`` (None: there is none), as far as it
        takes to compare them with ``sent``. The store's CRC32 counts if it is of the whole
        object or equals ours; a composite one (of the parts' checksums, as other clients
        upload), or none at all, has the object read back to compute it, if the size agrees."""
        head = self._head(key)
        if head is None:
            return None
        size, crc = int(head["ContentLength"]), str(head.get("ChecksumCRC32") or "")
        if size != sent[0] or crc == sent[1] or (crc and head.get("ChecksumType") == "FULL_OBJECT"):
            return size, crc
        return size, self._read_back_crc32(key)

    def _read_back_crc32(self, key: str) -> str:
        body = self.client.get_object(Bucket=self.bucket, Key=key)["Body"]
        crc = 0
        for block in iter(lambda: body.read(1 << 20), b""):
            crc = zlib.crc32(block, crc)
        return _b64_crc32(crc)

    def _abort_incomplete(self, key: str) -> None:
        listing = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
        for upload in listing.get("Uploads", []):
            if upload["Key"] == key:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload["UploadId"])

    def _verify(self, key: str, sent: tuple[int, str]) -> None:
        """The object at ``key`` must have the size and CRC32 ``sent``, or it is removed."""
        there = self._found(key, sent)
        if there == sent:
            return
        self.client.delete_object(Bucket=self.bucket, Key=key)
        raise DeliveryError(
            f"s3://{self.bucket}/{key} failed verification after upload: has (size, CRC32) {there!r}, "
            f"sent {sent!r}; removed it"
        )


class StreamUpload:
    """A bundle uploaded while it is written: ``upload_fileobj`` runs in a thread of its own
    and reads what :meth:`write` is given through a :class:`_Pipe` that holds at most one
    part, and holds at most ``STREAMED_PARTS_IN_MEMORY`` parts being sent, so memory stays
    bounded and building overlaps uploading. The upload ends only
    when :meth:`complete` closes the pipe; :meth:`abort` breaks it instead, so the transfer
    aborts rather than completing a partial bundle. An upload that failed makes the stream
    give up (``failed``): writes are then ignored and :meth:`complete` raises ``DeliveryError``."""

    def __init__(self, dest: S3Destination, key: str) -> None:
        self._dest, self._key = dest, key
        self._pipe = _Pipe(limit=dest.part_size)
        self._crc = 0
        self._size = 0
        self.failed: BaseException | None = None
        self._thread = threading.Thread(target=self._upload, name="s3-stream", daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"s3://{self._dest.bucket}/{self._key}"

    def _upload(self) -> None:
        config = self._dest.transfer_config
        # Read from a stream, each part is held in memory until it is sent; by default the
        # transfer reads up to ten parts ahead of its upload threads (80 MB at 8 MB parts).
        # Two parts in flight keep the upload going while the next is written; beyond that
        # the writer waits for the upload instead of memory filling up.
        config.max_in_memory_upload_chunks = STREAMED_PARTS_IN_MEMORY
        try:
            self._dest.client.upload_fileobj(self._pipe, self._dest.bucket, self._key,
                                             ExtraArgs=dict(STREAMED_CHECKSUM), Config=config)
        except BaseException as exc:  # noqa: BLE001 - kept for complete() to report
            self.failed = exc
        finally:
            self._pipe.close_reader()

    def write(self, data: bytes | memoryview) -> int:
        if self.failed is None:
            self._crc = zlib.crc32(data, self._crc)
            self._size += len(data)
            self._pipe.write(bytes(data))
        return len(data)

    def complete(self) -> str:
        """End the bundle: the transfer sends the rest and completes the upload, which is
        then verified; returns its URL."""
        self._pipe.close()
        self._thread.join()
        if self.failed is not None:
            raise DeliveryError(f"streamed upload to {self.url} failed: {self.failed}") from self.failed
        try:
            self._dest._verify(self._key, (self._size, _b64_crc32(self._crc)))
        except DeliveryError:
            raise
        except Exception as exc:
            raise DeliveryError(f"streamed upload to {self.url} failed: {exc}") from exc
        return self.url

    def abort(self) -> None:
        """Give up: the transfer's next read fails, so it aborts the multipart upload (a
        bundle that fitted one part was never sent)."""
        self._pipe.break_off()
        self._thread.join()


class _Pipe:
    """Bytes from the bundle's writer to the transfer, which reads a part at a time. The
    writer waits while ``limit`` bytes are held (the upload sets the pace); the reader sees
    the end only after :meth:`close`, and after :meth:`break_off` its next read fails. Once
    the transfer has stopped reading (:meth:`close_reader`), writes are dropped."""

    def __init__(self, limit: int) -> None:
        self._limit = limit
        self._chunks: deque[bytes] = deque()
        self._held = 0
        self._closed = self._broken = self._reader_gone = False
        self._cond = threading.Condition()

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:  # so the transfer reads it as a stream, part by part
        return False

    def write(self, data: bytes) -> None:
        with self._cond:
            while self._held >= self._limit and not self._reader_gone:
                self._cond.wait()
            if not self._reader_gone:
                self._chunks.append(data)
                self._held += len(data)
                self._cond.notify_all()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def break_off(self) -> None:
        with self._cond:
            self._broken = True
            self._cond.notify_all()

    def close_reader(self) -> None:
        with self._cond:
            self._reader_gone = True
            self._chunks.clear()
            self._held = 0
            self._cond.notify_all()

    def read(self, size: int = -1) -> bytes:
        """``size`` bytes (all, if negative), fewer only at the end."""
        with self._cond:
            while not (self._broken or self._closed or 0 <= size <= self._held):
                self._cond.wait()
            if self._broken:
                raise DeliveryError("the bundle was abandoned before it was complete")
            want = self._held if size < 0 else min(size, self._held)
            out: list[bytes] = []
            while want > 0:
                chunk = self._chunks.popleft()
                if len(chunk) > want:
                    chunk, rest = chunk[:want], chunk[want:]
                    self._chunks.appendleft(rest)
                out.append(chunk)
                want -= len(chunk)
                self._held -= len(chunk)
            self._cond.notify_all()
            return b"".join(out)


def crc32_of_file(path: Path) -> str:
    """The CRC32 of the file at ``path``, base64 as S3 gives it."""
    crc = 0
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            crc = zlib.crc32(block, crc)
    return _b64_crc32(crc)


def _b64_crc32(crc: int) -> str:
    return base64.b64encode(crc.to_bytes(4, "big")).decode("ascii")


register_destination("s3", S3Destination.from_location)
