"""Copying the catalog out (a backup) and back in (a restore), whatever state it is in.

SQLite is copied with its online backup API, which reads one consistent snapshot while other
processes go on writing. PostgreSQL is dumped with ``pg_dump -Fc`` inside a snapshot that the
caller can read in too (``postgres_snapshot``), so what it reads (the evidence manifest)
matches the dump exactly.

A restore never writes into the catalog it replaces: that one may be damaged, and SQLite's
``.restore`` into a damaged file fails ("database disk image is malformed", "file is not a
database"). The backup goes into a fresh file (a fresh database), is checked there, and only
then takes the old one's place; the old one is kept beside it, renamed, never deleted.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from catalog.db import connect_sqlite_read_only, sqlite_path
from catalog.errors import CatalogError

_SIDE_FILES = ("-wal", "-shm", "-journal")  # a stale WAL beside a swapped-in file would be replayed into it


class BackupFailed(CatalogError):
    """The catalog could not be backed up or restored; nothing was replaced."""


def quick_check(path: Path) -> list[str]:
    """Problems ``PRAGMA quick_check`` finds in the SQLite file at ``path`` (none: empty)."""
    try:
        conn = connect_sqlite_read_only(path)
        try:
            rows = [str(r[0]) for r in conn.execute("PRAGMA quick_check(20)")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return [str(exc)]
    if rows == ["ok"]:
        return []
    return [p for p in (" ".join(line.split()) for row in rows for line in row.splitlines())
            if p and not p.startswith("***")]


def _sqlite_copy(source: sqlite3.Connection, target: Path, journal_mode: str) -> None:
    """``source`` into the new file ``target`` with the online backup API, durably."""
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
        dest.execute(f"PRAGMA journal_mode={journal_mode}")
    finally:
        dest.close()
    with open(target, "rb") as fh:
        os.fsync(fh.fileno())


def backup_sqlite(path: Path, target: Path) -> None:
    """Copy the SQLite catalog at ``path`` into the new file ``target``, refusing a damaged one
    (its copy would be as damaged)."""
    source = connect_sqlite_read_only(path)  # also works on a read-only disk
    try:
        _sqlite_copy(source, target, "DELETE")  # one self-contained file, no side files
    except sqlite3.DatabaseError as exc:
        target.unlink(missing_ok=True)
        raise BackupFailed(f"cannot back up catalog {str(path)!r}: {exc}") from None
    finally:
        source.close()
    problems = quick_check(target)
    if problems:
        target.unlink()
        raise BackupFailed(f"catalog {str(path)!r} is damaged ({'; '.join(problems[:3])}); "
                           "its backup would be too: restore the last good backup instead")


def _libpq(url: str) -> tuple[str, dict[str, str]]:
    """A SQLAlchemy PostgreSQL URL as a libpq one, its password moved into the environment
    (not on a command line that ``ps`` shows)."""
    parsed = sa.make_url(url)
    env = dict(os.environ)
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    plain = parsed.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise BackupFailed(f"{name} is not installed (Debian: apt install postgresql-client)")
    return found


def _run(command: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if done.returncode != 0:
        raise BackupFailed(f"{Path(command[0]).name} failed: {done.stderr.strip() or done.returncode}")


@contextmanager
def postgres_snapshot(url: str) -> Iterator[tuple[sa.Connection, str]]:
    """A read-only REPEATABLE READ transaction on the catalog at ``url`` and the id of its
    exported snapshot, which ``dump_postgres`` passes to pg_dump."""
    engine = sa.create_engine(url)
    try:
        with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn:
            with conn.begin():
                conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                snapshot = str(conn.exec_driver_sql("SELECT pg_export_snapshot()").scalar())
                yield conn, snapshot
    finally:
        engine.dispose()


def dump_postgres(url: str, target: Path, *, snapshot: str | None = None) -> None:
    """``pg_dump -Fc`` of the catalog at ``url`` into ``target``."""
    dsn, env = _libpq(url)
    command = [_tool("pg_dump"), "--format=custom", "--no-owner", f"--file={target}"]
    if snapshot:
        command.append(f"--snapshot={snapshot}")
    _run([*command, f"--dbname={dsn}"], env)


@dataclass(frozen=True)
class Restored:
    catalog: str  # the file, or the database, that now holds the backup
    kept: tuple[str, ...]  # what it replaced, renamed and kept (files or a database)


def catalog_healthy(url: str) -> bool:
    """Whether the catalog at ``url`` exists and reads: for SQLite, passes quick_check."""
    path = sqlite_path(url)
    if path is not None:
        return path.exists() and not quick_check(path)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT count(*) FROM alembic_version").scalar()
    except sa.exc.SQLAlchemyError:
        return False
    finally:
        engine.dispose()
    return True


def restore_sqlite(backup: Path, path: Path, *, stamp: str) -> Restored:
    """Put the SQLite backup file ``backup`` in place of the catalog at ``path``: copied into a
    fresh file beside it, checked, then swapped in. The file it replaces and its side files
    are kept as ``<name>.replaced-<stamp>``."""
    problems = quick_check(backup)
    if problems:
        raise BackupFailed(f"backup {str(backup)!r} is damaged ({'; '.join(problems[:3])}); try an older one")
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh = path.with_name(f".{path.name}.restoring-{os.getpid()}")
    fresh.unlink(missing_ok=True)
    source = connect_sqlite_read_only(backup)
    try:
        _sqlite_copy(source, fresh, "WAL")  # what the catalog runs in; set while nobody else has it open
    finally:
        source.close()
    problems = quick_check(fresh)
    if problems:
        fresh.unlink()
        raise BackupFailed(f"the restored copy failed its check ({'; '.join(problems[:3])}); nothing was replaced")
    for side in _SIDE_FILES:  # the fresh file's own, made by its check
        path.with_name(fresh.name + side).unlink(missing_ok=True)
    kept = []
    for suffix in ("", *_SIDE_FILES):
        old = path.with_name(path.name + suffix)
        if old.exists():
            aside = old.with_name(f"{old.name}.replaced-{stamp}")
            old.rename(aside)
            kept.append(str(aside))
    os.replace(fresh, path)
    _fsync_folder(path.parent)
    return Restored(str(path), tuple(kept))


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def restore_postgres(dump: Path, url: str, *, stamp: str) -> Restored:
    """Restore the ``pg_dump -Fc`` file ``dump`` into a fresh database, then give it the name
    of the catalog's database; the database it replaces is kept as ``<name>_replaced_<stamp>``.
    Renaming needs every other session of both databases closed (stop the workers)."""
    parsed = sa.make_url(url)
    name = parsed.database
    if not name:
        raise BackupFailed(f"no database name in the catalog URL {parsed.render_as_string()!r}")
    fresh, aside = f"{name}_restoring_{stamp}", f"{name}_replaced_{stamp}"
    admin = sa.create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{fresh}"')
        dsn, env = _libpq(parsed.set(database=fresh).render_as_string(hide_password=False))
        try:
            _run([_tool("pg_restore"), "--no-owner", "--exit-on-error", f"--dbname={dsn}", str(dump)], env)
        except BackupFailed:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{fresh}"')
            raise
        with admin.connect() as conn:
            exists = conn.exec_driver_sql("SELECT 1 FROM pg_database WHERE datname = %(n)s", {"n": name}).scalar()
            kept: tuple[str, ...] = ()
            try:
                if exists:
                    conn.exec_driver_sql(f'ALTER DATABASE "{name}" RENAME TO "{aside}"')
                    kept = (aside,)
                conn.exec_driver_sql(f'ALTER DATABASE "{fresh}" RENAME TO "{name}"')
            except sa.exc.DBAPIError as exc:
                raise BackupFailed(
                    f"the backup is restored in database {fresh!r}, but it could not take {name!r}'s place "
                    f"({str(exc.orig).strip()}): stop every process using the catalog and run the restore again"
                ) from None
    finally:
        admin.dispose()
    return Restored(name, kept)
