"""S3 (or any S3-compatible store) as a destination for bundles and a source of inbound ones.

Delivery is idempotent and verified. A bundle goes to ``<prefix><name>``; its name holds the
bundle ID, so a retried delivery targets the same key. Before uploading, an object already
there with the same size and ETag means the earlier attempt succeeded (no-op); one with other
content is a :class:`DeliveryConflict`; incomplete multipart uploads left for that key by a
failed attempt are aborted. Files above ``part_size`` go up as multipart uploads, several parts
at a time, each part read into memory once (memory stays at about ``part_size`` times
``concurrency``). Every request carries botocore's CRC32 checksum of its body, which the
store checks; after the upload the object's size must be what was sent and its ETag the one
the acknowledged parts make (the MD5 of their MD5 ETags, and their count; for a single PUT, the
body's MD5), or the object is removed and the delivery fails. Credentials come from the usual AWS configuration (environment, shared
files, instance role); only the endpoint URL is ours to configure.

:meth:`S3Destination.open_stream` uploads a bundle's parts while it is being written (the
outbox tees its bytes into it), and completes the upload only when asked, after the outbox
has recorded the bundle: a crash before that leaves an incomplete upload, which the next
delivery aborts. If a part fails, the stream gives up quietly (its writes are ignored) and
the outbox writes the same bundle to a file and delivers that, with retries.
"""

from __future__ import annotations

import contextlib
import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evidence.s3 import (  # the same s3://bucket/prefix URLs, refusals and budget as the evidence store
    parse_s3_url,
    refusal,
)
from evidence.spec import S3Budget
from exports.destinations import DestinationOptions, check_bundle_file, check_bundle_name, register_destination
from exports.errors import DeliveryConflict, DeliveryError, DeliveryRefused

