"""Connecting to the catalog, migrating it, and running transactions.

SQLite is opened in WAL mode with a long busy timeout, and every write transaction starts
with ``BEGIN IMMEDIATE``: a writer takes the write lock up front instead of upgrading a read
lock later, which is what makes concurrent writing processes wait their turn instead of
failing with "database is locked". Read transactions (``read()``) start deferred and never
block writers.

A catalog opened ``read_only`` (the commands that only look) changes nothing, not even the
journal mode: SQLite is opened with ``mode=ro`` and ``query_only``, PostgreSQL sessions
default to read-only transactions. That is what lets them work on a read-only file system.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

if TYPE_CHECKING:
    from alembic.config import Config

_READ_ONLY = "hotline_read_only"


def utcnow() -> datetime:
    """The current time, UTC, without tzinfo (how the catalog stores times)."""
    return datetime.now(UTC).replace(tzinfo=None)


def inserted_id(result: sa.CursorResult[Any]) -> int:
    """The integer primary key of the row a single-row INSERT added."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the statement inserted no row")
    return int(key[0])


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite catalog URL; None for another database or an in-memory one."""
    parsed = sa.engine.make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def connect_sqlite_read_only(path: Path, *, timeout: float = 60) -> sqlite3.Connection:
    """A connection that cannot write to ``path``.

    ``mode=ro`` still needs the ``-shm`` file beside a WAL database, and creates it when
    missing: in a read-only folder that fails. Then, if no write-ahead log is waiting to be
    applied (a non-empty ``-wal`` file), the file is complete and nobody can change it
    through this folder, so it is opened ``immutable`` (no locks, no side files). With
    such a log it refuses: reading the file alone would miss committed changes."""
    if not path.exists():  # mode=ro would say "unable to open database file"
        raise sqlite3.OperationalError(f"no catalog file at {str(path)!r}")
    uri = path.resolve().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, timeout=timeout, check_same_thread=False)
    try:
        conn.execute("SELECT 1 FROM sqlite_master LIMIT 1")  # opening is lazy: this is where it fails
        return conn
    except sqlite3.OperationalError as exc:
        conn.close()
        if "unable to open" not in str(exc):  # locked, or damaged: not the read-only folder
            raise
        wal = path.with_name(path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise sqlite3.OperationalError(
                f"catalog {str(path)!r} has changes in {wal.name!r} that only a writable folder can apply; "
                "open it once with write access"
            ) from None
        return sqlite3.connect(f"{uri}?immutable=1", uri=True, timeout=timeout, check_same_thread=False)


def create_catalog_engine(url: str, *, read_only: bool = False, lock_timeout_s: float = 60.0) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout of ``lock_timeout_s`` (how
    long a writer waits for another's write lock) and immediate write locks.
    ``read_only``: an engine that changes nothing (see the module's docstring)."""
    if not url.startswith("sqlite"):
        if read_only:
            return sa.create_engine(url, pool_pre_ping=True,
                                    connect_args={"options": "-c default_transaction_read_only=on"})
        return sa.create_engine(url, pool_pre_ping=True)
    path = sqlite_path(url)
    if read_only and path is not None:
        return _read_only_sqlite_engine(url, path, lock_timeout_s)
    busy_ms = int(lock_timeout_s * 1000)
    if path is not None:
        _create_private(path)
    engine = sa.create_engine(url, connect_args={"timeout": lock_timeout_s, "check_same_thread": False})

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={busy_ms}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()
        if path is not None:
            _restrict(path)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _create_private(path: Path) -> None:
    """Create the catalog file readable by its owner only (SQLite gives its -wal and -shm
    files the database file's mode): it names reporters' URLs, users and the audit log."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except (FileExistsError, FileNotFoundError, PermissionError):
        pass  # there already (_restrict tightens it), or a folder SQLite will name in its error


def _restrict(path: Path) -> None:
    """Take group and other permissions off the catalog and its -wal and -shm files, where
    a catalog made before they were created private left them."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except OSError:
            pass  # gone meanwhile, or another user's file: not ours to change


def _read_only_sqlite_engine(url: str, path: Path, lock_timeout_s: float) -> sa.Engine:
    engine = sa.create_engine(url, creator=lambda: connect_sqlite_read_only(path, timeout=lock_timeout_s))

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={int(lock_timeout_s * 1000)}")
        cur.execute("PRAGMA query_only=ON")
        cur.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN")

    return engine


# Alembic is imported by the few calls that read or change the schema's revision, not with the
# catalog: every flow run and command opens one, and most never migrate.
def _alembic_config() -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", "catalog:migrations")
    return cfg


def head_revision() -> str:
    """The newest schema revision(s), comma-separated when branches are open."""
    from alembic.script import ScriptDirectory

    return ",".join(sorted(ScriptDirectory.from_config(_alembic_config()).get_heads()))


def insert_ignoring_duplicates(conn: sa.Connection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
    """INSERT rows, skipping any that collide with a primary key or unique constraint."""
    if not rows:
        return
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    conn.execute(dialect.insert(table).on_conflict_do_nothing(), rows)


class Database:
    """An engine plus the two kinds of transaction the catalog uses."""

    def __init__(self, url: str, *, read_only: bool = False, lock_timeout_s: float = 60.0) -> None:
        self.url = url
        self.read_only = read_only
        self.engine = create_catalog_engine(url, read_only=read_only, lock_timeout_s=lock_timeout_s)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.engine.url.render_as_string(hide_password=True)!r})"

    def migrate(self) -> str:
        """Bring the schema to the newest revision; safe to run from several processes."""
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        cfg = _alembic_config()
        with self.engine.connect() as conn:
            before = MigrationContext.configure(conn).get_current_heads()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
            conn.commit()
            after = MigrationContext.configure(conn).get_current_heads()
        if self.engine.dialect.name == "sqlite" and before != after:
            # Migrations rewrite whole tables; without this their pages stay in the WAL
            # file (hundreds of KiB for a new catalog) until some later checkpoint.
            raw = self.engine.raw_connection()  # outside a transaction, as a checkpoint must be
            try:
                raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
            finally:
                raw.close()
        return head_revision()

    def schema_revision(self) -> str | None:
        """The revision(s) the database is at, comma-separated; None before ``migrate``."""
        from alembic.runtime.migration import MigrationContext

        with self.engine.connect().execution_options(**{_READ_ONLY: True}) as conn:
            heads = MigrationContext.configure(conn).get_current_heads()
        return ",".join(sorted(heads)) or None

    @contextmanager
    def write(self) -> Iterator[sa.Connection]:
        """A write transaction, committed on success and rolled back on error."""
        with self.engine.begin() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[sa.Connection]:
        """A read-only snapshot that does not block writers."""
        options: dict[str, Any] = {_READ_ONLY: True}
        if self.engine.dialect.name == "postgresql":  # one snapshot for the whole transaction
            options["isolation_level"] = "REPEATABLE READ"
        with self.engine.connect().execution_options(**options) as conn:
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()
