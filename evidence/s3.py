"""Evidence in an S3 bucket (the cluster profile): the same sealed objects as on disk.

Objects are ``<prefix><aa>/<bb>/<sha256>`` in the HLE1 format of ``evidence.store``; the
bucket only ever holds ciphertext. boto3 retries throttling, 5xx answers, timeouts and
connection errors with exponential backoff within the store's ``S3Budget`` (timeouts and
attempts from the settings); what still fails after that becomes ``EvidenceUnavailable``
(transient: a later run tries again), while a refusal (403, a missing bucket, bad
credentials) is an ``EvidenceError`` at once. Credentials come from the usual AWS
configuration.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from evidence.errors import EvidenceError, EvidenceNotFound, EvidenceUnavailable
from evidence.spec import S3Budget
from evidence.store import _check_id, seal, unseal

_MISSING = ("404", "NoSuchKey", "NotFound")
_TRANSIENT = ("500", "502", "503", "504", "InternalError", "ServiceUnavailable", "SlowDown",
              "RequestTimeout", "Throttling", "ThrottlingException", "RequestTimeTooSkewed")


# Answers that no retry can change, and what the operator should check.
_REFUSALS = {
    "NoSuchBucket": "the bucket does not exist",
    "AccessDenied": "access denied: the credentials may not use this bucket",
    "AllAccessDisabled": "all access to this bucket is disabled",
    "InvalidAccessKeyId": "the access key is not known to the endpoint: check the credentials",
    "SignatureDoesNotMatch": "the secret key does not match the access key: check the credentials",
    "InvalidBucketName": "the bucket name is not valid",
    "AccountProblem": "the account has a problem the endpoint will not serve",
}


def refusal(exc: BaseException) -> str | None:
    """What an S3 answer that cannot heal means (a missing bucket, access denied, bad
    credentials), or None when trying again later may help."""
    if not isinstance(exc, ClientError):
        return None
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    bucket = exc.response.get("Error", {}).get("BucketName")
    if code in _REFUSALS:
        where = f" ({bucket!r})" if bucket else ""
        return f"{_REFUSALS[code]}{where} [{code}]"
    if status == "403":
        return f"access denied [{code or 403}]"
    return None


def _failure(exc: ClientError | BotoCoreError, what: str) -> EvidenceError:
    """The evidence error for an S3 call that failed after botocore's own retries."""
    if isinstance(exc, BotoCoreError):  # no answer: connection refused, timeout, DNS
        return EvidenceUnavailable(f"S3 unreachable while trying to {what}: {exc}")
    code = str(exc.response.get("Error", {}).get("Code", ""))
    status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    if code in _TRANSIENT or status.startswith("5"):
        return EvidenceUnavailable(f"S3 kept failing while trying to {what}: {exc}")
    return EvidenceError(f"S3 refused to {what}: {refusal(exc) or exc}")


def parse_s3_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` -> ``("bucket", "some/prefix/")``."""
    if not url.startswith("s3://") or not url[5:].split("/", 1)[0]:
        raise ValueError(f"not an s3://bucket/prefix URL: {url!r}")
    bucket, _, prefix = url[5:].partition("/")
    prefix = prefix.strip("/")
    return bucket, (prefix + "/" if prefix else "")


class S3EvidenceStore:
    """Sealed evidence objects in ``bucket`` under ``prefix``."""

    def __init__(
        self,
        url: str,
        key: bytes,
        *,
        endpoint_url: str | None = None,
        client: Any | None = None,
        budget: S3Budget | None = None,
    ) -> None:
        if len(key) != 32:
            raise ValueError("the evidence data key must be 32 bytes")
        self.bucket, self.prefix = parse_s3_url(url)
        self._key = key
        self._s3 = client or (budget or S3Budget()).client(endpoint_url)

    def __repr__(self) -> str:  # never show the key
        return f"S3EvidenceStore('s3://{self.bucket}/{self.prefix}')"

    def object_key(self, sha256: str) -> str:
        _check_id(sha256)
        return f"{self.prefix}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def put(self, data: bytes) -> str:
        return self.add(data)[0]

    def add(self, data: bytes) -> tuple[str, bool]:
        sha256 = hashlib.sha256(data).hexdigest()
        if self.exists(sha256):
            return sha256, False
        try:
            self._s3.put_object(
                Bucket=self.bucket, Key=self.object_key(sha256), Body=seal(self._key, sha256, data)
            )
        except (ClientError, BotoCoreError) as exc:
            raise _failure(exc, f"store evidence {sha256!r}") from None
        return sha256, True

    def get(self, sha256: str) -> bytes:
        try:
            answer = self._s3.get_object(Bucket=self.bucket, Key=self.object_key(sha256))
            blob = answer["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                raise EvidenceNotFound(sha256) from None
            raise _failure(exc, f"read evidence {sha256!r}") from None
        except BotoCoreError as exc:
            raise _failure(exc, f"read evidence {sha256!r}") from None
        return unseal(self._key, sha256, blob)

    def exists(self, sha256: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=self.object_key(sha256))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in _MISSING:
                return False
            raise _failure(exc, f"look up evidence {sha256!r}") from None
        except BotoCoreError as exc:
            raise _failure(exc, f"look up evidence {sha256!r}") from None
        return True

    def delete(self, sha256: str) -> bool:
        existed = self.exists(sha256)
        if existed:
            try:
                self._s3.delete_object(Bucket=self.bucket, Key=self.object_key(sha256))
            except (ClientError, BotoCoreError) as exc:
                raise _failure(exc, f"delete evidence {sha256!r}") from None
        return existed

    def objects(self, start: str = "") -> Iterator[tuple[str, int]]:
        pages = self._s3.get_paginator("list_objects_v2")
        # keys sort as their names do; "<prefix>ab/3" comes before every key of a name from "ab3" on
        after = {"StartAfter": f"{self.prefix}{start[:2]}/{start[2:4]}"} if start else {}
        try:
            for page in pages.paginate(Bucket=self.bucket, Prefix=self.prefix, **after):
                for entry in page.get("Contents", []):
                    name = entry["Key"].rsplit("/", 1)[-1]
                    if _FULL_ID.match(name) and name >= start:
                        yield name, int(entry["Size"])
        except (ClientError, BotoCoreError) as exc:
            raise _failure(exc, "list evidence objects") from None


_FULL_ID = re.compile(r"^[0-9a-f]{64}$")
