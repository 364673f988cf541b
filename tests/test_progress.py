"""Progress of long commands: shown on a terminal (rows/s of a known-set import, the steps of
a snapshot, the reports crawled and items hashed of a run), never in a pipe and never with
--json, whose output stays one JSON document."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import terminal_support

from hotline.demo.local_site import serve_site, synthetic_image
from hotline.progress import Progress, Steps, reporting_to

HOTLINE = [sys.executable, "-m", "hotline.cli"]
ROWS = 150_000


def _env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HOTLINE_", "PREFECT_"))}
    env.update(HOTLINE_DATA_DIR=str(data_dir), PREFECT_LOGGING_LEVEL="WARNING", COLUMNS="120", TERM="xterm",
               PREFECT_HOME=str(data_dir.parent / "prefect-client"), **extra)
    return env


def piped(data_dir: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*HOTLINE, *args], env=_env(data_dir, **extra), capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    return done


def on_terminal(data_dir: Path, *args: str, **extra: str) -> tuple[str, str]:
    """Run a command with its stdout and its stderr each on a terminal of its own; what each showed."""
    return terminal_support.on_terminal([*HOTLINE, *args], _env(data_dir, **extra))


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    made = tmp_path / "data"
    piped(made, "init")
    return made


@pytest.fixture(scope="module")
def hash_list(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("known") / "set.csv"
    with path.open("w") as out:
        out.write("md5,sha256\n")
        for n in range(ROWS):
            data = f"benign-{n}".encode()
            out.write(f"{hashlib.md5(data).hexdigest()},{hashlib.sha256(data).hexdigest()}\n")
    return path


def test_known_import_shows_rows_per_second_on_a_terminal_only(data_dir: Path, hash_list: Path) -> None:
    out, err = on_terminal(data_dir, "known", "import", str(hash_list), "--set", "t1", "--verdict", "baseline")
    assert f"{ROWS:,}/{ROWS:,} rows" in err and "rows/s" in err and "known-set import" in err
    assert "rows/s" not in out and f"{ROWS} hashes" in out

    piped_out = piped(data_dir, "known", "import", str(hash_list), "--set", "t2", "--verdict", "baseline")
    assert piped_out.stderr == "" and "rows/s" not in piped_out.stdout and f"{ROWS} hashes" in piped_out.stdout


def test_json_stays_one_document_on_a_terminal_and_in_a_pipe(data_dir: Path, hash_list: Path) -> None:
    out, err = on_terminal(data_dir, "known", "import", str(hash_list), "--set", "t1", "--verdict", "baseline",
                           "--json")
    assert json.loads(out)["rows"] == ROWS and err == ""
    done = piped(data_dir, "stats", "snapshot", "--json")
    assert json.loads(done.stdout)["version"] and done.stderr == ""
    out, err = on_terminal(data_dir, "stats", "snapshot", "--json")
    assert json.loads(out)["version"] and err == ""


def test_snapshot_steps_on_a_terminal(data_dir: Path) -> None:
    out, err = on_terminal(data_dir, "stats", "snapshot")
    assert "snapshot: done" in err and "4/4 steps" in err
    assert out.startswith("snapshot ")


def test_a_run_shows_reports_crawled_and_items_hashed(data_dir: Path) -> None:
    pictures = {f"/p/{n}.jpg": synthetic_image(n) for n in range(3)}
    routes = {"/gallery": "".join(f"<img src='{u}'>" for u in pictures).encode(), **pictures}
    with serve_site(routes) as site:  # type: ignore[arg-type]
        piped(data_dir, "report", "add", site.url("/gallery"))
        out, err = on_terminal(data_dir, "run", HOTLINE_CRAWL_ALLOW=site.host_port)
    assert "1 report(s): 3 item(s)" in out
    assert "reports crawled" in err and "1/1 reports" in err and "items hashed" in err and "3/3 items" in err


def test_steps_count_a_step_done_when_the_next_begins() -> None:
    seen: list[Progress] = []
    with reporting_to(seen.append):
        steps = Steps("snapshot", 2)
        steps("one")
        steps("two")
        steps.finish()
    assert [(e.advance, e.note) for e in seen] == [(0, "one"), (1, "two"), (1, "done")]


def test_a_run_nobody_watches_keeps_its_figures_for_a_command_elsewhere() -> None:
    from collections.abc import Mapping
    from typing import Any

    from hotline.progress import catch_up, recorded, report

    written: list[list[dict[str, Any]]] = []
    with recorded(written.append, every_s=0.01):
        report(Progress("reports crawled", total=2, unit="reports"))
        report(Progress("reports crawled", advance=2, unit="reports", note="gallery"))
    assert written[-1] == [{"stage": "reports crawled", "done": 2, "total": 2, "unit": "reports", "note": "gallery"}]
    shown: dict[str, Mapping[str, Any]] = {}
    assert catch_up(shown, written[-1]) == [Progress("reports crawled", 2, 2, "reports", "gallery")]
    assert catch_up(shown, written[-1]) == []

    seen: list[Progress] = []
    count = len(written)
    with reporting_to(seen.append), recorded(written.append):  # a command shows it: nothing recorded
        report(Progress("items hashed", advance=3))
    assert seen == [Progress("items hashed", advance=3)] and len(written) == count
