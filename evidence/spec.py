"""Where an evidence store is and how to open it, as a value another process can be given.

A crawl runs in its own process (``spiders.crawl``) and stores media itself, so it must be
told which store to open: a local directory, or an ``s3://bucket/prefix`` (the cluster
profile) with its endpoint. The spec names the data key *file*, never the key, so it can
travel on a command line, in JSON or in Scrapy settings without exposing anything.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evidence.store import EvidenceStore, LocalEvidenceStore, load_data_key


@dataclass(frozen=True)
class EvidenceSpec:
    """An evidence store: ``location`` is a directory or ``s3://bucket/prefix``."""

    location: str
    key_file: Path
    endpoint_url: str | None = None  # S3 only; None: AWS

    @property
    def is_s3(self) -> bool:
        return self.location.startswith("s3://")

    def load_key(self) -> bytes:
        """The data key (raises FileNotFoundError or ValueError for a missing or bad file)."""
        return load_data_key(self.key_file)

    def open(self) -> EvidenceStore:
        """The store this spec names, with its key loaded."""
        key = self.load_key()
        if self.is_s3:
            from evidence.s3 import S3EvidenceStore  # boto3 is imported only when used

            return S3EvidenceStore(self.location, key, endpoint_url=self.endpoint_url)
        return LocalEvidenceStore(Path(self.location), key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with local paths made absolute (another process may run elsewhere)."""
        location = self.location if self.is_s3 else str(Path(self.location).resolve())
        return {"location": location, "key_file": str(Path(self.key_file).resolve()),
                "endpoint_url": self.endpoint_url}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EvidenceSpec:
        if not raw.get("location") or not raw.get("key_file"):
            raise ValueError(f"an evidence spec needs a location and a key_file, got {raw!r}")
        return cls(str(raw["location"]), Path(raw["key_file"]), raw.get("endpoint_url") or None)
