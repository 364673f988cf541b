"""Retention purges and `hotline doctor`."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from catalog.decisions.records import Verdict
from catalog.media_items.records import MediaRecord, SightingRecord
from catalog.reports.records import CrawlResult
from catalog.schema import verdicts
from hashing import hash_image
from hotline.demo.local_site import synthetic_image
from hotline.installation import Installation
from hotline.services.doctor import doctor
from hotline.services.evidence_purge import purge_evidence


def _item(inst: Installation, seed: int) -> str:
    data = synthetic_image(seed, (128, 96))
    sha256 = inst.evidence.put(data)
    report = inst.catalog.add_report(f"http://example.test/{seed}", actor="t")
    inst.catalog.record_crawl(report, CrawlResult("u", media=(MediaRecord(sha256, len(data)),),
                                                  sightings=(SightingRecord(sha256, f"http://example.test/{seed}.jpg", "p"),)))
    inst.catalog.record_hashes(hash_image(data).records())
    return sha256


def _age_verdicts(inst: Installation, days: int) -> None:
    with inst.catalog.write() as conn:
        conn.execute(verdicts.update().values(created_at=sa.func.datetime("now", f"-{days} days")))


def test_purge_keeps_items_under_review_and_not_yet_exported(installation: Installation) -> None:
    cat = installation.catalog
    queued, benign, unexported, exported = (_item(installation, s) for s in range(4))
    cat.queue_unmatched([queued, benign, unexported, exported])
    cat.record_verdict(benign, Verdict.NOT_ILLEGAL, actor="ann")
    cat.record_verdict(unexported, Verdict.BASELINE, actor="ann")
    cat.record_verdict(exported, Verdict.NATIONAL, actor="ann")
    candidate = [c for c in cat.export_candidates("interpol") if c.sha256 == exported]
    cat.record_export(bundle_id="b" * 32, destination="interpol", location="x", recipients=[], sha256="0" * 64,
                      size=1, items=[(c.sha256, c.verdict_id) for c in candidate], actor="t")

    assert purge_evidence(installation, older_than=timedelta(days=30), actor="op").candidates == 0  # too recent
    _age_verdicts(installation, 40)
    dry = purge_evidence(installation, older_than=timedelta(days=30), actor="op", dry_run=True)
    assert (dry.candidates, dry.purged) == (2, 0) and installation.evidence.exists(benign)
    done = purge_evidence(installation, older_than=timedelta(days=30), actor="op")
    assert (done.candidates, done.purged, done.missing) == (2, 2, 0)
    assert not installation.evidence.exists(benign) and not installation.evidence.exists(exported)
    assert installation.evidence.exists(queued) and installation.evidence.exists(unexported)
    assert cat.hashes_of([benign])[benign]["pdq"].value  # hashes stay
    assert {e.subject for e in cat.audit_entries(action="evidence.purge")} == {benign, exported}
    assert purge_evidence(installation, older_than=timedelta(days=30), actor="op").candidates == 0


def test_doctor_passes_then_names_what_is_wrong(installation: Installation) -> None:
    sha256 = _item(installation, 9)
    checks = {c.name: c for c in doctor(installation)}
    assert all(c.ok for c in checks.values()), checks
    assert "1 sampled items decrypt" in checks["evidence"].detail

    path = installation.evidence.path_for(sha256)
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))
    (installation.settings.keys_dir / "signing.key").chmod(0o644)
    checks = {c.name: c for c in doctor(installation)}
    assert not checks["evidence"].ok and "EvidenceTampered" in checks["evidence"].detail
    assert not checks["keys"].ok and "signing.key" in checks["keys"].detail
