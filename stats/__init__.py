"""Statistics: media-free figures about reports, items, known-set matches and verdicts.

One job: compute the numbers hotlines publish, with DuckDB, from a read-only copy of the
catalog's tables; never from media. May import: catalog, duckdb, pyarrow.
"""

from stats.figures import Figures, compute_figures

__all__ = ["Figures", "compute_figures"]
