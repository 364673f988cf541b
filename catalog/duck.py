"""How hotline opens DuckDB (statistics, known-set imports): what every connection needs,
in one place.

DuckDB draws a progress bar on standard output for a query that runs longer than a couple of
seconds. In a flow, or a command that answers in JSON, standard output is not DuckDB's to
write, so the bar is always off. A connection given a memory limit also gets a folder to
spill to, so that what does not fit (sorts, joins, aggregates) goes to disk instead of
failing with an out-of-memory error.

DuckDB is imported on first use: the catalog itself never needs it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import duckdb


def connect(database: str | Path = ":memory:", *, read_only: bool = False, memory_limit: str | None = None,
            spill_to: Path | None = None, **config: Any) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to ``database`` (a file, or memory) without progress bars;
    ``memory_limit`` (e.g. ``"600MB"``) bounds DuckDB's own memory, ``spill_to`` is the
    folder it writes what does not fit into (a file database spills next to itself unless
    told otherwise); ``config`` holds further DuckDB options."""
    import duckdb

    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    if spill_to is not None:
        config["temp_directory"] = str(spill_to)
    con = duckdb.connect(str(database), read_only=read_only, config=config)
    # a setting of the connection, not of the database: it cannot go in ``config``
    con.execute("SET enable_progress_bar = false")
    return con
