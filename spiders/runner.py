"""crawl(): run one crawl in a worker process and parse its result.

Never raises for a bad site: a worker that crashes, times out or prints garbage becomes
a CrawlResult with a CrawlError (stage "worker") carrying the tail of its stderr, which
holds logs only, never media. Media stored before a crash stay in the evidence store.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping, Sequence

from catalog.reports.records import CrawlError, CrawlResult
from evidence.spec import EvidenceSpec
from spiders.codec import result_from_json
from spiders.errors import WorkerFailed
from spiders.request import CrawlRequest

WORKER = (sys.executable, "-m", "spiders.worker")
WORKER_MARGIN_S = 30.0  # on top of crawl_timeout_s: start-up and a graceful close
STDERR_TAIL = 2000


def _tail(stderr: str | bytes | None) -> str:
    if isinstance(stderr, bytes):
        stderr = stderr.decode("utf-8", "replace")
    tail = (stderr or "").strip()[-STDERR_TAIL:]
    return tail or "(nothing on stderr)"


def _failed(url: str, reason: str) -> CrawlResult:
    return CrawlResult(
        url=url, errors=(CrawlError(url, reason, stage="worker"),), stats={"errors": 1}
    )


def run_json_worker(
    argv: Sequence[str], payload: str, timeout_s: float
) -> subprocess.CompletedProcess[str]:
    """Run ``argv`` with ``payload`` on stdin; the finished process (raises WorkerFailed)."""
    try:
        proc = subprocess.run(
            list(argv),
            input=payload,
            capture_output=True,
            check=False,
            text=True,
            errors="replace",
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired as exc:
        raise WorkerFailed(
            f"crawl worker timed out after {timeout_s:g} s and was killed; "
            f"stderr tail:\n{_tail(exc.stderr)}"
        ) from None
    if proc.returncode < 0:
        how = f"killed by signal {-proc.returncode}"
    elif proc.returncode != 0:
        how = f"exited with status {proc.returncode}"
    else:
        return proc
    raise WorkerFailed(f"crawl worker {how}; stderr tail:\n{_tail(proc.stderr)}")


def run_worker(
    argv: Sequence[str], payload: str, url: str, timeout_s: float
) -> CrawlResult:
    """Run ``argv`` with ``payload`` on stdin and parse a CrawlResult from its stdout."""
    try:
        proc = run_json_worker(argv, payload, timeout_s)
    except WorkerFailed as exc:
        return _failed(url, str(exc))
    try:
        result = result_from_json(proc.stdout)
    except (ValueError, TypeError) as exc:
        return _failed(url, f"crawl worker printed no valid result ({str(exc)[:200]}); "
                       f"stderr tail:\n{_tail(proc.stderr)}")
    if result.url != url:
        return _failed(url, f"crawl worker answered for another URL ({result.url!r}); "
                       f"stderr tail:\n{_tail(proc.stderr)}")
    return result


def crawl(
    request: CrawlRequest,
    evidence: EvidenceSpec,
    *,
    test_hosts: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> CrawlResult:
    """Crawl ``request.url`` in its own process, storing media in the ``evidence`` store
    (a directory, or S3 in the cluster profile).

    Raises only for a broken installation (e.g. an unreadable data key file), checked
    before the worker starts; whatever the site does ends up in ``CrawlResult.errors``.
    ``test_hosts`` replaces DNS with scripted answers (``spiders.pinning.scripted_resolver``),
    for tests only.
    """
    evidence.load_key()  # fail fast, here, on a missing or bad key file
    payload = json.dumps(
        {
            "request": request.to_dict(),
            "evidence": evidence.to_dict(),
            "test_hosts": dict(test_hosts or {}),
        }
    )
    return run_worker(
        WORKER, payload, request.url, request.crawl_timeout_s + WORKER_MARGIN_S
    )
