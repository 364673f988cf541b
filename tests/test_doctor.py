"""`hotline doctor` under real faults: it never crashes, `--json` always prints one document,
each check is ok / warn / fail and the exit status is the worst of them; and the read-only
commands on a read-only data directory."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import pytest
from damage_support import (
    DAMAGE,
    damage,
    fill,
    open_installation,
    read_only,
    run,
    run_json,
    seed,
    seeded,
    small_tmpfs,
)

from catalog.catalog import Catalog
from hashing import hash_image
from hotline.installation import Installation
from hotline.services import doctor as doctor_service
from hotline.services.doctor import Check, doctor, orphaned_objects, worst


def _checks(document: dict) -> dict[str, dict]:  # type: ignore[type-arg]
    return {c["name"]: c for c in document["checks"]}


def test_check_keeps_its_constructor_and_gets_a_level() -> None:
    assert Check("a", True, "fine").level == "ok" and Check("a", False, "bad").level == "fail"
    warned = Check.warn("a", "look")
    assert (warned.ok, warned.level) == (True, "warn")
    assert Check("a", True, "x", "fail").ok is False
    assert worst([Check("a", True, ""), warned]) == "warn" and worst([]) == "ok"
    with pytest.raises(ValueError, match="'bad'"):
        Check("a", True, "", "bad")  # type: ignore[arg-type]


def test_a_check_that_raises_is_that_checks_failure(installation: Installation,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(_inst: Installation) -> Check:
        raise RuntimeError("disk on fire\nsecond line")

    monkeypatch.setattr(doctor_service, "CHECKS", [("keys", broken, False), *doctor_service.CHECKS[1:]])
    checks = {c.name: c for c in doctor(installation)}
    assert checks["keys"].level == "fail" and checks["keys"].detail == "RuntimeError: disk on fire"
    assert checks["catalog integrity"].level == "ok" and checks["prefect"].level == "ok"


@pytest.mark.parametrize("how", DAMAGE)
def test_doctor_on_a_damaged_catalog_prints_json_and_fails(tmp_path: Path, how: str) -> None:
    data_dir = tmp_path / "data"
    seeded(data_dir, 5)
    damage(data_dir / "catalog.db", how)

    document = run_json(data_dir, "doctor", status=2)
    checks = _checks(document)
    assert document["level"] == "fail"
    assert checks["catalog integrity"]["level"] == "fail"
    assert "catalog.db is damaged" in checks["catalog integrity"]["detail"]
    assert "hotline restore" in checks["catalog integrity"]["detail"]
    assert checks["keys"]["level"] == "ok" and checks["free space"]["level"] == "ok"
    table = run(data_dir, "doctor")
    assert table.returncode == 2 and "FAIL" in table.stdout and "Traceback" not in table.stderr


def test_doctor_without_an_installation_still_prints_json(tmp_path: Path) -> None:
    document = run_json(tmp_path / "nothing-here", "doctor", status=2)
    assert document["level"] == "fail" and "hotline init" in _checks(document)["installation"]["detail"]


def test_doctor_free_space_on_a_full_file_system(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "small", "1M") as disk:
        data_dir = disk / "data"
        open_installation(data_dir).close()
        roomy = run_json(data_dir, "doctor", status=1, env={"HOTLINE_FREE_SPACE_WARN_PERCENT": "99",
                                                            "HOTLINE_FREE_SPACE_FAIL_PERCENT": "1"})
        space = _checks(roomy)["free space"]
        assert roomy["level"] == "warn" and space["level"] == "warn" and "below the warn threshold" in space["detail"]
        assert "1.0 MiB" in space["detail"]

        fill(disk)
        full = run_json(data_dir, "doctor", status=2)
        space = _checks(full)["free space"]
        assert space["level"] == "fail" and "(0.0 %)" in space["detail"]
        assert _checks(full)["catalog integrity"]["level"] == "ok"  # reading still works on a full disk


def test_doctor_finds_orphaned_objects_after_the_catalog_was_emptied(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    inst = open_installation(data_dir)
    stored = seed(inst, 200)
    assert run_json(data_dir, "doctor")["level"] == "ok"
    inst.close()
    for f in data_dir.glob("catalog.db*"):  # the catalog emptied, and set up again
        f.unlink()
    inst = open_installation(data_dir)

    document = run_json(data_dir, "doctor", status=1)
    orphans = _checks(document)["orphaned evidence"]
    assert document["level"] == "warn" and orphans["level"] == "warn"
    assert "200 of 200 stored object(s) examined are unknown to the catalog" in orphans["detail"]

    # bounded: a limit examines that many, from where it starts, wrapping around the store
    examined, found = orphaned_objects(inst, limit=50)
    assert examined == 50 and len(found) == 50
    examined, found = orphaned_objects(inst, limit=1000, start="80")
    assert examined == 200 and sorted(found) == sorted(stored)
    seed(inst, 3, first=1000)  # known objects are not orphans
    examined, found = orphaned_objects(inst, limit=1000)
    assert (examined, len(found)) == (203, 200)
    inst.close()


def test_read_only_commands_on_a_read_only_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    inst = open_installation(data_dir)
    stored = seed(inst, 3)
    for sha256 in stored:
        inst.catalog.record_hashes(hash_image(inst.evidence.get(sha256)).records())
    inst.catalog.queue_unmatched(stored)
    inst.close()
    digest = hashlib.sha256((data_dir / "catalog.db").read_bytes()).hexdigest()

    with read_only(data_dir) as view:
        with pytest.raises(OSError):
            (view / "probe").write_text("x")
        assert run_json(view, "doctor")["level"] == "ok"
        assert len(run_json(view, "report", "list")) == 3
        assert run_json(view, "report", "show", "1")["report"]["id"] == 1
        assert len(run_json(view, "queue", "list")) == 3
        assert run_json(view, "stats")["jurisdiction"]
        assert [e["action"] for e in run_json(view, "audit")][:1] == ["report.add"]
        assert run(view, "report", "add", "http://example.test/new").returncode != 0  # a write is refused
    assert hashlib.sha256((data_dir / "catalog.db").read_bytes()).hexdigest() == digest


def test_read_only_opening_leaves_the_journal_mode(tmp_path: Path) -> None:
    path = tmp_path / "catalog.db"
    writer = Catalog(f"sqlite:///{path}")
    writer.migrate()
    writer.add_report("http://example.test/a", actor="t")
    writer.dispose()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=DELETE")
    conn.close()

    reader = Catalog(f"sqlite:///{path}", read_only=True)
    assert [r.url for r in reader.list_reports()] == ["http://example.test/a"]
    with pytest.raises(Exception, match="readonly|read-only|attempt to write"):
        reader.add_report("http://example.test/b", actor="t")
    reader.dispose()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    conn.close()
