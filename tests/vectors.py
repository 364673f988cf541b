"""Where the shared reference vectors are: ``shared/vectors`` beside the repository, or beside
a directory further up (a checkout kept one level down, as a git worktree often is);
``HOTLINE_VECTORS`` names it for a checkout elsewhere."""

from __future__ import annotations

import os
from pathlib import Path

_REPO = Path(__file__).resolve().parents[1]
VECTORS = Path(os.environ["HOTLINE_VECTORS"]) if os.environ.get("HOTLINE_VECTORS") else next(
    (d / "shared" / "vectors" for d in _REPO.parents if (d / "shared" / "vectors").is_dir()),
    _REPO.parent / "shared" / "vectors",  # missing: tests that need it say where it should be
)
PDQ_VECTORS = VECTORS / "pdq"
