"""The catalog: hotline's operational state and the records that cross package boundaries.

One job: remember reports, crawls, pages, media, sightings, hashes, known-set matches,
verdicts, exports and the append-only audit log, for several writing processes at once
(SQLite in WAL mode by default, PostgreSQL by URL). The schema is versioned with Alembic.

One narrow store per area, each owning its tables, with its records beside it:

* ``reports``: reports, the runs that claim them, crawls and pages, items not stored yet,
  re-checks (``ReportStore``);
* ``media_items``: media, sightings, hashes, failing items, integrity (``MediaStore``);
* ``known_sets``: known-hash sets, their matches, held rows (``KnownSetStore``);
* ``decisions``: the review queue and clusters, gradings, verdicts, overrides,
  confirmations, reveals and review rules (``ReviewStore``);
* ``exchange_ledger``: partners, bundles sent and received, evidence purges
  (``ExchangeStore``);
* ``users``: users, sessions, command-line tokens and the audit log (``UserStore``).

``catalog.catalog.Catalog`` composes them all; a caller that needs one area can take that
store's type. ``db`` runs transactions and migrations, ``schema`` holds the tables,
``errors`` the exception tree, ``db_backup`` copies the database out and back, ``duck`` opens
DuckDB the way every package that uses it must (statistics, known-set imports). Each area's
``records`` module is plain dataclasses, so a process that needs only records (a crawl
worker) does not import SQLAlchemy: this package imports nothing on its own.

May import: the standard library, SQLAlchemy, Alembic, and DuckDB (in ``duck``, on first
use). Imported by every other package; it imports none of them.
"""
