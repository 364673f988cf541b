"""Statistics: the figures a hotline publishes, and media-free snapshots for statisticians.

One job: turn a consistent read of the catalog into a DuckDB database of pseudonymised
tables and documented views (docs/statistics.md), computed live for ``hotline stats`` or
written as versioned snapshots (DuckDB file + Parquet) that statisticians open read-only
while flows keep running; cut them into media-free months for the network's coordinator
(``publication``) and build the network snapshot from the months it receives (``network``);
and render the figures as tables, JSON or an HTML report. Never
reads media, never writes SHA-256s, hashes, reporter details or analysts' names.

May import: catalog, duckdb, pyarrow. Imported by the command line and flows/snapshot.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lazy_loader

from stats.errors import NoSnapshot, SnapshotError, StatsError

if TYPE_CHECKING:
    from stats.build import SnapshotOptions
    from stats.console import console_tables
    from stats.figures import Figures, compute_figures, read_figures, snapshot_figures
    from stats.report import render_report, write_report
    from stats.snapshot_versions import SnapshotInfo, current_database, open_snapshot, write_snapshot

# A submodule is imported when one of its names is first used, not with the package: most
# callers need a few names, and the submodules bring heavy libraries along.
__getattr__ = lazy_loader.attach(__name__, submod_attrs={
    "build": ["SnapshotOptions"],
    "console": ["console_tables"],
    "figures": ["Figures", "compute_figures", "read_figures", "snapshot_figures"],
    "report": ["render_report", "write_report"],
    "snapshot_versions": ["SnapshotInfo", "current_database", "open_snapshot", "write_snapshot"],
})[0]


__all__ = [
    "Figures",
    "NoSnapshot",
    "SnapshotError",
    "SnapshotInfo",
    "SnapshotOptions",
    "StatsError",
    "compute_figures",
    "console_tables",
    "current_database",
    "open_snapshot",
    "read_figures",
    "render_report",
    "snapshot_figures",
    "write_report",
    "write_snapshot",
]
