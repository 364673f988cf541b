"""stats-snapshot: write a media-free statistics snapshot (DuckDB file and Parquet, see
docs/statistics.md) from one consistent read of the catalog, and make it the current one.

Statisticians' open read-only connections keep working while a new snapshot is written
(``stats.snapshot_versions``: versioned folders, an atomic ``current`` link); the newest
``HOTLINE_STATS_KEEP`` snapshots are kept.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact

from flows.common import IO_RETRIES, installation
from stats import SnapshotOptions, write_snapshot


@task(**IO_RETRIES)
def write_statistics_snapshot() -> dict[str, Any]:
    inst = installation()
    s = inst.settings
    info = write_snapshot(inst.catalog, s.snapshot_dir, SnapshotOptions(country=s.country, urls=s.stats_urls),
                          keep=s.stats_keep, actor="stats-snapshot")
    return {**asdict(info), "path": str(info.path)}


@flow(name="stats-snapshot")
def stats_snapshot() -> dict[str, Any]:
    """Write a statistics snapshot and make it current."""
    info = write_statistics_snapshot()
    rows = info["rows"]
    create_markdown_artifact(
        key="stats-snapshot-summary",
        markdown=(f"Snapshot `{info['version']}` of the catalog as of {info['as_of']:%Y-%m-%d %H:%M:%S} UTC: "
                  f"{rows['reports']} reports, {rows['items']} items, URLs kept: {info['url_policy']}; "
                  f"built in {info['seconds']:.1f} s into `{info['path']}`."),
    )
    return info


if __name__ == "__main__":
    print(stats_snapshot())
