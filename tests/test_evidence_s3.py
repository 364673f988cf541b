"""The S3 evidence store against a real S3-compatible HTTP server (moto) on 127.0.0.1."""

from __future__ import annotations

import boto3
import pytest

from evidence import EvidenceNotFound, EvidenceTampered, S3EvidenceStore, new_data_key
from evidence.s3 import parse_s3_url

DATA = b"\x89PNG synthetic evidence " * 50


@pytest.fixture
def s3_endpoint(s3_server: str) -> str:
    """moto's S3 server on 127.0.0.1, shared by the session (tests/cluster_support.py)."""
    return s3_server


@pytest.fixture
def s3(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN201
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    client = boto3.client("s3", endpoint_url=s3_endpoint)
    client.create_bucket(Bucket="evidence")
    yield client
    for obj in client.list_objects_v2(Bucket="evidence").get("Contents", []):
        client.delete_object(Bucket="evidence", Key=obj["Key"])
    client.delete_bucket(Bucket="evidence")


def test_round_trip_only_ciphertext_in_the_bucket(s3, s3_endpoint: str) -> None:  # noqa: ANN001
    store = S3EvidenceStore("s3://evidence/site-a", new_data_key(), endpoint_url=s3_endpoint)
    sha256, new = store.add(DATA)
    assert new and store.add(DATA) == (sha256, False)
    assert store.put(DATA) == sha256 and store.exists(sha256) and store.get(sha256) == DATA
    objects = s3.list_objects_v2(Bucket="evidence")["Contents"]
    assert [o["Key"] for o in objects] == [f"site-a/{sha256[:2]}/{sha256[2:4]}/{sha256}"]
    blob = s3.get_object(Bucket="evidence", Key=objects[0]["Key"])["Body"].read()
    assert b"synthetic evidence" not in blob
    assert store.delete(sha256) and not store.exists(sha256)


def test_tampered_and_missing_objects_are_refused(s3, s3_endpoint: str) -> None:  # noqa: ANN001
    store = S3EvidenceStore("s3://evidence", new_data_key(), endpoint_url=s3_endpoint)
    sha256 = store.put(DATA)
    key = store.object_key(sha256)
    blob = bytearray(s3.get_object(Bucket="evidence", Key=key)["Body"].read())
    blob[-1] ^= 1
    s3.put_object(Bucket="evidence", Key=key, Body=bytes(blob))
    with pytest.raises(EvidenceTampered):
        store.get(sha256)
    with pytest.raises(EvidenceNotFound):
        store.get("0" * 64)


@pytest.mark.parametrize(
    ("url", "parsed"),
    [("s3://b", ("b", "")), ("s3://b/p", ("b", "p/")), ("s3://b/p/q/", ("b", "p/q/"))],
)
def test_parse_s3_url(url: str, parsed: tuple[str, str]) -> None:
    assert parse_s3_url(url) == parsed


@pytest.mark.parametrize("url", ["http://b/p", "s3://", "s3:///p", "/tmp/x"])
def test_parse_s3_url_refuses(url: str) -> None:
    with pytest.raises(ValueError, match="s3://"):
        parse_s3_url(url)
