"""`hotline stats` as an operator and a statistician use it: tables, one JSON document,
snapshots, and the HTML report that opens without a network."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from stats_seed import seed

from catalog.catalog import Catalog
from stats import SnapshotOptions, compute_figures, render_report

HOTLINE = [sys.executable, "-m", "hotline.cli"]


def run(data_dir: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data_dir), "HOTLINE_COUNTRY": "NL", "COLUMNS": "200"}
    env.pop("HOTLINE_CONFIG", None)
    done = subprocess.run([*HOTLINE, *args], capture_output=True, text=True, env=env, timeout=900, check=False)
    if ok:
        assert done.returncode == 0, done.stderr
    return done


def run_json(data_dir: Path, *args: str) -> Any:
    return json.loads(run(data_dir, *args, "--json").stdout)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "data"
    run(path, "init")
    catalog = Catalog(f"sqlite:///{path / 'catalog.db'}")
    seed(catalog)
    catalog.dispose()
    return path


def test_stats_tables_json_snapshot_and_errors(data_dir: Path) -> None:
    missing = run(data_dir, "stats", "--from-snapshot", ok=False)
    assert missing.returncode != 0 and "hotline stats snapshot" in missing.stderr and missing.stdout == ""

    printed = run(data_dir, "stats").stdout
    for title in ("jurisdiction NL", "Reports by outcome", "Time from report to crawl", "Hosting countries",
                  "Site types", "Duplicates avoided", "reports_received", "share_removed_within_3_days",
                  "By month", "items_known"):
        assert title in printed

    live = run_json(data_dir, "stats")
    assert live["reports"] == live["overview"]["reports_received"] == 302
    assert live["jurisdiction"] == "NL" and live["jurisdictions"] == ["NL", "DE", "INTERPOL"]
    assert [r["stage"] for r in live["views"]["time_to"]] == ["crawl", "verdict", "export", "removal"]

    made = run_json(data_dir, "stats", "snapshot")
    assert Path(made["path"]).name == made["version"] and made["rows"]["reports"] == 302
    interpol = run_json(data_dir, "stats", "--from-snapshot", "--jurisdiction", "interpol")
    assert interpol["version"] == made["version"] and interpol["jurisdiction"] == "INTERPOL"
    assert interpol["reports"] == 302  # INTERPOL's figures follow the home baseline, known sets included
    assert interpol["overview"]["items_illegal"] == live["overview"]["items_baseline"]
    assert interpol["overview"]["items_auto_classified"] == live["overview"]["items_auto_classified"]

    wrong = run(data_dir, "stats", "--jurisdiction", "XY", ok=False)
    assert wrong.returncode != 0 and "'XY'" in wrong.stderr and "NL, DE, INTERPOL" in wrong.stderr


def test_report_command_writes_an_audited_page(data_dir: Path, tmp_path: Path) -> None:
    done = run_json(data_dir, "stats", "report", "--out", str(tmp_path / "report"))
    page = Path(done["report"])
    assert page == tmp_path / "report" / "index.html" and done["jurisdiction"] == "NL"
    assert "<svg" in page.read_text()
    catalog = Catalog(f"sqlite:///{data_dir / 'catalog.db'}")
    assert [e.subject for e in catalog.audit_entries(action="stats.report")] == [str(page)]
    catalog.dispose()


def test_the_html_report_needs_no_network(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    catalog.migrate()
    seed(catalog)
    figures = compute_figures(catalog, SnapshotOptions(country="NL"))
    catalog.dispose()
    html = render_report(figures)
    # nothing to fetch: no scripts, stylesheets, images, frames, fonts or any URL at all
    assert not re.search(r"<script|<link|<img|<iframe|<object|<embed|@import|url\(|src=|href=", html, re.IGNORECASE)
    assert "http://" not in html and "https://" not in html and "//" not in html.replace("://", "")
    assert html.count("<svg") == 3
    for title in ("Time to removal of illegal content URLs", "Hosting countries of illegal items",
                  "New and already known items by month first seen"):
        assert title in html
    o = figures.overview
    assert f"{o['reports_received']:,}" in html and "removed within 3 days" in html
    # every month from the first to the last one with items has a column, gaps included
    months = re.findall(r">(\d{4}-\d{2})</text>", html)
    assert months[:3] == ["2026-01", "2026-02", "2026-03"] and len(months) >= 9
    for country in (r["country"] for r in figures.views["hosting_countries"]):
        assert f">{country}</text>" in html
