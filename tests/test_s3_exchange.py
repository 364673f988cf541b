"""Exchange over S3: boto3 against moto's S3 server on 127.0.0.1, and against a proxy in front
of it that fails mid-upload or loses a part. Multipart uploads are verified, retried exports
are delivered under the same name, nothing is lost or duplicated, and the partner picks the
bundle up from its inbound prefix."""

from __future__ import annotations

import http.client
import os
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import boto3
import boto3.s3.transfer
import pytest
from exchange_support import confirmed_item, make_installation, register

from exports import DeliveryConflict, DeliveryError, S3Destination, write_bundle
from exports.key_files import generate_encryption_key, generate_signing_key
from exports.s3_destination import crc32_of_file
from hotline.services.partner_exchange import export_to_partner, poll_inbound

BUCKET = "exchange"
MiB = 1 << 20


class FlakyS3Proxy:
    """Forwards S3 requests to ``upstream``; can fail every UploadPart after the first
    ``fail_parts_after`` with HTTP 500, drop the last part from CompleteMultipartUpload, or
    answer HEAD with an ETag that is not the MD5 of the object, as S3 does on SSE-KMS and
    SSE-C buckets (``opaque_etags``)."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.removeprefix("http://")
        self.fail_parts_after: int | None = None
        self.drop_last_part = False
        self.opaque_etags = False
        self.parts_seen = 0
        self.failures = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                headers = {k: v for k, v in self.headers.items()}
                if proxy._refuse(self.command, self.path):
                    self.send_response(500)
                    error = b"<Error><Code>InternalError</Code><Message>injected outage</Message></Error>"
                    self.send_header("Content-Length", str(len(error)))
                    self.end_headers()
                    self.wfile.write(error)
                    return
                if proxy.drop_last_part and self.command == "POST" and "uploadId=" in self.path:
                    body = re.sub(rb"(.*)<Part>.*?</Part>", rb"\1", body, flags=re.DOTALL)
                    headers = {k: v for k, v in headers.items() if not k.lower().startswith(("content-md5", "x-amz-checksum"))}
                    headers["Content-Length"] = str(len(body))
                conn = http.client.HTTPConnection(proxy.upstream, timeout=60)
                conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
                for k, v in headers.items():
                    conn.putheader(k, v)
                conn.endheaders(body)
                reply = conn.getresponse()
                data = reply.read()
                self.send_response(reply.status)
                for k, v in reply.getheaders():
                    if k.lower() == "etag" and proxy.opaque_etags and self.command == "HEAD":
                        v = f'"{os.urandom(16).hex()}"'
                    if k.lower() not in ("transfer-encoding", "content-length", "connection", "server", "date"):
                        self.send_header(k, v)
                length = reply.getheader("Content-Length") if self.command == "HEAD" else None
                self.send_header("Content-Length", length or str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                conn.close()

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _refuse(self, method: str, path: str) -> bool:
        if method != "PUT" or "partNumber=" not in path:
            return False
        with self._lock:
            self.parts_seen += 1
            if self.fail_parts_after is not None and self.parts_seen > self.fail_parts_after:
                self.failures += 1
                return True
        return False

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def moto_url(s3_server: str) -> str:
    """moto's S3 server on 127.0.0.1, shared by the session (tests/cluster_support.py)."""
    return s3_server


@pytest.fixture
def s3(moto_url: str, monkeypatch: pytest.MonkeyPatch):
    """A fresh bucket; credentials from the usual AWS environment variables."""
    for name, value in (("AWS_ACCESS_KEY_ID", "test"), ("AWS_SECRET_ACCESS_KEY", "test"),
                        ("AWS_DEFAULT_REGION", "us-east-1")):
        monkeypatch.setenv(name, value)
    client = boto3.client("s3", endpoint_url=moto_url)
    client.create_bucket(Bucket=BUCKET)
    yield client
    for obj in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=obj["Key"])
    for upload in client.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
        client.abort_multipart_upload(Bucket=BUCKET, Key=upload["Key"], UploadId=upload["UploadId"])
    client.delete_bucket(Bucket=BUCKET)


