"""The code trees a benchmark compares: this checkout, and a baseline from another commit
(``git archive`` unpacked into the work folder) or another folder, run in the same process
tree so that their figures share the machine's load."""

from __future__ import annotations

import io
import subprocess
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def checkout(rev: str, into: Path) -> Path:
    """Commit ``rev`` of this repository, unpacked into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], check=True, capture_output=True).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


def compared_trees(work: Path, ref: str | None = None, tree: Path | None = None) -> list[tuple[str, Path]]:
    """(label, folder) of this checkout, then of the baseline if one is asked for."""
    trees = [("this tree", REPO)]
    if ref:
        trees.append((f"baseline ({ref})", checkout(ref, work / "baseline-tree")))
    elif tree:
        trees.append(("baseline", tree.resolve()))
    return trees
