"""`hotline hash`, `hotline match` and the known-set commands, as an operator scripts them:
one JSON document, a per-file error, a non-zero exit status when a file failed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from synthetic import encoded, synthetic_picture, synthetic_video


def hotline(data_dir: Path, *args: str, status: int = 0) -> Any:
    env = {**os.environ, "HOTLINE_DATA_DIR": str(data_dir), "PREFECT_LOGGING_LEVEL": "WARNING"}
    env.pop("HOTLINE_CONFIG", None)
    done = subprocess.run([sys.executable, "-m", "hotline.cli", *args, "--json"],
                          capture_output=True, text=True, env=env, timeout=900)
    assert done.returncode == status, done.stderr
    return json.loads(done.stdout)


def test_hash_match_and_manage_known_sets(tmp_path: Path) -> None:
    data = tmp_path / "data"
    photo, clip, page = tmp_path / "photo.jpg", tmp_path / "clip.mp4", tmp_path / "fake.jpg"
    photo.write_bytes(encoded(synthetic_picture(70), "JPEG", quality=90))
    clip.write_bytes(synthetic_video(3.0, seed=8))
    page.write_bytes(b"<!doctype html><title>moved</title>")

    hashed = hotline(data, "hash", str(photo), str(clip), str(page), status=1)
    image, video, bad = hashed
    assert image["kind"] == "image" and len(image["pdq"]) == 64 and len(image["phash"]) == 16
    assert image["error"] is None and image["frames"] == [] and 0 <= image["pdq_quality"] <= 100
    assert video["kind"] == "video" and [f["t"] for f in video["frames"]] == [0.0, 1.0, 2.0]
    assert {"t", "pdq", "quality"} == set(video["frames"][0])
    assert bad["kind"] is None and "HTML document" in bad["error"] and "fake.jpg" in bad["error"]

    hotline(data, "init")
    rotated = tmp_path / "rotated.png"
    from PIL import Image

    rotated.write_bytes(encoded(Image.open(photo).transpose(Image.Transpose.ROTATE_90)))
    listing = tmp_path / "list.csv"
    listing.write_text(f"MD5,PDQ,MediaID,Category\n{image['md5']},,1,A\n,{image['pdq']},2,B\n"
                       + "".join(f",{f['pdq']},clip,B\n" for f in video["frames"]))
    imported = hotline(data, "known", "import", str(listing), "--set", "partner", "--category", "A=baseline",
                       "--category", "B=national")
    assert (imported["set"], imported["rows"], imported["verdict"], imported["changed"]) == ("partner", 5, None, True)
    assert [(c["category"], c["verdict"], c["rows"]) for c in imported["categories"]] == [
        ("A", "baseline", 1), ("B", "national", 4)]

    found = hotline(data, "match", str(photo), str(rotated), str(clip))
    by_file = {Path(r["path"]).name: {(m["match_type"], m["verdict"]) for m in r["matches"]} for r in found}
    assert by_file == {
        "photo.jpg": {("md5", "baseline"), ("pdq", "national")},
        "rotated.png": {("pdq", "national")},
        "clip.mp4": {("vpdq", "national")},
    }
    assert hotline(data, "known", "disable", "partner") == {"set": "partner", "enabled": False, "changed": True}
    assert all(r["matches"] == [] for r in hotline(data, "match", str(photo)))
    listed = hotline(data, "known", "list")
    assert [(s["name"], s["enabled"], s["format"], s["benign"]) for s in listed] == [("partner", False, "csv", False)]
    assert hotline(data, "known", "delete", "partner") == {"set": "partner", "deleted": True}
    assert hotline(data, "known", "list") == []