@pytest.fixture
def proxy(moto_url: str) -> Iterator[FlakyS3Proxy]:
    p = FlakyS3Proxy(moto_url)
    yield p
    p.close()


def _bundle_file(path: Path, size: int) -> Path:
    with path.open("wb") as out:
        write_bundle(out, {"note": "benign test data"}, [], sender=generate_signing_key(),
                     recipients=[generate_encryption_key().public_key()],
                     files=[("noise.bin", os.urandom(size))])
    return path


def _keys(client) -> list[str]:
    return [o["Key"] for o in client.list_objects_v2(Bucket=BUCKET).get("Contents", [])]


def test_multipart_delivery_is_verified_and_idempotent(s3, moto_url: str, proxy: FlakyS3Proxy, tmp_path: Path) -> None:
    dest = S3Destination.from_url(f"s3://{BUCKET}/drop", moto_url, part_size=5 * MiB)
    big = _bundle_file(tmp_path / "big.hlb", 12 * MiB)
    small = _bundle_file(tmp_path / "small.hlb", 1000)
    assert dest.deliver(big, "hotline-big.hlb") == f"s3://{BUCKET}/drop/hotline-big.hlb"
    head = s3.head_object(Bucket=BUCKET, Key="drop/hotline-big.hlb")
    assert head["ContentLength"] == big.stat().st_size and head["ETag"].endswith('-3"')  # three parts
    head = s3.head_object(Bucket=BUCKET, Key="drop/hotline-big.hlb", ChecksumMode="ENABLED")
    assert (head["ChecksumType"], head["ChecksumCRC32"]) == ("FULL_OBJECT", crc32_of_file(big))  # S3's own
    assert dest.deliver(big, "hotline-big.hlb") == f"s3://{BUCKET}/drop/hotline-big.hlb"  # no-op
    dest.deliver(small, "hotline-small.hlb")
    assert dest.list_bundles() == ["hotline-big.hlb", "hotline-small.hlb"]
    with pytest.raises(DeliveryConflict):
        dest.deliver(small, "hotline-big.hlb")
    fetched = dest.fetch("hotline-big.hlb", tmp_path / "fetched.hlb")
    assert fetched.read_bytes() == big.read_bytes()
    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"not encrypted")
    with pytest.raises(DeliveryError, match="not a bundle file"):
        dest.deliver(plain, "plain.hlb")

    # A store that loses a part: the object fails verification and is removed.
    proxy.drop_last_part = True
    lossy = S3Destination.from_url(f"s3://{BUCKET}/drop", proxy.url, part_size=5 * MiB)
    with pytest.raises(DeliveryError, match=r"failed verification after upload: has \(size, CRC32\) \(10485760, '[A-Za-z0-9+/]+=*'\)"):
        lossy.deliver(big, "hotline-lossy.hlb")
    assert "drop/hotline-lossy.hlb" not in _keys(s3)


def test_uploads_are_accepted_where_the_etag_is_not_the_md5(s3, moto_url: str, proxy: FlakyS3Proxy,
                                                           tmp_path: Path) -> None:
    """On SSE-KMS and SSE-C buckets an object's ETag is not the MD5 of its data: a correct
    upload, single or multipart, delivered or streamed, is accepted and not removed, and
    delivering it again is a no-op."""
    proxy.opaque_etags = True
    dest = S3Destination.from_url(f"s3://{BUCKET}/kms", proxy.url, part_size=5 * MiB)
    for size in (1000, 12 * MiB):
        bundle = _bundle_file(tmp_path / f"b{size}.hlb", size)
        assert dest.deliver(bundle, f"hotline-{size}.hlb") == f"s3://{BUCKET}/kms/hotline-{size}.hlb"
        assert dest.deliver(bundle, f"hotline-{size}.hlb") == f"s3://{BUCKET}/kms/hotline-{size}.hlb"  # no-op
        stream = dest.open_stream(f"hotline-streamed-{size}.hlb")
        data = bundle.read_bytes()
        for at in range(0, len(data), 1 << 16):
            stream.write(data[at:at + (1 << 16)])
        assert stream.complete() == f"s3://{BUCKET}/kms/hotline-streamed-{size}.hlb"
        for key in (f"kms/hotline-{size}.hlb", f"kms/hotline-streamed-{size}.hlb"):
            assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == data


