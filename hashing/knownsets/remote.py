"""Known-hash set files on S3, for the cluster profile: the machine that imports a set
uploads its normalised Parquet file; every machine that matches keeps a local copy.

Set files are named by their content (``<name>-<digest>.parquet``, see ``importer``), so an
object never changes once written: a copy is fetched once, when its file is missing, and
written atomically (a temporary file renamed into place). They hold hashes, never media.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from evidence.s3 import parse_s3_url
from evidence.spec import S3Budget
from hashing.errors import KnownSetError


class RemoteSets:
    """The set files under ``s3://bucket/prefix``."""

    def __init__(
        self, url: str, *, endpoint_url: str | None = None, client: Any | None = None, budget: S3Budget | None = None
    ) -> None:
        self.bucket, self.prefix = parse_s3_url(url)
        self._s3 = client or (budget or S3Budget()).client(endpoint_url)

    def __repr__(self) -> str:
        return f"RemoteSets('s3://{self.bucket}/{self.prefix}')"

    def key(self, file_name: str) -> str:
        return self.prefix + file_name

    def exists(self, file_name: str) -> bool:
        try:
            self._s3.head_object(Bucket=self.bucket, Key=self.key(file_name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise KnownSetError(f"S3 refused to look up known set {file_name!r}: {exc}") from None
        except BotoCoreError as exc:
            raise KnownSetError(f"S3 unreachable looking up known set {file_name!r}: {exc}") from None
        return True

    def upload(self, path: Path) -> bool:
        """Upload a set file unless it is there already; returns whether it was uploaded."""
        if self.exists(path.name):
            return False
        try:
            self._s3.upload_file(str(path), self.bucket, self.key(path.name))
        except (ClientError, BotoCoreError) as exc:
            raise KnownSetError(f"could not upload known set {path.name!r}: {exc}") from None
        return True

    def fetch(self, path: Path) -> bool:
        """Make sure ``path`` holds the set file of its name; returns whether it was fetched."""
        if path.exists():
            return False
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fetch-", suffix=".parquet")
        os.close(fd)
        try:
            self._s3.download_file(self.bucket, self.key(path.name), tmp)
            os.replace(tmp, path)
        except (ClientError, BotoCoreError) as exc:
            raise KnownSetError(f"could not fetch known set {path.name!r} from {self!r}: {exc}") from None
        finally:
            Path(tmp).unlink(missing_ok=True)
        return True
