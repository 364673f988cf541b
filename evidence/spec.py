"""Where an evidence store is and how to open it, as a value another process can be given.

A crawl runs in its own process (``spiders.crawl``) and stores media itself, so it must be
told which store to open: a local directory, or an ``s3://bucket/prefix`` (the cluster
profile) with its endpoint. The spec names the data key *file*, never the key, so it can
travel on a command line, in JSON or in Scrapy settings without exposing anything.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from evidence.store import EvidenceStore, LocalEvidenceStore, load_data_key


@dataclass(frozen=True)
class S3Budget:
    """How long one S3 call may take: a connect and a read timeout per attempt, and the
    attempts botocore makes (throttling, 5xx, timeouts, dropped connections). This is the
    only level that retries a call; the callers above it try again on a later run, not in
    a loop. Refusals (a missing bucket, access denied, bad credentials) are never retried."""

    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    max_attempts: int = 3

    def __post_init__(self) -> None:
        if not (self.connect_timeout_s > 0 and self.read_timeout_s > 0 and self.max_attempts >= 1):
            raise ValueError(f"an S3 budget needs positive timeouts and at least one attempt, got {self!r}")

    def config(self, **extra: Any) -> Any:
        """A botocore ``Config`` with these timeouts and attempts (``extra``: more options)."""
        from botocore.config import Config  # imported only by processes that talk to S3

        return Config(connect_timeout=self.connect_timeout_s, read_timeout=self.read_timeout_s,
                      retries={"max_attempts": self.max_attempts, "mode": "standard"}, **extra)

    def client(self, endpoint_url: str | None = None, **extra: Any) -> Any:
        """A boto3 S3 client for ``endpoint_url`` (None: AWS) within this budget."""
        import boto3

        return boto3.client("s3", endpoint_url=endpoint_url, config=self.config(**extra))


@dataclass(frozen=True)
class EvidenceSpec:
    """An evidence store: ``location`` is a directory or ``s3://bucket/prefix``."""

    location: str
    key_file: Path
    endpoint_url: str | None = None  # S3 only; None: AWS
    s3: S3Budget = field(default_factory=S3Budget)  # S3 only

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

            return S3EvidenceStore(self.location, key, endpoint_url=self.endpoint_url, budget=self.s3)
        return LocalEvidenceStore(Path(self.location), key)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with local paths made absolute (another process may run elsewhere)."""
        location = self.location if self.is_s3 else str(Path(self.location).resolve())
        return {"location": location, "key_file": str(Path(self.key_file).resolve()),
                "endpoint_url": self.endpoint_url, "s3": asdict(self.s3)}

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> EvidenceSpec:
        if not raw.get("location") or not raw.get("key_file"):
            raise ValueError(f"an evidence spec needs a location and a key_file, got {raw!r}")
        budget = S3Budget(**raw["s3"]) if raw.get("s3") else S3Budget()
        return cls(str(raw["location"]), Path(raw["key_file"]), raw.get("endpoint_url") or None, budget)
