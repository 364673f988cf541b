"""The one settings object.

Values come, highest first, from keyword arguments, ``HOTLINE_*`` environment variables,
the TOML file named by ``HOTLINE_CONFIG`` (or ``<data_dir>/hotline.toml`` when it exists),
and the defaults below. Paths inside the data directory are derived, not configured.
"""

from __future__ import annotations

import ipaddress
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def _config_file() -> Path | None:
    explicit = os.environ.get("HOTLINE_CONFIG")
    if explicit:
        return Path(explicit)
    data_dir = Path(os.environ.get("HOTLINE_DATA_DIR", "hotline-data"))
    candidate = data_dir / "hotline.toml"
    return candidate if candidate.exists() else None


_CONTACT_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,47}")
_ADDRESS = re.compile(r"[^@\s<>,]+@[^@\s<>,]+")


class AbuseContact(BaseModel):
    """Where takedown notices for some hosts go when no partner hotline handles the hosting
    country: a hosting provider's abuse desk (by host name suffix or IP network) or a
    country's (by ISO code). See docs/operations.md, "Abuse contacts", for which one wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="Lower-case name, unique; its ledger name is abuse:<name>.")
    email: str = Field(description="The abuse desk's address.")
    hosts: tuple[str, ...] = Field((), description="Host names; each also covers its subdomains.")
    networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = Field(
        (), description="IP networks (CIDR) of the media's address.")
    countries: tuple[str, ...] = Field((), description="ISO 3166 codes of the media's hosting country.")
    escalate_to: tuple[str, ...] = Field((), description="Addresses copied on escalated notices.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _CONTACT_NAME.fullmatch(value):
            raise ValueError(f"an abuse contact's name is lower-case letters, digits, '.', '_' or '-' "
                             f"(at most 48), not {value!r}")
        return value

    @field_validator("email", "escalate_to")
    @classmethod
    def _addresses(cls, value: Any) -> Any:
        for address in (value,) if isinstance(value, str) else value:
            if not _ADDRESS.fullmatch(address):
                raise ValueError(f"not an e-mail address: {address!r}")
        return value

    @field_validator("hosts")
    @classmethod
    def _hosts(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        hosts = tuple(h.strip().lower().strip(".") for h in value)
        if any(not h or "/" in h or ":" in h for h in hosts):
            raise ValueError(f"hosts are host names (a suffix covers its subdomains), not {value!r}")
        return hosts

    @field_validator("countries")
    @classmethod
    def _countries(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [c for c in value if len(c) != 2 or not c.isalpha()]
        if bad:
            raise ValueError(f"countries are two-letter ISO 3166 codes, not {bad!r}")
        return tuple(c.upper() for c in value)

    @model_validator(mode="after")
    def _covers_something(self) -> AbuseContact:
        if not (self.hosts or self.networks or self.countries):
            raise ValueError(f"abuse contact {self.name!r} names no hosts, networks or countries")
        return self


class Settings(BaseSettings):
    """Everything an installation can configure."""

    model_config = SettingsConfigDict(env_prefix="HOTLINE_", extra="forbid", frozen=True)

    data_dir: Path = Field(Path("hotline-data"), description="Where the catalog, evidence and keys live.")
    catalog_url: str | None = Field(
        None, description="SQLAlchemy URL of the catalog; default: SQLite in the data directory."
    )
    catalog_lock_timeout_s: float = Field(
        60.0, gt=0, description="SQLite catalog: how long a write waits for another process's write lock."
    )
    country: str = Field("XX", description="ISO 3166 code of this hotline's own country.")
    token: str | None = Field(
        None, description="A command-line login token (else the token file `hotline login` wrote)."
    )

    crawl_allow: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="host:port pairs the crawler may visit although they are local (tests, demo)."
    )
    crawl_max_pages: int = 20
    crawl_max_media_bytes: int = 50 * 1024 * 1024
    crawl_request_timeout_s: float = 20.0
    crawl_timeout_s: float = 300.0
    crawl_user_agent: str = "hotline/0.1 (+https://github.com/hotline)"
    # Crawl limits; each one that fires is recorded as a reason on the report.
    crawl_max_depth: int = Field(1, ge=0, description="Link levels followed on the reported site.")
    crawl_max_media: int = Field(2000, gt=0, description="Media URLs fetched per report.")
    crawl_max_page_bytes: int = Field(10 * 1024 * 1024, gt=0, description="Largest HTML page parsed.")
    crawl_max_pixels: int = Field(100_000_000, gt=0, description="Largest image stored, in pixels.")
    crawl_max_redirects: int = Field(5, ge=0, description="Redirects (and refreshes) per request.")
    crawl_max_store_failures: int = Field(
        5, gt=0, description="Evidence store failures in a row after which a crawl fetches no more media"
        " (the rest is kept pending for the next run)."
    )
    recheck_limit: int = Field(500, gt=0, description="URLs of confirmed items re-checked per run.")
    recheck_removed_after: int = Field(
        2, gt=0, description="Consecutive re-checks that must find a URL gone (HTTP 404/410, or its host name "
                             "does not exist) before it counts as removed.")

    evidence_url: str | None = Field(
        None, description="Evidence store: s3://bucket/prefix (cluster profile); default <data_dir>/evidence."
    )
    # Cluster profile and fault tolerance
    known_url: str | None = Field(
        None, description="Known-hash set files on S3 (s3://bucket/prefix), cached in <data_dir>/known on each machine."
    )
    dask_address: str | None = Field(
        None, description="Dask scheduler (tcp://host:8786) that process-report fans hashing and crawls out to."
    )
    dask_workers: int = Field(
        0, ge=0, description="Without dask_address: a local Dask cluster of this many worker processes (0: threads)."
    )
    flow_threads: int = Field(
        8, gt=0, description="Tasks run at once in a flow run (crawls, each its own process; hash batches);"
        " a local Dask cluster shares them among its workers."
    )
    claim_lease_s: float = Field(
        300.0, gt=0, description="Seconds a run's claim on its reports lasts unless renewed (every quarter of it);"
        " the reports of a run that died are taken by the next run after this long."
    )
    hash_batch: int = Field(50, gt=0, description="Media items per hashing task (the unit spread over workers).")
    quarantine_after: int = Field(
        3, gt=0, description="Runs an item may fail transiently (storage unreachable) before it is quarantined."
    )
    free_space_warn_percent: float = Field(
        10.0, ge=0, le=100, description="`hotline doctor` warns when a disk it writes to has less free space (%)."
    )
    free_space_fail_percent: float = Field(
        2.0, ge=0, le=100, description="`hotline doctor` fails when a disk it writes to has less free space (%)."
    )
    retention_days: int | None = Field(
        None, gt=0, description="Purge evidence this many days after verdict and export (retention flow); None: never."
    )
    pdq_threshold: int = Field(31, ge=0, le=256)
    # Hashing and matching
    pdq_min_quality: int = Field(
        50, ge=0, le=100,
        description="PDQ hashes of lower quality (flat, dark, tiny pictures; video frames too) neither match "
        "nor are imported from known sets as matchable rows (Meta's guidance: 50).",
    )
    video_sample_interval: float = Field(1.0, gt=0, description="Seconds between the video frames hashed.")
    video_max_frames: int = Field(3600, gt=0, description="Most frames hashed per video.")
    vpdq_threshold: float = Field(
        0.8, gt=0, le=1, description="Share of frames, both ways, that makes a video match a known one."
    )
    known_flood_threshold: int = Field(
        25, ge=2, description="A known row matching this many distinct items within known_flood_window_h, and ten "
        "times as many as in all the time before, is quarantined (a blank frame, a logo that slipped into a set).",
    )
    known_flood_window_h: float = Field(24.0, gt=0, description="The window known_flood_threshold counts in, hours.")
    export_media: bool = Field(False, description="Put media into the INTERPOL-drop bundles.")

    # Review queue and classification
    law_profiles: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Jurisdictions whose verdicts are derived besides INTERPOL's baseline and `country`."
    )
    profiles_dir: Path | None = Field(None, description="Extra law profiles (*.toml); default <data_dir>/profiles.")
    four_eyes: bool | None = Field(
        None, description="Refused: the four-eyes rule is the installation's, kept in the catalog (`hotline rules`)."
    )
    allow_interpol_profile: bool = Field(
        False, description="Accept an INTERPOL baseline profile in profiles_dir in place of the shipped, pinned one."
    )
    queue_priority: Annotated[tuple[str, ...], NoDecode] = Field(
        ("new", "report_age"), description="Queue order: new, report_age, newest_report, size, first_seen."
    )
    cluster_pdq_threshold: int = Field(
        31, ge=0, le=31, description="PDQ distance that groups queued items (at most 31: the multi-index finds no farther).")
    review_lease_minutes: float = Field(15.0, gt=0, description="How long a claimed cluster stays with its analyst.")
    review_session_hours: float = Field(8.0, gt=0, description="A login lasts at most this long.")
    review_idle_minutes: float = Field(30.0, gt=0, description="A login ends after this long without a request.")
    review_blur: int = Field(18, ge=0, le=64, description="Default blur strength of thumbnails (users may change theirs).")
    review_reveal_budget: int = Field(40, ge=0, description="Default reveals a day per analyst, shown against their count.")
    review_host: str = Field("127.0.0.1", description="Address `hotline serve` listens on.")
    review_port: int = Field(8080, ge=0, le=65535)
    prefect_port: int = Field(4200, ge=1, le=65535, description="Port of the Prefect server `hotline up` runs.")
    worker_poll_s: float = Field(
        1.0, gt=0, description="Seconds between the `hotline up` worker's asks for runs to start (Prefect's default"
        " is 10): a flow command's run waits about half of it before the worker takes it."
    )
    prefect_database_url: str | None = Field(
        None, description="Database of the Prefect server `hotline up` runs (SQLAlchemy async URL); default: SQLite "
                          "in <data_dir>/prefect, or a database <name>_prefect beside a PostgreSQL catalog."
    )
    review_secure_cookies: bool = Field(
        False, description="Always mark cookies Secure (they are anyway when a request arrives over HTTPS)."
    )
    review_behind_proxy: bool = Field(
        False, description="A reverse proxy in front: trust its X-Forwarded-Proto (HTTPS: Secure cookies)."
    )
    login_free_failures: int = Field(
        3, ge=1, description="Wrong passwords per account or client address before logins there are slowed."
    )
    login_backoff_s: float = Field(
        2.0, gt=0, description="The first wait after the free failures; it doubles with each further failure."
    )
    login_backoff_max_s: float = Field(900.0, gt=0, description="The longest wait between two login attempts.")

    # Intake (`hotline report add --from`, the HTTP intake API)
    intake_duplicate_window_days: float = Field(
        30.0, ge=0, description="A URL reported again within this many days is linked to the earlier report, "
        "not crawled again (0: never linked)."
    )
    intake_batch_size: int = Field(5000, gt=0, description="Reports filed per transaction.")
    intake_max_body_bytes: int = Field(1024 * 1024, gt=0, description="Largest HTTP intake request (else 413).")
    intake_max_reports: int = Field(1000, gt=0, description="Most reports in one HTTP intake request (else 413).")
    intake_rate_per_minute: int = Field(120, gt=0, description="HTTP intake requests a client may make a minute "
                                        "(else 429 with Retry-After).")
    intake_token_days: float = Field(365.0, gt=0, description="How long an intake client's token lasts.")

    @field_validator("four_eyes")
    @classmethod
    def _four_eyes_is_the_catalogs(cls, value: bool | None) -> None:
        # a per-process switch let one shell record exportable verdicts nobody confirmed
        if value is not None:
            raise ValueError("four_eyes is no longer a setting: it is a rule of the installation, stored in the "
                             "catalog; remove HOTLINE_FOUR_EYES (or four_eyes in hotline.toml) and have an admin run "
                             f"`hotline rules set four_eyes {'on' if value else 'off'}`")
        return None

    @field_validator("law_profiles", "queue_priority", mode="before")
    @classmethod
    def _split_words(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    # Secure exchange
    interpol_destination: str | None = Field(
        None, description="INTERPOL drop: a directory or s3://bucket/prefix; default <data_dir>/drop."
    )
    interpol_scope: Literal["all", "new"] = Field(
        "all", description="What the INTERPOL drop receives: all (our analysts' confirmed items, new material marked "
        "and listed first) or new (only new material: items no known set nor partner had, and their updates)."
    )
    interpol_keys: Annotated[tuple[Path, ...], NoDecode] = Field(
        (), description="INTERPOL's X25519 public keys (PEM files, comma-separated); default: our own drop key."
    )
    inbound: str | None = Field(
        None, description="Where partners' bundles arrive: a directory or s3://bucket/prefix; default <data_dir>/inbox."
    )
    s3_endpoint_url: str | None = Field(
        None, description="S3 endpoint URL for the s3:// locations in these settings (None: AWS)."
    )
    s3_part_size: int = Field(8 * 1024 * 1024, ge=5 * 1024 * 1024, description="Multipart upload part size.")
    # Every S3 client (evidence, known sets, exports) gets these, and retries at that one level only.
    s3_connect_timeout_s: float = Field(10.0, gt=0, description="Seconds to open a connection to S3.")
    s3_read_timeout_s: float = Field(60.0, gt=0, description="Seconds S3 may stay silent once a request is sent.")
    s3_max_attempts: int = Field(
        3, ge=1, description="Attempts per S3 call (throttling, 5xx, timeouts); refusals are never retried."
    )
    jurisdiction: Annotated[tuple[str, ...], NoDecode] = Field(
        (), description="Country codes whose hosted URLs partners' bundles may report to us; default: country."
    )
    import_media: bool = Field(False, description="Keep media that partners' bundles carry (evidence store).")
    # Takedown loop: a partner is told again about an item a re-check still finds up
    renotice_hours: float = Field(
        24.0, ge=0, description="Hours after a notice to a partner before an item a later re-check found still up "
                                "is notified again (0: never).")
    renotice_escalate_after: int = Field(
        3, gt=0, description="Notices of an item to a partner after which the next one is escalated.")
    escalation_destination: str | None = Field(
        None, description="Where escalated items also go: a directory or s3://bucket/prefix (None: flagged only).")
    escalation_keys: Annotated[tuple[Path, ...], NoDecode] = Field(
        (), description="X25519 public keys (PEM files, comma-separated) of the escalation destination; "
                        "default: our own drop key.")

    # Takedown notices by e-mail to abuse contacts, where no partner hotline handles the country
    abuse_contacts: tuple[AbuseContact, ...] = Field(
        (), description="Abuse desks notified of the URLs on their hosts ([[abuse_contacts]] tables in hotline.toml; "
                        "HOTLINE_ABUSE_CONTACTS as a JSON list); see docs/operations.md.")
    notice_from: str | None = Field(
        None, description="The address takedown notices to abuse contacts come from (and replies go to).")
    notice_signature: str = Field(
        "", description="The hotline's contact details closing each notice (name, telephone, web page).")
    smtp_host: str | None = Field(None, description="Mail server that takes the notices (None: none are sent).")
    smtp_port: int = Field(587, ge=1, le=65535)
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls (submission port), tls (port 465) or none (a relay on this host only).")
    smtp_user: str | None = Field(None, description="Login at the mail server (None: no login).")
    smtp_password: SecretStr | None = Field(None, description="Its password.")
    smtp_timeout_s: float = Field(120.0, gt=0, description="Seconds the mail server may stay silent.")

    @field_validator("abuse_contacts")
    @classmethod
    def _unique_contacts(cls, value: tuple[AbuseContact, ...]) -> tuple[AbuseContact, ...]:
        names = [c.name for c in value]
        if len(set(names)) != len(names):
            raise ValueError(f"abuse contact names must be unique, got {names!r}")
        return value

    @model_validator(mode="after")
    def _notices_need_a_sender(self) -> Settings:
        if self.abuse_contacts and not (self.smtp_host and self.notice_from):
            raise ValueError("abuse_contacts need smtp_host and notice_from: the notices are sent by e-mail")
        if self.notice_from is not None and not _ADDRESS.fullmatch(self.notice_from):
            raise ValueError(f"notice_from is not an e-mail address: {self.notice_from!r}")
        return self

    @field_validator("crawl_allow", "interpol_keys", "escalation_keys", "jurisdiction", mode="before")
    @classmethod
    def _split_allow(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    # Statistics
    stats_dir: Path | None = Field(
        None, description="Where statistics snapshots are written (for statisticians); default <data_dir>/stats."
    )
    stats_urls: Literal["none", "host", "full"] = Field(
        "host", description="What of each URL a snapshot keeps: nothing, the host name, or the full URL."
    )
    stats_keep: int = Field(3, ge=1, description="Snapshots kept; older ones are deleted after a new one is current.")
    # The network's statistics: publishing them to a coordinator, and being one
    stats_coordinator: str | None = Field(
        None, description="Where our monthly statistics bundles go: the coordinator's directory or s3://bucket/prefix."
    )
    stats_coordinator_key: Path | None = Field(
        None, description="The coordinator's X25519 public key (PEM): statistics bundles are encrypted to it."
    )
    stats_publish_urls: bool = Field(
        False, description="Also publish URL-level rows (URL, host; never media or hashes) to the coordinator, "
                           "for its figures by host and per URL; only where agreed with it (docs/statistics.md)."
    )
    stats_publish_months: int = Field(
        2, ge=1, description="Months the scheduled publication sends again (a late correction replaces a month)."
    )
    network_dir: Path | None = Field(
        None, description="Coordinator: statistics received, publishers' keys, network snapshots; default <data_dir>/network."
    )
    stats_inbound: str | None = Field(
        None, description="Coordinator: where statistics bundles arrive (directory or s3://); default <network_dir>/inbox."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        path = _config_file()
        if path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=path))
        return tuple(sources)

    # Derived paths -----------------------------------------------------------------
    @property
    def catalog(self) -> str:
        return self.catalog_url or f"sqlite:///{(self.data_dir / 'catalog.db').resolve()}"

    @property
    def service_dir(self) -> Path:
        """Where `hotline up` keeps its pid, state and log files."""
        return self.data_dir / "service"

    @property
    def evidence_dir(self) -> Path:
        return self.data_dir / "evidence"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def known_dir(self) -> Path:
        return self.data_dir / "known"

    @property
    def drop_dir(self) -> Path:
        return self.data_dir / "drop"

    @property
    def outbox_dir(self) -> Path:
        return self.data_dir / "outbox"

    @property
    def law_profiles_dir(self) -> Path:
        return self.profiles_dir or self.data_dir / "profiles"

    @property
    def inbox_dir(self) -> Path:
        return self.data_dir / "inbox"

    @property
    def our_jurisdiction(self) -> tuple[str, ...]:
        return tuple(c.upper() for c in (self.jurisdiction or (self.country,)))

    @property
    def snapshot_dir(self) -> Path:
        return self.stats_dir or self.data_dir / "stats"

    @property
    def network_folder(self) -> Path:
        return self.network_dir or self.data_dir / "network"

    @property
    def data_key_file(self) -> Path:
        return self.keys_dir / "data.key"