def test_an_abandoned_stream_leaves_nothing_under_the_name(s3, moto_url: str, tmp_path: Path) -> None:
    """A bundle whose writing stops (the run failed while building it) never appears, whether
    it had started a multipart upload or still fitted one part."""
    dest = S3Destination.from_url(f"s3://{BUCKET}/drop", moto_url, part_size=5 * MiB)
    data = _bundle_file(tmp_path / "big.hlb", 12 * MiB).read_bytes()
    for written in (1000, 11 * MiB):
        stream = dest.open_stream(f"hotline-{written}.hlb")
        for at in range(0, written, 1 << 16):
            stream.write(data[at:min(written, at + (1 << 16))])
        stream.abort()
        with pytest.raises(DeliveryError, match="abandoned"):
            stream.complete()
    assert _keys(s3) == [] and s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_an_object_uploaded_in_other_parts_is_recognised(s3, moto_url: str, tmp_path: Path) -> None:
    """The same bundle already there, uploaded with another part size (an earlier run with
    another setting, or by hand): delivering it is a no-op, not a conflict."""
    bundle = _bundle_file(tmp_path / "big.hlb", 12 * MiB)
    s3.upload_file(str(bundle), BUCKET, "drop/hotline-big.hlb",
                   Config=boto3.s3.transfer.TransferConfig(multipart_threshold=6 * MiB, multipart_chunksize=6 * MiB))
    dest = S3Destination.from_url(f"s3://{BUCKET}/drop", moto_url, part_size=5 * MiB)
    assert dest.deliver(bundle, "hotline-big.hlb") == f"s3://{BUCKET}/drop/hotline-big.hlb"
    other = _bundle_file(tmp_path / "other.hlb", 12 * MiB)
    with pytest.raises(DeliveryConflict):
        dest.deliver(other, "hotline-big.hlb")


def test_outage_mid_upload_is_retried_without_loss_or_duplicates(s3, moto_url: str, proxy: FlakyS3Proxy,
                                                                  tmp_path: Path) -> None:
    ours = make_installation(tmp_path, "nl", "NL", s3_part_size=5 * MiB)
    theirs = make_installation(tmp_path, "at", "AT", inbound=f"s3://{BUCKET}/at-inbox/", s3_endpoint_url=moto_url,
                               import_media=True)
    register(ours, theirs, "at-hotline", countries=["AT"], destination=f"s3://{BUCKET}/at-inbox/",
             endpoint_url=proxy.url, media=True)
    register(theirs, ours, "nl-hotline", countries=["NL"])
    items = {confirmed_item(ours, os.urandom(4 * MiB), page_url=f"http://{n}.example/", country="AT", image=False)
             for n in range(3)}

    proxy.fail_parts_after = 1
    with pytest.raises(DeliveryError, match="failed"):
        export_to_partner(ours, "at-hotline", actor="test")
    assert proxy.failures >= 3 and ours.catalog.exports() == [] and _keys(s3) == []
    (waiting,) = (ours.settings.outbox_dir / "partner_at-hotline").glob("*.hlb")

    proxy.fail_parts_after = None  # the store is back; the next scheduled run retries
    (delivered,) = export_to_partner(ours, "at-hotline", actor="test")
    assert delivered.bundle_id == waiting.stem and delivered.items == 3  # the same bundle, not a new one
    assert _keys(s3) == [f"at-inbox/hotline-{delivered.bundle_id}.hlb"]
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []
    assert export_to_partner(ours, "at-hotline", actor="test") == []
    assert [e.items for e in ours.catalog.exports()] == [3]
    assert [f for f in (ours.settings.outbox_dir / "partner_at-hotline").iterdir() if f.name != ".lock"] == []

    polled = poll_inbound(theirs, actor="test")
    assert polled.refused == [] and [r.media_stored for r in polled.imported] == [3]
    assert all(theirs.evidence.exists(sha) for sha in items)
    assert len(theirs.catalog.list_reports()) == 3
    assert poll_inbound(theirs, actor="test").skipped == 1
    ours.close()
    theirs.close()