DEFAULT_PART_SIZE = 8 << 20
MIN_PART_SIZE = 5 << 20  # S3's smallest part (except the last)


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

    def refused(self, exc: BaseException) -> DeliveryRefused | None:
        """``exc`` as a :class:`DeliveryRefused` when it is an answer no retry changes."""
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
        size = path.stat().st_size
        try:
            there = self._head(key)
            if there is not None:
                if there[0] == size and there[1] == self._etag_of_file(path, size):
                    return self.url(name)
                raise DeliveryConflict(f"{self.url(name)!r} already exists with different content")
            self._abort_incomplete(key)
            etag = self._put_small(path, key) if size <= self.part_size else self._put_multipart(path, key, size)
            self._verify(key, size, etag)
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
        """A multipart upload of ``name`` to feed while the bundle is written."""
        key = self.key(name)
        with self._refusals():
            self._abort_incomplete(key)
            upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        return StreamUpload(self, key, upload_id)

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
    def _head(self, key: str) -> tuple[int, str] | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return None
            raise
        return int(head["ContentLength"]), head["ETag"].strip('"')

    def _abort_incomplete(self, key: str) -> None:
        listing = self.client.list_multipart_uploads(Bucket=self.bucket, Prefix=key)
        for upload in listing.get("Uploads", []):
            if upload["Key"] == key:
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload["UploadId"])

    def _put_small(self, path: Path, key: str) -> str:
        data = path.read_bytes()
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)
        return hashlib.md5(data, usedforsecurity=False).hexdigest()

    def _put_multipart(self, path: Path, key: str, size: int) -> str:
        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)["UploadId"]
        try:
            return self._complete(key, upload_id, self._upload_parts(path, key, upload_id))
        except BaseException:
            self._abort(key, upload_id)
            raise

    def _abort(self, key: str, upload_id: str) -> None:
        # best effort: the store may be what is failing; the next delivery of this name aborts it
        with contextlib.suppress(Exception):
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload_id)

    def _send_part(self, key: str, upload_id: str, number: int, data: bytes) -> tuple[int, str]:
        reply = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=data)
        return number, reply["ETag"]

    def _complete(self, key: str, upload_id: str, parts: list[tuple[int, str]]) -> str:
        self.client.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": n, "ETag": etag} for n, etag in parts]},
        )
        return _multipart_etag([bytes.fromhex(etag.strip('"')) for _, etag in parts])

    def _upload_parts(self, path: Path, key: str, upload_id: str) -> list[tuple[int, str]]:
        def send(number: int, data: bytes) -> tuple[int, str]:
            return self._send_part(key, upload_id, number, data)

        done: list[tuple[int, str]] = []
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix="s3-part") as pool:
            running: set[Future[tuple[int, str]]] = set()
            try:
                for number, data in _read_parts(path, self.part_size):
                    if len(running) >= self.concurrency:  # bound memory: wait for a free slot
                        finished, running = wait(running, return_when=FIRST_COMPLETED)
                        done += [f.result() for f in finished]
                    running.add(pool.submit(send, number, data))
                done += [f.result() for f in running]
            except BaseException:
                for f in running:
                    f.cancel()
                raise
        return sorted(done)

    def _verify(self, key: str, size: int, etag: str) -> None:
        there = self._head(key)
        if there == (size, etag):
            return
        self.client.delete_object(Bucket=self.bucket, Key=key)
        raise DeliveryError(
            f"s3://{self.bucket}/{key} failed verification after upload: has (size, ETag) {there!r}, "
            f"sent {(size, etag)!r}; removed it"
        )

    def _etag_of_file(self, path: Path, size: int) -> str:
        if size <= self.part_size:
            h = hashlib.md5(usedforsecurity=False)
            with path.open("rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            return h.hexdigest()
        return _multipart_etag([hashlib.md5(d, usedforsecurity=False).digest()
                                for _, d in _read_parts(path, self.part_size)])


class StreamUpload:
    """Parts of a multipart upload sent while the bundle is written (``write``), at most
    ``concurrency`` in flight: writing waits for a free slot, so memory stays bounded and
    building overlaps uploading. A failed part makes the stream give up (``failed``); its
    writes are then ignored and :meth:`complete` raises ``DeliveryError``."""

    def __init__(self, dest: S3Destination, key: str, upload_id: str) -> None:
        self._dest, self._key, self._upload_id = dest, key, upload_id
        self._pool = ThreadPoolExecutor(dest.concurrency, thread_name_prefix="s3-stream")
        self._running: set[Future[tuple[int, str]]] = set()
        self._parts: list[tuple[int, str]] = []
        self._pieces: list[bytes] = []  # a part is cut at a write boundary once it has part_size bytes
        self._held = 0
        self._next = 1
        self._size = 0
        self.failed: BaseException | None = None

    def write(self, data: bytes | memoryview) -> int:
        if self.failed is None:
            self._pieces.append(bytes(data))
            self._held += len(data)
            self._size += len(data)
            if self._held >= self._dest.part_size:
                self._submit(b"".join(self._pieces))
                self._pieces, self._held = [], 0
        return len(data)

    def _submit(self, data: bytes) -> None:
        while len(self._running) >= self._dest.concurrency and self.failed is None:
            finished, self._running = wait(self._running, return_when=FIRST_COMPLETED)
            self._collect(finished)
        if self.failed is None:
            self._running.add(self._pool.submit(self._dest._send_part, self._key, self._upload_id, self._next, data))
            self._next += 1

    def _collect(self, finished: set[Future[tuple[int, str]]]) -> None:
        for f in finished:
            if f.exception() is not None and self.failed is None:
                self.failed = f.exception()
            elif f.exception() is None:
                self._parts.append(f.result())

    def complete(self) -> str:
        """Send the rest, complete the upload and verify the object; returns its URL."""
        try:
            if self._pieces and self.failed is None:
                self._submit(b"".join(self._pieces))
                self._pieces, self._held = [], 0
            finished, self._running = wait(self._running), set()
            self._collect(finished.done)
            if self.failed is not None:
                raise DeliveryError(f"streamed upload to s3://{self._dest.bucket}/{self._key} failed: {self.failed}")
            etag = self._dest._complete(self._key, self._upload_id, sorted(self._parts))
            self._dest._verify(self._key, self._size, etag)
        except DeliveryError:
            self.abort()
            raise
        except Exception as exc:
            self.abort()
            raise DeliveryError(f"streamed upload to s3://{self._dest.bucket}/{self._key} failed: {exc}") from exc
        finally:
            self._pool.shutdown(wait=True)
        return f"s3://{self._dest.bucket}/{self._key}"

    def abort(self) -> None:
        for f in self._running:
            f.cancel()
        self._pool.shutdown(wait=True)
        self._dest._abort(self._key, self._upload_id)


def _read_parts(path: Path, part_size: int) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        number = 1
        while data := fh.read(part_size):
            yield number, data
            number += 1


def _multipart_etag(md5s: list[bytes]) -> str:
    return f"{hashlib.md5(b''.join(md5s), usedforsecurity=False).hexdigest()}-{len(md5s)}"


register_destination("s3", S3Destination.from_location)
