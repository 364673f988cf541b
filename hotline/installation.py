"""An installation: the data directory, opened. ``init`` creates it, ``open`` uses it.

Everything a flow or a command needs (the catalog, the evidence store, the keys, the
known-set folder, how media are hashed and how decisions are made) is reached through one
``Installation``, built from the one ``Settings``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import timedelta
from functools import cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING

from catalog.catalog import Catalog
from catalog.decisions.records import Verdict
from catalog.reports.records import PendingMedia, Report
from catalog.users.store import SYSTEM
from evidence import EvidenceSpec, EvidenceStore
from evidence.spec import S3Budget
from hotline.installation_keys import InstallationKeys
from hotline.progress import Progress, ProgressSink, ignore
from hotline.settings import Settings

# What only some flows and commands use is imported where used: the clustering (NumPy), the
# known sets (PyArrow, DuckDB, the hashing libraries) and the crawler's requests (Scrapy)
# would weigh on every process that opens the installation, an export's too.
if TYPE_CHECKING:
    from classification.clusters import ClusteringConfig
    from classification.review import ReviewConfig
    from hashing import KnownSetFile, MediaConfig
    from hashing.knownsets.remote import RemoteSets
    from spiders.request import CrawlRequest


class NotInitialised(RuntimeError):
    """The data directory has not been set up with ``hotline init``."""


def clustering_config(settings: Settings, evidence: Callable[[str], bytes] | None = None) -> ClusteringConfig:
    """How the review queue is clustered: PDQ with its rotations and mirrorings, and, given
    the evidence store's ``get``, local features with geometric verification."""
    from classification.clusters import ClusteringConfig

    config = ClusteringConfig(pdq_threshold=settings.cluster_pdq_threshold)
    if evidence is None:
        return config
    from hashing.local_features import stored_features, verify

    return replace(config, verify=verify, extract=partial(stored_features, evidence))


def review_config(settings: Settings, evidence: Callable[[str], bytes] | None = None) -> ReviewConfig:
    """How decisions are made under ``settings``: law profiles (baseline, the home country,
    ``law_profiles``), lease, priority and clustering (the review rules are the catalog's;
    ``evidence``, the store's ``get``, lets clustering compare the pictures themselves)."""
    from classification.profiles import load_profile_set
    from classification.review import ReviewConfig

    return ReviewConfig(
        profiles=load_profile_set(settings.country, settings.law_profiles, [settings.law_profiles_dir],
                                  allow_baseline_override=settings.allow_interpol_profile),
        lease=timedelta(minutes=settings.review_lease_minutes),
        priority=tuple(settings.queue_priority),
        clustering=clustering_config(settings, evidence),
    )


_SHARED_LOCK = threading.Lock()
_shared: tuple[tuple[int, str], Installation] | None = None  # (process, settings), installation


