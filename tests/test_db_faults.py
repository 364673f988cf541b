"""Expected faults of the catalog database, made real: a garbage or truncated file, a file
that cannot be written, a write lock held beyond the timeout, a full disk, a PostgreSQL
server that refuses connections, and a connection terminated by the server. The CLI says
each in one line with what to do; the catalog tasks of a run retry a dropped connection."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cluster_support import POSTGRES_SERVER, postgres_database
from damage_support import small_tmpfs

from hotline.demo.local_site import unused_port


def hotline(data_dir: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("HOTLINE_")}
    environ.update(HOTLINE_DATA_DIR=str(data_dir), **env)
    return subprocess.run([sys.executable, "-m", "hotline.cli", *args], env=environ, capture_output=True,
                          text=True, timeout=600)


def one_line_error(result: subprocess.CompletedProcess[str], *expected: str) -> str:
    """The command failed with exit status 1 and a single line on stderr holding ``expected``."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: the catalog "), result.stderr[-3000:]
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "hotline-data"
    assert hotline(folder, "init").returncode == 0
    assert hotline(folder, "report", "add", "http://example.org/a").returncode == 0
    return folder


def _without_wal(catalog: Path) -> None:
    for suffix in ("-wal", "-shm"):
        Path(f"{catalog}{suffix}").unlink(missing_ok=True)


def test_a_catalog_overwritten_with_garbage(data_dir: Path) -> None:
    catalog = data_dir / "catalog.db"
    catalog.write_bytes(b"not a database at all\n" * 1000)
    _without_wal(catalog)
    one_line_error(hotline(data_dir, "report", "list"), "is damaged", "restore it from a backup",
                   "file is not a database")
    one_line_error(hotline(data_dir, "report", "add", "http://example.org/b"), "is damaged")


def test_a_truncated_catalog(data_dir: Path) -> None:
    catalog = data_dir / "catalog.db"
    os.truncate(catalog, catalog.stat().st_size // 2)
    _without_wal(catalog)
    one_line_error(hotline(data_dir, "report", "list"), "is damaged", "malformed")


@contextmanager
def immutable(path: Path) -> Iterator[None]:
    """``chattr +i``: not even root may write the file."""
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", str(path)]).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(path)], check=True)


def test_a_catalog_file_that_cannot_be_written(data_dir: Path) -> None:
    catalog = data_dir / "catalog.db"
    _without_wal(catalog)
    with immutable(catalog):
        one_line_error(hotline(data_dir, "report", "add", "http://example.org/b"), "cannot be written",
                       "make it writable", "readonly database")


def test_a_write_lock_held_beyond_the_timeout(data_dir: Path) -> None:
    holder = sqlite3.connect(data_dir / "catalog.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another process writing, and not letting go
    try:
        result = hotline(data_dir, "report", "add", "http://example.org/b", HOTLINE_CATALOG_LOCK_TIMEOUT_S="1")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    one_line_error(result, "stayed locked by another process", "HOTLINE_CATALOG_LOCK_TIMEOUT_S", "database is locked")
    assert hotline(data_dir, "report", "add", "http://example.org/b").returncode == 0  # the lock released


def test_a_catalog_on_a_full_disk(tmp_path: Path) -> None:
    with small_tmpfs(tmp_path / "disk", "3m") as disk:
        data_dir = disk / "hotline-data"
        assert hotline(data_dir, "init").returncode == 0
        with (disk / "filler").open("wb") as filler:  # fill what is left
            try:
                while True:
                    filler.write(b"\0" * 65536)
                    filler.flush()
            except OSError:
                pass
        one_line_error(hotline(data_dir, "report", "add", "http://example.org/" + "a" * 8000),
                       "cannot grow", "free space")


def test_a_postgresql_server_that_refuses_connections(data_dir: Path) -> None:
    url = sa.make_url(POSTGRES_SERVER).set(port=unused_port(), password="s3cret")
    line = one_line_error(hotline(data_dir, "report", "list",
                                  HOTLINE_CATALOG_URL=url.render_as_string(hide_password=False)),
                          "cannot be reached", "check that the database server is running")
    assert "s3cret" not in line


def test_a_terminated_postgresql_connection_is_retried_by_the_catalog_tasks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, prefect_server: None
) -> None:
    from prefect import flow

    from catalog.errors import database_fault
    from flows.common import installation
    from flows.process_report import claim_reports
    from hotline.installation import Installation
    from hotline.settings import Settings

    with postgres_database() as url:
        monkeypatch.setenv("HOTLINE_DATA_DIR", str(tmp_path / "hotline-data"))
        monkeypatch.setenv("HOTLINE_CATALOG_URL", url)
        Installation.init(Settings()).close()
        catalog = installation().catalog
        ids = [catalog.add_report(f"http://example.org/{n}", actor="t") for n in range(3)]
        admin = sa.create_engine(POSTGRES_SERVER, isolation_level="AUTOCOMMIT")
        faults: list[Any] = []

        def terminate_first_claim(conn: sa.Connection, _cursor: Any, statement: str, *_: Any) -> None:
            if statement.lstrip().startswith("UPDATE reports") and not faults:
                faults.append(None)
                pid = conn.connection.dbapi_connection.info.backend_pid  # type: ignore[union-attr]
                with admin.connect() as other:
                    other.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})

        def remember(context: Any) -> None:
            faults[-1] = database_fault(context.sqlalchemy_exception)

        sa.event.listen(catalog.engine, "before_cursor_execute", terminate_first_claim)
        sa.event.listen(catalog.engine, "handle_error", remember)

        @flow
        def claim_once() -> list[int]:
            return claim_reports("run-1", None, 10)

        try:
            assert claim_once() == ids
        finally:
            sa.event.remove(catalog.engine, "before_cursor_execute", terminate_first_claim)
            sa.event.remove(catalog.engine, "handle_error", remember)
            installation().close()
            admin.dispose()
        assert len(faults) == 1 and faults[0] is not None and faults[0].kind == "disconnected", faults
        assert faults[0].transient
        assert {r.status for r in catalog.list_reports()} == {"processing"}
