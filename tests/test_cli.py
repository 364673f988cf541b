"""The command line as an operator scripts it: one JSON document per listing command with
--json, errors on stderr with a non-zero exit status, and the README's demo."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

HOTLINE = [sys.executable, "-m", "hotline.cli"]


def run(data_dir: Path, *args: str, ok: bool = True, timeout: float = 900,
        stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data_dir), "PREFECT_LOGGING_LEVEL": "WARNING",
           "XDG_CONFIG_HOME": str(data_dir.parent / "config")}  # where `hotline login` keeps its token
    for name in ("HOTLINE_CONFIG", "HOTLINE_TOKEN"):
        env.pop(name, None)
    # the timeout only stops a hung command; a loaded machine takes minutes to start a flow
    done = subprocess.run([*HOTLINE, *args], capture_output=True, text=True, env=env, timeout=timeout, input=stdin)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def run_json(data_dir: Path, *args: str) -> Any:
    return json.loads(run(data_dir, *args, "--json").stdout)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def test_init_creates_keys_once_and_is_repeatable(data_dir: Path) -> None:
    first = run_json(data_dir, "init")
    again = run_json(data_dir, "init")
    assert first["keys"] == again["keys"] and set(first["keys"]) == {"signing", "inbox", "drop"}
    assert first["schema_revision"]
    key_files = {p.name: p.stat().st_mode & 0o777 for p in (data_dir / "keys").iterdir()}
    assert key_files["data.key"] == 0o600 and key_files["signing.key"] == 0o600


def test_commands_before_init_say_what_to_do(data_dir: Path) -> None:
    done = run(data_dir, "report", "list", ok=False)
    assert done.returncode != 0 and "hotline init" in done.stderr and done.stdout == ""


def test_reports_known_sets_queue_stats_as_json(data_dir: Path, tmp_path: Path) -> None:
    run(data_dir, "init")
    added = run_json(data_dir, "report", "add", "http://example.test/gallery")
    assert added == {"id": 1, "url": "http://example.test/gallery", "status": "pending"}
    assert [r["url"] for r in run_json(data_dir, "report", "list")] == ["http://example.test/gallery"]

    known = tmp_path / "known.parquet"
    pq.write_table(pa.table({"md5": ["0" * 32, "1" * 32], "id": ["a", "b"]}), known)
    imported = run_json(data_dir, "known", "import", str(known), "--set", "vic-test", "--verdict", "baseline")
    assert {k: imported[k] for k in ("set", "rows", "verdict", "changed")} == {
        "set": "vic-test", "rows": 2, "verdict": "baseline", "changed": True}
    assert imported["categories"] == [{"category": "(none)", "meaning": "", "verdict": "baseline", "by": "--verdict",
                                       "rows": 2}]
    assert run_json(data_dir, "known", "import", str(known), "--set", "vic-test", "--verdict", "baseline")["changed"] is False
    assert [(s["name"], s["rows"]) for s in run_json(data_dir, "known", "list")] == [("vic-test", 2)]

    assert run_json(data_dir, "queue", "list") == []
    stats = run_json(data_dir, "stats")
    assert stats["reports"] == 1 and stats["reports_by_status"] == {"pending": 1}
    audit = run_json(data_dir, "audit")
    assert {e["action"] for e in audit} >= {"report.add", "known_set.import"}


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("report", "add", "ftp://example.test/x"), "http or https"),
        (("report", "add", "not a url"), "not a url"),
        (("classify", "deadbeefdeadbeef", "--verdict", "baseline"), "log in first"),  # no typed names
        (("classify", "deadbeef", "--verdict", "awful"), "unknown verdict"),
        (("report", "show", "42"), "no report 42"),
        (("bundle", "open", "/nonexistent.hlb"), "nonexistent"),
    ],
)
def test_errors_go_to_stderr_with_non_zero_status(data_dir: Path, args: tuple[str, ...], words: str) -> None:
    run(data_dir, "init")
    done = run(data_dir, *args, ok=False)
    assert done.returncode != 0
    assert words in done.stderr and "Traceback" not in done.stderr
    assert done.stdout == ""


def test_known_import_of_a_malformed_file_names_the_row(data_dir: Path, tmp_path: Path) -> None:
    run(data_dir, "init")
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"md5": ["0" * 32, "xyz"]}), bad)
    done = run(data_dir, "known", "import", str(bad), "--set", "bad", "--verdict", "baseline", ok=False)
    assert done.returncode != 0 and "row 2" in done.stderr
    assert run_json(data_dir, "known", "list") == []


def test_demo_crawls_a_local_site_end_to_end(data_dir: Path) -> None:
    demo = json.loads(run(data_dir, "demo", "--json", timeout=900).stdout)
    items = demo["items"]
    known = sorted(i["reason"].split()[0] for i in items if i["verdict_source"] == "known-set")
    assert known == ["md5", "pdq", "sha256"]
    assert {i["set_name"] for i in items if i["verdict_source"]} == {"demo-known"}
    assert sum(i["status"] == "queued" for i in items) == 5
    assert [e["reason"].split(" (")[0] for e in demo["errors"]] == ["corrupt or truncated image"]
    queue = run_json(data_dir, "queue", "list")
    assert len(queue) == 5
    media_id = queue[0]["sha256"][:12]
    password = "correct horse battery\n"
    run(data_dir, "user", "add", "root", "--role", "admin", "--password-stdin", stdin=password)
    run(data_dir, "login", "root", "--password-stdin", stdin=password)
    run(data_dir, "user", "add", "ann", "--role", "analyst", "--password-stdin", stdin=password)
    run(data_dir, "login", "ann", "--password-stdin", stdin=password)
    run(data_dir, "classify", media_id, "--verdict", "national")
    exported = run_json(data_dir, "export")
    assert exported["items"] == 1
    opened = run_json(data_dir, "bundle", "open", exported["location"])
    assert opened["verified"] is True and opened["manifest"]["items"][0]["verdict"] == "national"
    assert [e["items"] for e in run_json(data_dir, "export", "status")] == [1]

    tampered = data_dir / "tampered.hlb"
    blob = bytearray(Path(exported["location"]).read_bytes())
    blob[-10] ^= 0xFF
    tampered.write_bytes(bytes(blob))
    refused = run(data_dir, "bundle", "open", str(tampered), ok=False)
    assert refused.returncode != 0 and "error:" in refused.stderr


def test_report_show_counts_failed_guesses_apart_from_errors(data_dir: Path) -> None:
    from catalog.catalog import Catalog
    from catalog.reports.records import CrawlError, CrawlResult

    run(data_dir, "init")
    url = "http://example.test/gallery"
    report_id = run_json(data_dir, "report", "add", url)["id"]
    result = CrawlResult(url=url, errors=(CrawlError(url, "HTTP 500"),), stats={"guessed/failed": 3, "pages": 1})
    Catalog(f"sqlite:///{data_dir / 'catalog.db'}").record_crawl(report_id, result)

    shown = run_json(data_dir, "report", "show", str(report_id))
    assert shown["crawl"]["guessed/failed"] == 3 and [e["reason"] for e in shown["errors"]] == ["HTTP 500"]
    text = run(data_dir, "report", "show", str(report_id)).stdout
    assert "3 media URL(s) guessed from the page text were not there (counted, not errors)" in text


def test_version_own_password_and_a_private_catalog(data_dir: Path) -> None:
    assert run(data_dir, "--version").stdout.startswith("hotline ")
    run(data_dir, "init")
    from catalog.catalog import Catalog

    catalog = Catalog(f"sqlite:///{data_dir / 'catalog.db'}")
    catalog.audit("system", "test.write")  # the write-ahead log and shared memory exist while it is open
    try:
        for name in ("catalog.db", "catalog.db-wal", "catalog.db-shm"):
            assert (data_dir / name).stat().st_mode & 0o777 == 0o600, name
    finally:
        catalog.engine.dispose()
    run(data_dir, "user", "add", "root", "--role", "admin", "--password-stdin", stdin="first passphrase\n")
    refused = run(data_dir, "passwd", "--password-stdin", stdin="x\ny long enough\n", ok=False)
    assert refused.returncode != 0 and "log in first" in refused.stderr
    run(data_dir, "login", "root", "--password-stdin", stdin="first passphrase\n")
    wrong = run(data_dir, "passwd", "--password-stdin", stdin="not it\nsecond passphrase\n", ok=False)
    assert "current password is wrong" in wrong.stderr
    changed = run(data_dir, "passwd", "--password-stdin", "--json", stdin="first passphrase\nsecond passphrase\n")
    assert json.loads(changed.stdout) == {"user": "root", "password": "changed"}
    assert run(data_dir, "whoami").stdout.startswith("system")  # the old login ended with the change
    assert run(data_dir, "login", "root", "--password-stdin", stdin="first passphrase\n", ok=False).returncode != 0
    run(data_dir, "login", "root", "--password-stdin", stdin="second passphrase\n")