@dataclass
class Installation:
    settings: Settings
    read_only: bool = False  # the catalog is opened so that nothing can change it

    @classmethod
    def init(cls, settings: Settings) -> Installation:
        """Create the data directory, its keys and the catalog; safe to run again."""
        for folder in (settings.data_dir, settings.evidence_dir, settings.known_dir, settings.drop_dir,
                       settings.outbox_dir, settings.inbox_dir):
            folder.mkdir(parents=True, exist_ok=True)
        InstallationKeys.create(settings.keys_dir)
        inst = cls(settings)
        inst.catalog.migrate()
        return inst

    @classmethod
    def open(cls, settings: Settings, *, read_only: bool = False) -> Installation:
        """Open an initialised data directory (raises NotInitialised with the fix);
        ``read_only`` for commands that only look (they then work on a read-only disk)."""
        if not settings.data_key_file.exists():
            raise NotInitialised(
                f"no hotline installation at {str(settings.data_dir)!r}; run `hotline init` first"
            )
        return cls(settings, read_only)

    @classmethod
    def shared(cls, settings: Settings) -> Installation:
        """:meth:`open`, once per process and settings: the threads of a process (a flow
        run's tasks) share its catalog engine and connection pool. (Opened by every task,
        each engine kept its connections until it was collected: 1,000 crawl tasks on two
        Dask workers ran PostgreSQL out of connections.) Other settings (another data
        directory) open their installation and close the one shared before."""
        global _shared
        key = (os.getpid(), settings.model_dump_json())  # a forked child opens its own
        with _SHARED_LOCK:
            if _shared is None or _shared[0] != key:
                inst = cls.open(settings)
                if _shared is not None and _shared[0][0] == key[0]:
                    _shared[1].close()  # connections in use are closed when they are given back
                _shared = (key, inst)
            return _shared[1]

    @cached_property
    def catalog(self) -> Catalog:
        return Catalog(self.settings.catalog, read_only=self.read_only,
                       lock_timeout_s=self.settings.catalog_lock_timeout_s)

    @cached_property
    def evidence(self) -> EvidenceStore:
        """The local evidence directory, or the S3 bucket of ``evidence_url``."""
        return self.evidence_spec.open()

    @property
    def evidence_spec(self) -> EvidenceSpec:
        """Where the evidence store is, for processes that open it themselves (crawls)."""
        s = self.settings
        return EvidenceSpec(s.evidence_url or str(s.evidence_dir), s.data_key_file, s.s3_endpoint_url,
                            self.s3_budget)

    @property
    def s3_budget(self) -> S3Budget:
        """Timeouts and attempts of every S3 client of this installation."""
        s = self.settings
        return S3Budget(s.s3_connect_timeout_s, s.s3_read_timeout_s, s.s3_max_attempts)

    @cached_property
    def keys(self) -> InstallationKeys:
        return InstallationKeys(self.settings.keys_dir)

    def close(self) -> None:
        if "catalog" in self.__dict__:
            self.catalog.dispose()

    def import_known_set(
        self, file: Path, name: str, verdict: Verdict | None, *, source: str | None = None,
        fmt: str | None = None, category_verdicts: Mapping[str, Verdict | None] | None = None,
        category_profile: str | None = None, unknown_category: Verdict | None | str = "refuse",
        pdq_threshold: int | None = None, benign: bool = False, actor: str = SYSTEM,
        progress: ProgressSink = ignore,
    ) -> tuple[KnownSetFile, bool]:
        """Import a known-hash set (Parquet, CSV, VICS JSON or ICSE export; ``fmt`` or
        detected) into the known folder, register it and bring its PDQ index up to date.

        ``verdict`` is for a set whose rows carry no category. The categories of a set whose
        rows carry them map to verdicts, or to review (None), by ``category_verdicts`` first,
        then by the category profile ``category_profile`` (default: the format's, if it has
        one), then by ``unknown_category``; a category none of them maps refuses the import
        (``KnownSetError``), before anything is written. Returns the imported file (its
        ``categories``: the table of category, verdict and rows) and whether anything changed
        (re-importing the same content changes nothing). A benign set's verdict is always
        not-illegal. The previous version's file is removed once the catalog names the new one.
        ``progress`` hears of the rows done (stage ``known-set import``) and of each step."""
        from hashing import KnownSet, open_set_index
        from hashing.knownsets.categories import load_category_profile, plan_categories
        from hashing.knownsets.formats import get_format
        from hashing.knownsets.importer import read_known_set, write_known_set

        if benign:
            verdict = Verdict.NOT_ILLEGAL
        previous = {e.name: e for e in self.catalog.known_sets()}.get(name.lower())
        stage = "known-set import"
        progress(Progress(stage, unit="rows", note=f"reading {Path(file).name}"))

        def rows_done(step: str, rows: int, total: int | None) -> None:
            progress(Progress(f"{stage}: {step}", advance=rows, total=total, unit="rows"))

        normalised = read_known_set(file, name, fmt=fmt, min_pdq_quality=self.settings.pdq_min_quality,
                                    work_dir=self.settings.known_dir, on_rows=rows_done)
        try:
            profile_name = category_profile or get_format(normalised.source_format).category_profile
            profile = (None if profile_name is None
                       else load_category_profile(profile_name, [self.settings.data_dir / "category_profiles"]))
            plan = plan_categories(
                normalised.category_counts(), verdict=None if benign else verdict, profile=profile,
                explicit=category_verdicts, unknown=unknown_category, benign=benign, source=str(file),
            )
            progress(Progress(stage, unit="rows", note="writing and indexing"))
            imported = replace(write_known_set(normalised, self.settings.known_dir), categories=plan)
        finally:
            normalised.discard()  # nothing left when the import stopped; a no-op once in place
        if self.settings.known_url:  # cluster profile: the other machines fetch it from there
            self._remote_sets().upload(imported.path)
        changed = self.catalog.register_known_set(
            name=imported.name, verdict=plan.verdict, path=str(imported.path), rows=imported.rows,
            content_sha256=imported.content_sha256, actor=actor, source=source,
            pdq_threshold=self.settings.pdq_threshold if pdq_threshold is None else pdq_threshold,
            category_verdicts=plan.mapping(), benign=benign, format=imported.source_format,
            category_profile=plan.profile, categorized=plan.categorized,
        )
        open_set_index(KnownSet(imported.name, imported.path, plan.verdict, content_sha256=imported.content_sha256))
        if previous is not None and Path(previous.path) != imported.path:
            Path(previous.path).unlink(missing_ok=True)
        return imported, changed

    def _remote_sets(self) -> RemoteSets:
        from hashing.knownsets.remote import RemoteSets

        assert self.settings.known_url
        return RemoteSets(self.settings.known_url, endpoint_url=self.settings.s3_endpoint_url, budget=self.s3_budget)

    def sync_known_sets(self) -> int:
        """Cluster profile (``known_url``): fetch the enabled known sets' files this machine
        lacks; returns how many were fetched (0 without ``known_url``)."""
        if not self.settings.known_url:
            return 0
        remote = self._remote_sets()
        return sum(remote.fetch(Path(e.path)) for e in self.catalog.known_sets(enabled_only=True))

    def media_config(self) -> MediaConfig:
        """How media are hashed under this installation's settings."""
        from hashing import MediaConfig, VideoConfig
        from hashing.video.frame_sampling import SampleConfig

        s = self.settings
        sample = SampleConfig(interval=s.video_sample_interval, max_frames=s.video_max_frames)
        return MediaConfig(video=VideoConfig(sample=sample))

    def rotate_key(self, name: str, *, actor: str = SYSTEM) -> tuple[str, str]:
        """Retire the ``name`` key pair (signing, inbox or drop) and create a new one, audited;
        returns the old and the new public key's fingerprint."""
        old, new = self.keys.rotate(name)
        self.catalog.audit(actor, "keys.rotate", name, old=old, new=new)
        return old, new

    def delete_known_set(self, name: str, *, actor: str = SYSTEM) -> None:
        """Unregister a set (audited) and remove its file and index; past matches stay."""
        from hashing import KnownSet, delete_set_index

        entry = self.catalog.delete_known_set(name, actor=actor)
        delete_set_index(KnownSet(entry.name, Path(entry.path), entry.verdict).index_folder)
        Path(entry.path).unlink(missing_ok=True)

    def crawl_request(self, report: Report, retry: Sequence[PendingMedia] = ()) -> CrawlRequest:
        """The crawl of ``report`` under this installation's crawl settings; with ``retry``,
        a second attempt at just those items, which an earlier crawl could not store."""
        from spiders.request import CrawlRequest

        s = self.settings
        return CrawlRequest(
            url=report.url,
            allow=tuple(s.crawl_allow),
            max_pages=s.crawl_max_pages,
            max_media_bytes=s.crawl_max_media_bytes,
            request_timeout_s=s.crawl_request_timeout_s,
            crawl_timeout_s=s.crawl_timeout_s,
            user_agent=report.user_agent or s.crawl_user_agent,
            referer=report.referer,
            pathway=report.pathway,
            max_depth=s.crawl_max_depth,
            max_media=s.crawl_max_media,
            max_page_bytes=s.crawl_max_page_bytes,
            max_pixels=s.crawl_max_pixels,
            max_redirects=s.crawl_max_redirects,
            retry=tuple((p.media_url, p.page_url) for p in retry),
            max_store_failures=s.crawl_max_store_failures,
        )

    def recheck_request(self, url: str) -> CrawlRequest:
        """The limits a re-check of ``url`` (takedown tracking) runs under."""
        from spiders.request import CrawlRequest

        s = self.settings
        return CrawlRequest(
            url=url,
            allow=tuple(s.crawl_allow),
            max_media_bytes=s.crawl_max_media_bytes,
            request_timeout_s=s.crawl_request_timeout_s,
            crawl_timeout_s=s.crawl_timeout_s,
            user_agent=s.crawl_user_agent,
            max_redirects=s.crawl_max_redirects,
        )
