"""Connecting to the catalog, migrating it, and running transactions.

SQLite is opened in WAL mode with a long busy timeout, and every write transaction starts
with ``BEGIN IMMEDIATE``: a writer takes the write lock up front instead of upgrading a read
lock later, which is what makes concurrent writing processes wait their turn instead of
failing with "database is locked". Read transactions (``read()``) start deferred and never
block writers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

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


def create_catalog_engine(url: str, lock_timeout_s: float = 60.0) -> sa.Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout of ``lock_timeout_s`` (how
    long a writer waits for another's write lock) and immediate write locks."""
    if not url.startswith("sqlite"):
        return sa.create_engine(url, pool_pre_ping=True)
    busy_ms = int(lock_timeout_s * 1000)
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

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        read_only = conn.get_execution_options().get(_READ_ONLY, False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", "catalog:migrations")
    return cfg


def head_revision() -> str:
    """The newest schema revision(s), comma-separated when branches are open."""
    return ",".join(sorted(ScriptDirectory.from_config(_alembic_config()).get_heads()))


class Database:
    """An engine plus the two kinds of transaction the catalog uses."""

    def __init__(self, url: str, lock_timeout_s: float = 60.0) -> None:
        self.url = url
        self.engine = create_catalog_engine(url, lock_timeout_s)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.engine.url.render_as_string(hide_password=True)!r})"

    def migrate(self) -> str:
        """Bring the schema to the newest revision; safe to run from several processes."""
        cfg = _alembic_config()
        with self.engine.connect() as conn:
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "heads")
            conn.commit()
        return head_revision()

    def schema_revision(self) -> str | None:
        """The revision(s) the database is at, comma-separated; None before ``migrate``."""
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
        if self.engine.dialect.name == "postgresql":  # one snapshot for the whole transaction (issue 7)
            options["isolation_level"] = "REPEATABLE READ"
        with self.engine.connect().execution_options(**options) as conn:
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()
