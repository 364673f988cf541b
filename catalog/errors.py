"""Catalog errors, and what the expected faults of the database itself mean.

CatalogError
 ├── NotFound        no row with that key
 ├── Ambiguous       a media-ID prefix names more than one item
 ├── InvalidState    the change does not fit the row's current state
 │    └── ChangedMeanwhile    what a decision was made on changed before it was written
 │         ├── DecidedMeanwhile   the item was decided, confirmed or exported meanwhile:
 │         │                      says who did what, when
 │         └── RulesChanged       the review rules (four-eyes) changed meanwhile
 ├── Forbidden       the actor's role (or part in the item) does not allow it
 └── DatabaseFault   the database failed in an expected way (``database_fault``): full,
                     read-only, locked beyond the timeout, disconnected, damaged, not to
                     be opened, or an I/O error; says what to do, and whether trying
                     again can heal it

SQLAlchemy raises the driver's errors as ``sqlalchemy.exc.DBAPIError``; ``database_fault``
sorts them by the driver's own codes (SQLite's extended result code names, PostgreSQL's
SQLSTATE) and gives None for anything else (a bug, which should keep its traceback).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:  # SQLAlchemy is imported when a fault is sorted: crawl workers load these classes without it
    import sqlalchemy as sa

FaultKind = Literal["full", "read-only", "locked", "disconnected", "damaged", "unopenable", "io"]

_ADVICE: dict[FaultKind, str] = {
    "full": "cannot grow: the disk (or the database server's storage) is full; free space, then run the"
            " command again",
    "read-only": "cannot be written: a read-only file, folder, mount or server; make it writable, then run the"
                 " command again",
    "locked": "stayed locked by another process beyond the lock timeout (HOTLINE_CATALOG_LOCK_TIMEOUT_S);"
              " let that process finish or stop it, then run the command again",
    "disconnected": "cannot be reached: the connection was refused or dropped; check that the database server"
                    " is running and reachable, then run the command again",
    "damaged": "is damaged, or is not a hotline catalog; restore it from a backup (`hotline restore`), then run"
               " the command again",
    "unopenable": "cannot be opened; check that its folder exists and its permissions, then run the command again",
    "io": "could not read or write its files; check that the disk has free space and reports no errors,"
          " then run the command again",
}

# SQLite result code names: extended codes first (the exact name), then primary codes
# (the first two parts of the name)
_SQLITE: dict[str, FaultKind] = {
    "SQLITE_IOERR_SHMSIZE": "full",  # the shared-memory file (WAL index) could not grow
    "SQLITE_FULL": "full",
    "SQLITE_READONLY": "read-only",
    "SQLITE_PERM": "read-only",
    "SQLITE_BUSY": "locked",
    "SQLITE_LOCKED": "locked",
    "SQLITE_CORRUPT": "damaged",
    "SQLITE_NOTADB": "damaged",
    "SQLITE_CANTOPEN": "unopenable",
    "SQLITE_IOERR": "io",
}
# PostgreSQL SQLSTATEs: exact codes first, then classes (the first two characters)
_POSTGRES: dict[str, FaultKind] = {
    "53100": "full",  # disk_full
    "25006": "read-only",  # read_only_sql_transaction
    "55P03": "locked",  # lock_not_available (lock_timeout)
    "57P01": "disconnected",  # admin_shutdown: pg_terminate_backend, a server shutting down
    "57P02": "disconnected",  # crash_shutdown
    "57P03": "disconnected",  # cannot_connect_now: the server is starting
    "08": "disconnected",  # connection exceptions
    "XX001": "damaged",  # data_corrupted
    "XX002": "damaged",  # index_corrupted
}


class CatalogError(Exception):
    """Base of every catalog error."""


class NotFound(CatalogError, LookupError):
    """No row with the key asked for."""


class Ambiguous(CatalogError, LookupError):
    """A shortened media ID matches more than one item."""


class InvalidState(CatalogError):
    """The change asked for does not fit the current state of the row."""


class ChangedMeanwhile(InvalidState):
    """A decision was made on a state of the item or of the review rules that another writer
    changed before it was written: it is refused, not written over that change. Look
    again (reload), then decide."""


class DecidedMeanwhile(ChangedMeanwhile):
    """Someone decided, confirmed or exported the item after the decision's maker saw it;
    ``sha256`` is the item, the message says who did what, when."""

    def __init__(self, sha256: str, message: str) -> None:
        self.sha256 = sha256
        super().__init__(message)


class RulesChanged(ChangedMeanwhile):
    """An admin changed the review rules after the decision was made under the old ones."""


class Forbidden(CatalogError, PermissionError):
    """The actor may not do this: their role, or their part in the item (a grader cannot confirm)."""


class DatabaseFault(CatalogError):
    """The database failed in an expected way: ``kind`` says how, the message what to do."""

    def __init__(self, kind: FaultKind, detail: str, where: str | None = None) -> None:
        self.kind = kind
        self.detail = detail
        self.where = where
        place = f"the catalog {where!r}" if where else "the catalog"
        super().__init__(f"{place} {_ADVICE[kind]} ({detail})")

    @property
    def transient(self) -> bool:
        """Whether trying again, after a pause, can succeed without anyone acting: a
        dropped connection (a server restarted, a connection terminated). A lock held
        beyond the timeout is not: the timeout was the wait already."""
        return self.kind == "disconnected"


def _kind(exc: sa.exc.DBAPIError) -> FaultKind | None:
    import sqlalchemy as sa

    orig = exc.orig
    name = getattr(orig, "sqlite_errorname", None)
    if isinstance(name, str):
        return _SQLITE.get(name) or _SQLITE.get("_".join(name.split("_")[:2]))
    state = getattr(orig, "sqlstate", None)
    if isinstance(state, str):
        return _POSTGRES.get(state) or _POSTGRES.get(state[:2])
    if exc.connection_invalidated or isinstance(exc, sa.exc.OperationalError) and orig is not None \
            and type(orig).__module__.startswith("psycopg"):
        return "disconnected"  # no SQLSTATE: the connection failed or the server went away
    return None


def database_fault(exc: BaseException, where: str | None = None) -> DatabaseFault | None:
    """``exc`` (or an exception it was raised from) as a ``DatabaseFault``, or None when it
    is no expected fault of the database. ``where``: the catalog's URL or path, named in
    the message (passwords hidden)."""
    import sqlalchemy as sa

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, DatabaseFault):
            return seen
        if isinstance(seen, sa.exc.DBAPIError):
            kind = _kind(seen)
            if kind is not None:
                detail = str(seen.orig).strip().splitlines()[0] if seen.orig is not None else type(seen).__name__
                return DatabaseFault(kind, detail, _hide_password(where))
            return None
        seen = seen.__cause__ or seen.__context__
    return None


def _hide_password(url: str | None) -> str | None:
    import sqlalchemy as sa

    if url is None or "://" not in url:
        return url
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url
