"""``hotline demo``: a local benign site crawled end to end on embedded defaults.

The demo generates a gallery of synthetic pictures, loads some of them beforehand as a
known set (two by exact hash, one only by its PDQ hash, as a re-encoded copy would be), adds
a corrupt file, serves the site on 127.0.0.1, files a report for it, runs the
``process-report`` flow through Prefect, and prints what became of each item.
"""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from catalog.decisions.records import Verdict
from hashing import hash_image
from hotline.cli.output import console
from hotline.cli.output import table as print_table
from hotline.demo.local_site import Route, serve_site, synthetic_image
from hotline.installation import Installation
from hotline.settings import Settings

DEMO_SET = "demo-known"


def _gallery(images: int) -> tuple[dict[str, Route], list[bytes]]:
    """The site's files, and the pictures whose hashes go into the known set."""
    pictures = [synthetic_image(seed) for seed in range(images)]
    files: dict[str, Route] = {f"/img/{i}.jpg": (data, "image/jpeg") for i, data in enumerate(pictures)}
    # A near-duplicate: the known set holds picture 2's original, the site a smaller re-encode.
    from PIL import Image

    small = io.BytesIO()
    Image.open(io.BytesIO(pictures[2])).resize((480, 360)).save(small, "JPEG", quality=70)
    files["/img/2.jpg"] = (small.getvalue(), "image/jpeg")
    files["/img/broken.jpg"] = (pictures[0][:200], "image/jpeg")  # a truncated JPEG
    links = "".join(f'<a href="/img/{i}.jpg">photo {i}</a>' for i in range(images - 1, images))
    imgs = "".join(f'<img src="/img/{i}.jpg" alt="photo {i}">' for i in range(images - 1))
    files["/"] = (
        "<!doctype html><html><head><title>Demo gallery</title></head><body>"
        f"<h1>Demo gallery</h1>{imgs}<img src='/img/broken.jpg'>{links}</body></html>"
    ).encode()
    return files, pictures[:3]


def _known_set_file(pictures: list[bytes], folder: Path) -> Path:
    hashed = [hash_image(p) for p in pictures]
    table_ = pa.table(
        {
            "sha256": [hashed[0].sha256, None, None],
            "md5": [None, hashed[1].md5, None],
            "pdq": [None, None, hashed[2].pdq],
            "id": ["demo-1", "demo-2", "demo-3"],
            "category": ["demo", "demo", "demo"],
        }
    )
    path = folder / "demo-known.parquet"
    pq.write_table(table_, path)
    return path


def run_demo(settings: Settings, images: int = 8, *, quiet: bool = False) -> dict[str, Any]:
    """Run the whole demo; returns what it printed, as data (``quiet``: print nothing)."""
    from flows.process_report import process_report

    images = max(images, 4)
    inst = Installation.init(settings)
    say = (lambda *a, **k: None) if quiet else console.print  # noqa: E731
    table = (lambda *a, **k: None) if quiet else print_table  # noqa: E731
    say(f"[bold]hotline demo[/] - data directory {settings.data_dir.resolve()}")
    files, known = _gallery(images)
    with tempfile.TemporaryDirectory() as tmp:
        inst.import_known_set(_known_set_file(known, Path(tmp)), DEMO_SET, None,
                              category_verdicts={"demo": Verdict.NOT_ILLEGAL},
                              source="hotline demo (synthetic pictures)")
    with serve_site(files) as gallery:
        allow = [a for a in os.environ.get("HOTLINE_CRAWL_ALLOW", "").split(",") if a]
        os.environ["HOTLINE_CRAWL_ALLOW"] = ",".join([*allow, gallery.host_port])
        url = gallery.url("/")
        report_id = inst.catalog.add_report(url, actor="demo", source="demo")
        say(f"serving a benign gallery at {url}; filed report {report_id}; running the flow ...")
        summary = process_report(report_ids=[report_id])
    outcomes = inst.catalog.outcomes([report_id])
    rows = []
    for o in outcomes:
        if o.verdict_source == "known-set":
            what = f"auto-classified {o.verdict} from set {o.set_name!r} ({o.reason})"
        elif o.status == "queued":
            what = "queued for review"
        elif o.status == "error":
            what = f"error: {o.error}"
        else:
            what = o.status
        rows.append((o.sha256[:16], o.urls[0] if o.urls else "", what))
    table(f"report {report_id}: what became of each item", ["item", "url", "outcome"], rows)
    errors = inst.catalog.report_errors(report_id)
    if errors:
        table("recorded on the report", ["stage", "where", "reason"],
              [(e.stage, e.url or (e.sha256 or "")[:16], e.reason) for e in errors])
    say(
        f"{summary['auto_classified']} item(s) auto-classified from known sets (analyst views spared), "
        f"{summary['queued']} queued for review. Next: `hotline queue list`, `hotline user add` and "
        "`hotline login` (decisions are made by users), `hotline classify ID ...`, `hotline export`, `hotline stats`."
    )
    inst.close()
    return {"report_id": report_id, "summary": summary, "items": outcomes, "errors": errors}
