"""Benchmark: export a bundle of 2 GiB of media to S3, against a plain boto3 upload of the
same bytes to the same server.

    .venv/bin/python bench/bench_bundle.py [--media-mb 2048] [--item-mb 16] [--dir DIR]

Targets: build + encrypt + upload MB/s >= 70 % of the baseline's; peak memory of
the export <= 256 MB.

* Server: moto's S3 server (``python -m moto.server``) in its own process on 127.0.0.1.
* Setup (not timed): a fresh installation whose evidence store holds ``--media-mb`` of
  random bytes (benign, ``--item-mb`` per item, sealed like any evidence), each item with a
  baseline verdict, and the INTERPOL route pointed at ``s3://bench/drop`` with media.
* Measured, each in a fresh process (its peak RSS is the figure): (1) ``export_route``:
  read and decrypt each item from the evidence store, write the tar, encrypt and sign it
  while it is uploaded (streamed through boto3's managed transfer), check the object's size
  and CRC32, record in the ledger; (2) the baseline: boto3's ``upload_file`` (what
  ``aws s3 cp`` does: s3transfer, default TransferConfig) of the finished bundle file to
  another key of the same server.

MB/s counts the bundle's bytes (1 MB = 10^6 bytes). The machine is shared with other
engineers' work (2 cores), so absolute figures vary from run to run; the ratio is measured
within one run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

REPO = Path(__file__).resolve().parents[1]
BUCKET = "bench"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def settings_env(data_dir: Path, endpoint: str) -> dict[str, str]:
    return {
        **os.environ, **CREDENTIALS,
        "HOTLINE_DATA_DIR": str(data_dir), "HOTLINE_COUNTRY": "NL", "HOTLINE_EXPORT_MEDIA": "true",
        "HOTLINE_INTERPOL_DESTINATION": f"s3://{BUCKET}/drop", "HOTLINE_S3_ENDPOINT_URL": endpoint,
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1",
    }


def setup(media_mb: int, item_mb: int) -> dict[str, object]:
    """In this process's environment: an installation with confirmed random-byte items."""
    from catalog.decisions.records import Verdict
    from catalog.media_items.records import HashRecord, MediaRecord, SightingRecord
    from catalog.reports.records import CrawlResult
    from hotline.installation import Installation
    from hotline.settings import Settings

    inst = Installation.init(Settings())
    catalog = inst.catalog
    report = catalog.add_report("http://bench.example/", actor="bench")
    n = max(1, media_mb // item_mb)
    total = 0
    for i in range(n):
        data = os.urandom(item_mb << 20)
        sha = inst.evidence.put(data)
        total += len(data)
        catalog.record_crawl(report, CrawlResult(
            "http://bench.example/", media=(MediaRecord(sha, len(data), None, "video"),),
            sightings=(SightingRecord(sha, f"http://bench.example/{i}.mp4", "http://bench.example/", country="NL"),),
        ))
        catalog.record_hashes([HashRecord(sha, "sha256", sha), HashRecord(sha, "md5", hashlib.md5(data).hexdigest())])
        catalog.queue_unmatched([sha])
        catalog.record_verdict(sha, Verdict.BASELINE, actor="bench")
    inst.close()
    return {"items": n, "media_bytes": total}


def run_export() -> dict[str, object]:
    """Measured: the INTERPOL export of every item, media included, to S3. The process
    loads what an export needs (catalog, evidence store, keys, exports, boto3), not the
    crawler and hashing libraries that opening a whole installation imports."""
    from catalog.catalog import Catalog
    from evidence import LocalEvidenceStore, load_data_key
    from evidence.spec import S3Budget
    from hotline.installation_keys import InstallationKeys
    from hotline.services.partner_exchange import export_route, interpol_route
    from hotline.settings import Settings

    settings = Settings()
    inst = SimpleNamespace(settings=settings, catalog=Catalog(settings.catalog), keys=InstallationKeys(settings.keys_dir),
                           evidence=LocalEvidenceStore(settings.evidence_dir, load_data_key(settings.data_key_file)),
                           s3_budget=S3Budget(settings.s3_connect_timeout_s, settings.s3_read_timeout_s,
                                              settings.s3_max_attempts))
    route = interpol_route(inst)  # type: ignore[arg-type]
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    (delivery,) = export_route(inst, route, actor="bench")  # type: ignore[arg-type]
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "cpu_s": _cpu_seconds() - cpu0, "bytes": delivery.size, "location": delivery.location,
            "items": delivery.items, "rss_before_mb": before,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _cpu_seconds() -> float:
    """User + system CPU time of this process so far, all its threads."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_baseline(path: str, endpoint: str) -> dict[str, object]:
    """Measured: boto3 upload_file of the same bytes, default TransferConfig (aws s3 cp)."""
    import boto3

    client = boto3.client("s3", endpoint_url=endpoint)
    size = Path(path).stat().st_size
    cpu0 = _cpu_seconds()
    t0 = time.perf_counter()
    client.upload_file(path, BUCKET, "baseline/copy.hlb")
    seconds = time.perf_counter() - t0
    assert client.head_object(Bucket=BUCKET, Key="baseline/copy.hlb")["ContentLength"] == size
    return {"seconds": seconds, "cpu_s": _cpu_seconds() - cpu0, "bytes": size,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def child(step: str, env: dict[str, str], *args: str) -> dict[str, object]:
    out = subprocess.run([sys.executable, __file__, "--step", step, *args], env=env, cwd=REPO,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"step {step} failed:\n{out.stdout}\n{out.stderr}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--media-mb", type=int, default=2048)
    parser.add_argument("--item-mb", type=int, default=16)
    parser.add_argument("--dir", type=Path, default=None, help="Work directory (default: a temporary one).")
    parser.add_argument("--step", choices=("setup", "export", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("rest", nargs="*", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "setup":
        print(json.dumps(setup(args.media_mb, args.item_mb)))
        return
    if args.step == "export":
        print(json.dumps(run_export()))
        return
    if args.step == "baseline":
        print(json.dumps(run_baseline(*args.rest)))
        return

    work = args.dir or Path(tempfile.mkdtemp(prefix="bench-bundle-"))
    port = free_port()
    endpoint = f"http://127.0.0.1:{port}"
    # moto as a module, not its console script: a venv that shares another's site-packages has no script
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import boto3

        for name, value in CREDENTIALS.items():
            os.environ[name] = value
        client = boto3.client("s3", endpoint_url=endpoint)
        for _ in range(100):
            try:
                client.create_bucket(Bucket=BUCKET)
                break
            except Exception:  # noqa: BLE001 - the server is still starting
                time.sleep(0.1)
        env = settings_env(work / "hotline-data", endpoint)
        t0 = time.perf_counter()
        made = child("setup", env, "--media-mb", str(args.media_mb), "--item-mb", str(args.item_mb))
        print(f"setup: {made['items']} items, {made['media_bytes'] / 1e6:.0f} MB of media in the evidence store "
              f"({time.perf_counter() - t0:.1f} s, not timed)", flush=True)

        exported = child("export", env)
        key = str(exported["location"]).removeprefix(f"s3://{BUCKET}/")
        copy = work / "bundle-copy.hlb"  # the bundle as uploaded: encrypted bytes
        client.download_file(BUCKET, key, str(copy))
        client.delete_object(Bucket=BUCKET, Key=key)
        baseline = child("baseline", env, str(copy), endpoint)
        client.delete_object(Bucket=BUCKET, Key="baseline/copy.hlb")

        size = int(exported["bytes"])
        ours = size / float(exported["seconds"]) / 1e6
        plain = size / float(baseline["seconds"]) / 1e6
        print(f"bundle: {size / 1e6:.0f} MB, {exported['items']} items (machine shared with other work; 2 cores)")
        print(f"export (build + encrypt + sign + upload + verify + ledger): "
              f"{exported['seconds']:.1f} s = {ours:.1f} MB/s, CPU {exported['cpu_s']:.1f} s, peak RSS {exported['peak_rss_mb']:.0f} MB "
              f"({exported['rss_before_mb']:.0f} MB before it started)")
        print(f"baseline (boto3 upload_file of the same bytes, same server): "
              f"{baseline['seconds']:.1f} s = {plain:.1f} MB/s, CPU {baseline['cpu_s']:.1f} s, peak RSS {baseline['peak_rss_mb']:.0f} MB")
        print(f"ratio export/baseline: {ours / plain:.0%} (target >= 70 %); "
              f"export peak memory {exported['peak_rss_mb']:.0f} MB (target <= 256 MB)")
    finally:
        server.terminate()
        server.wait(timeout=30)
        if args.dir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
