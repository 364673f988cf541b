"""`hotline backup` and `hotline restore` against the damage they are for: a truncated file,
a zeroed header, garbage in the middle, an emptied catalog; the manifest against the
evidence store; PostgreSQL through pg_dump."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa
from damage_support import DAMAGE, damage, open_installation, run, run_json, seed, seeded

from catalog.db_backup import BackupFailed, backup_sqlite
from evidence import LocalEvidenceStore
from hotline.installation import Installation
from hotline.services.installation_backup import check_evidence
from hotline.settings import Settings


def _backup(data_dir: Path, destination: Path) -> Path:
    info = run_json(data_dir, "backup", str(destination))
    return Path(info["folder"])


@pytest.mark.parametrize("how", DAMAGE)
def test_restore_works_on_a_damaged_catalog(tmp_path: Path, how: str) -> None:
    data_dir = tmp_path / "data"
    stored = seeded(data_dir, 6)
    backup = _backup(data_dir, tmp_path / "backups")
    assert oct(backup.stat().st_mode & 0o777) == oct(0o700)
    catalog = data_dir / "catalog.db"
    damage(catalog, how)
    damaged = catalog.read_bytes()

    # what the documented `sqlite3 catalog.db ".restore backup.db"` did: copy into the damaged file
    if how != "garbage in the middle":  # (that one it overwrites; the two others it cannot even open)
        target = sqlite3.connect(shutil.copy(catalog, tmp_path / "copy.db"))
        with pytest.raises(sqlite3.DatabaseError, match="malformed|not a database"):
            sqlite3.connect(backup / "catalog.db").backup(target)
        target.close()

    result = run_json(data_dir, "restore", str(backup))
    assert result["evidence"] | {"examples": []} == {
        "expected": 6, "present": 6, "missing": 0, "resized": 0, "unreadable": 0, "newer": 0, "decrypted": False,
        "examples": []}
    kept = Path(result["catalog"]["kept"][0])
    assert kept.name.startswith("catalog.db.replaced-") and kept.read_bytes() == damaged  # kept, untouched
    assert sorted(r["url"] for r in run_json(data_dir, "report", "list")) == sorted(
        f"http://example.test/{n}" for n in range(6))
    checks = {c["name"]: c for c in run_json(data_dir, "doctor")["checks"]}
    assert checks["catalog integrity"]["level"] == "ok" and "6 sampled items" in checks["evidence"]["detail"]
    restored = Installation.open(Settings(data_dir=data_dir))
    assert [e.subject for e in restored.catalog.audit_entries(action="catalog.restore")] == [backup.name]
    assert all(restored.evidence.get(s) for s in stored)
    restored.close()


def test_restore_after_an_emptied_catalog_brings_the_orphans_home(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    seeded(data_dir, 200)
    backup = _backup(data_dir, tmp_path / "backups")
    for f in data_dir.glob("catalog.db*"):
        f.unlink()
    open_installation(data_dir).close()
    assert run_json(data_dir, "doctor", status=1)["level"] == "warn"  # 200 orphans

    refused = run(data_dir, "restore", str(backup))
    assert refused.returncode == 1 and "healthy" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    result = run_json(data_dir, "restore", str(backup), "--force")
    assert (result["evidence"]["present"], result["evidence"]["missing"]) == (200, 0)
    document = run_json(data_dir, "doctor")
    assert document["level"] == "ok", document


def test_restore_on_a_new_machine(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    seeded(data_dir, 3)
    backup = _backup(data_dir, tmp_path / "backups")
    new = tmp_path / "new"
    shutil.copytree(data_dir / "evidence", new / "evidence")  # the evidence, from its own backup

    result = run_json(new, "restore", str(backup))
    assert "data.key" in result["keys_restored"] and result["catalog"]["kept"] == []
    assert (new / "keys" / "data.key").stat().st_mode & 0o777 == 0o600
    assert len(run_json(new, "report", "list")) == 3
    assert run_json(new, "doctor")["level"] == "ok"


def test_verify_holds_the_store_against_the_manifest(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    inst = open_installation(data_dir)
    gone, shortened, flipped, *_ = seed(inst, 5)
    backup = _backup(data_dir, tmp_path / "backups")
    assert run_json(data_dir, "backup", "--verify", str(backup), "--decrypt")["ok"] is True
    seed(inst, 2, first=100)  # stored after the backup

    store = inst.evidence
    assert isinstance(store, LocalEvidenceStore)
    store.path_for(gone).unlink()
    path = store.path_for(shortened)
    path.write_bytes(path.read_bytes()[:-10])
    path = store.path_for(flipped)
    blob = bytearray(path.read_bytes())
    blob[-1] ^= 1
    path.write_bytes(bytes(blob))

    quick = run_json(data_dir, "backup", "--verify", str(backup), status=1)
    assert quick["evidence"] | {"examples": []} == {
        "expected": 5, "present": 3, "missing": 1, "resized": 1, "unreadable": 0, "newer": 2, "decrypted": False,
        "examples": []}
    assert f"{gone} (missing)" in quick["evidence"]["examples"]
    full = check_evidence(store, backup, decrypt=True)
    assert (full.present, full.unreadable) == (2, 1) and f"{flipped} (unreadable)" in full.examples

    (backup / "keys" / "signing.pub").write_text("changed")
    changed = run(data_dir, "backup", "--verify", str(backup))
    assert changed.returncode == 1 and "signing.pub" in changed.stderr and "changed" in changed.stderr
    inst.close()


def test_a_damaged_catalog_is_not_backed_up(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    seeded(data_dir, 4)
    damage(data_dir / "catalog.db", "garbage in the middle")
    done = run(data_dir, "backup", str(tmp_path / "backups"))
    assert done.returncode == 1 and "damaged" in done.stderr and "Traceback" not in done.stderr
    assert list((tmp_path / "backups").iterdir()) == []  # no half backup left behind
    with pytest.raises(BackupFailed, match="restore the last good backup"):
        backup_sqlite(data_dir / "catalog.db", tmp_path / "copy.db")


def test_restore_refuses_keys_that_differ_before_changing_anything(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    open_installation(data_dir).close()
    backup = _backup(data_dir, tmp_path / "backups")
    damage(data_dir / "catalog.db", "zeroed header")
    before = (data_dir / "catalog.db").read_bytes()
    (data_dir / "keys" / "data.key").unlink()
    (data_dir / "keys" / "signing.pub").write_text("another key")
    refused = run(data_dir, "restore", str(backup))
    assert refused.returncode == 1 and "signing.pub" in refused.stderr and "differs" in refused.stderr
    assert (data_dir / "catalog.db").read_bytes() == before and not (data_dir / "keys" / "data.key").exists()


@pytest.mark.skipif(not (shutil.which("pg_dump") and shutil.which("pg_restore")), reason="needs postgresql-client")
def test_backup_and_restore_postgres(tmp_path: Path) -> None:
    from cluster_support import postgres_database

    with postgres_database("hotline_backup") as url:
        data_dir = tmp_path / "data"
        env = {"HOTLINE_CATALOG_URL": url}
        inst = Installation.init(Settings(data_dir=data_dir, catalog_url=url))
        seed(inst, 4)
        inst.close()
        info = run_json(data_dir, "backup", str(tmp_path / "backups"), env=env)
        assert info["catalog"]["kind"] == "postgresql" and info["evidence"]["objects"] == 4
        engine = sa.create_engine(url)
        with engine.begin() as conn:  # damage: a table lost
            conn.exec_driver_sql("DROP TABLE sightings")
        engine.dispose()

        result = run_json(data_dir, "restore", info["folder"], "--force", env=env)
        kept = result["catalog"]["kept"]
        try:
            assert result["evidence"]["present"] == 4
            assert kept[0].startswith(sa.make_url(url).database + "_replaced_")
            assert len(run_json(data_dir, "report", "list", env=env)) == 4
            assert run_json(data_dir, "doctor", env=env)["level"] == "ok"
        finally:
            admin = sa.create_engine(sa.make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                for name in kept:
                    conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.dispose()


def test_stores_list_their_objects_in_order_from_anywhere(tmp_path: Path, s3_server: str,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from cluster_support import AWS, BUCKET

    from evidence import S3EvidenceStore

    for name, value in AWS.items():
        monkeypatch.setenv(name, value)
    key = os.urandom(32)
    local = LocalEvidenceStore(tmp_path / "evidence", key)
    remote = S3EvidenceStore(f"s3://{BUCKET}/objects-{os.getpid()}", key, endpoint_url=s3_server)
    for store in (local, remote):
        sizes = {store.put(os.urandom(50 + n)): 50 + n for n in range(40)}
        ids = sorted(sizes)
        # sealed: 4 bytes of format, 12 of nonce, 16 of tag around the ciphertext
        assert list(store.objects()) == [(i, sizes[i] + 32) for i in ids]
        middle = ids[20]
        assert [i for i, _ in store.objects(middle)] == ids[20:]
        assert [i for i, _ in store.objects(middle[:3])] == [i for i in ids if i >= middle[:3]]
