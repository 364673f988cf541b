"""Re-check for takedown tracking: fetch the URLs of confirmed items again and say whether
the same item is still up, the content changed, or it was removed.

The fetch runs in a worker process like a crawl (``python -m spiders.worker`` with
``"mode": "recheck"``, its spider in ``spiders.recheck_spider``), under the same address guard, DNS pinning and limits, but stores
nothing: each body is hashed in memory and dropped. Each URL is fetched as the crawl saw
it: with the page it was found on as Referer (hotlink-protected hosts refuse media
without one) and the reporter's user agent when the report had one. Outcomes (``judge``):

- ``still-up``: the URL serves the same bytes (same SHA-256);
- ``changed``: it serves something else (other media, or no media at all);
- ``missing``: HTTP 404/410, or the host name does not exist (NXDOMAIN); it becomes
  ``removed`` once that many consecutive checks agree (the ``recheck_removed_after``
  setting; see ``catalog.reports.takedowns``);
- anything else (a refused connection, a failed or unanswered DNS lookup, a timeout, HTTP
  5xx or 403, a refused redirect) proves nothing either way: a server restarting or a DNS
  outage says nothing about the content. No row is written, and the reason is recorded on
  the report (stage ``recheck``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from catalog.reports.records import RecheckRecord, RecheckTarget
from spiders.errors import InvalidCrawlResult, WorkerFailed
from spiders.request import CrawlRequest
from spiders.runner import WORKER, WORKER_MARGIN_S, run_json_worker

if TYPE_CHECKING:
    from catalog.reports.store import ReportStore

RECHECK_STAGE = "recheck"


@dataclass(frozen=True)
class Observation:
    """What one fetch of a URL saw; ``sha256`` of the body when one arrived (no bytes)."""

    url: str
    checked_at: datetime
    http_status: int | None = None
    final_url: str | None = None
    sha256: str | None = None
    mime: str | None = None  # by magic bytes; None: not media
    error: str | None = None
    gone: bool = False  # 404/410, or the host name does not exist


@dataclass(frozen=True)
class RecheckSummary:
    """What a re-check run did."""

    targets: int
    still_up: int = 0
    changed: int = 0
    missing: int = 0  # gone at this check, not yet at enough consecutive ones
    removed: int = 0
    inconclusive: int = 0


NOT_FETCHED = "not checked: the re-check run stopped at its time limit"


def judge(
    target: RecheckTarget, seen: Observation | None, unseen: str = NOT_FETCHED
) -> tuple[RecheckRecord | None, str]:
    """The re-check row for ``target`` given what was ``seen`` (None: not fetched, for the
    reason ``unseen``), and a readable detail. No row when the observation proves nothing."""
    if seen is None:
        return None, unseen
    row = lambda outcome, detail: RecheckRecord(  # noqa: E731
        target.report_id, target.sha256, target.url, seen.checked_at, outcome, seen.http_status, detail
    )
    if seen.sha256 == target.sha256:
        detail = "same item served" + (f" at {seen.final_url}" if seen.final_url != target.url else "")
        return row("still-up", detail), detail
    if seen.gone:  # the catalog tells missing from removed by the checks before
        return row("missing", seen.error or "gone"), seen.error or "gone"
    if seen.sha256 is not None:
        what = f"other media ({seen.mime}, sha256 {seen.sha256[:16]})" if seen.mime else "no media any more"
        detail = f"{what}; HTTP {seen.http_status}"
        return row("changed", detail), detail
    return None, f"inconclusive: {seen.error}"


def observations_to_json(observations: Sequence[Observation]) -> str:
    return json.dumps([asdict(o) | {"checked_at": o.checked_at.isoformat()} for o in observations])


def observations_from_json(text: str) -> list[Observation]:
    data = json.loads(text)
    if not isinstance(data, list):
        raise InvalidCrawlResult("a re-check result must be a JSON list")
    try:
        return [Observation(**(d | {"checked_at": datetime.fromisoformat(d["checked_at"])})) for d in data]
    except (TypeError, KeyError, ValueError) as exc:
        raise InvalidCrawlResult(f"malformed re-check observation: {exc}") from None


def request_headers(target: RecheckTarget) -> dict[str, str]:
    """The headers a re-check of ``target`` sends beyond the crawl's own: Referer (the page
    the item was seen on, when it is another URL) and the reporter's User-Agent."""
    headers = {}
    if target.page_url and target.page_url != target.url:
        headers["Referer"] = target.page_url
    if target.user_agent:
        headers["User-Agent"] = target.user_agent
    return headers


def fetch_for_recheck(
    urls: Sequence[str],
    limits: CrawlRequest,
    *,
    headers: Mapping[str, Mapping[str, str]] | None = None,
    test_hosts: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> dict[str, Observation]:
    """Fetch ``urls`` in a worker process under ``limits`` (a CrawlRequest whose limits,
    not its URL, apply), each with its ``headers`` if any; returns what was seen per URL.
    Raises WorkerFailed (also for a worker that printed no valid result)."""
    if not urls:
        return {}
    payload = json.dumps({"mode": "recheck", "request": limits.to_dict(), "urls": list(urls),
                          "headers": {u: dict(h) for u, h in (headers or {}).items()},
                          "test_hosts": dict(test_hosts or {})})
    proc = run_json_worker(WORKER, payload, limits.crawl_timeout_s + WORKER_MARGIN_S)
    try:
        return {o.url: o for o in observations_from_json(proc.stdout)}
    except (ValueError, TypeError) as exc:
        raise WorkerFailed(f"re-check worker printed no valid result ({str(exc)[:200]})") from None


def recheck_confirmed(
    catalog: ReportStore,
    limits: Callable[[str], CrawlRequest],
    *,
    limit: int = 500,
    removed_after: int = 1,
    test_hosts: Mapping[str, Sequence[Sequence[str]]] | None = None,
) -> RecheckSummary:
    """Re-check up to ``limit`` URLs of confirmed items and record the outcomes;
    ``limits(url)`` gives the CrawlRequest (limits, allow-list) a fetch runs under; a URL
    counts as removed once ``removed_after`` consecutive checks found it gone."""
    targets = catalog.recheck_targets(limit)
    if not targets:
        return RecheckSummary(targets=0)
    urls = list(dict.fromkeys(t.url for t in targets))
    headers: dict[str, dict[str, str]] = {}
    for target in targets:  # a URL seen on several pages: the first one's headers
        headers.setdefault(target.url, request_headers(target))
    unseen = NOT_FETCHED
    try:
        seen = fetch_for_recheck(urls, limits(urls[0]), headers=headers, test_hosts=test_hosts)
    except WorkerFailed as exc:
        seen, unseen = {}, f"not checked: {exc}"[:2000]
    rows: list[RecheckRecord] = []
    inconclusive = 0
    for target in targets:
        row, detail = judge(target, seen.get(target.url), unseen)
        if row is None:
            inconclusive += 1
            catalog.record_report_error(target.report_id, RECHECK_STAGE, detail, url=target.url,
                                        sha256=target.sha256)
        else:
            rows.append(row)
    counts = dict.fromkeys(("still-up", "changed", "missing", "removed"), 0)
    for stored in catalog.record_rechecks(rows, removed_after=removed_after):
        counts[stored.outcome] += 1
    return RecheckSummary(len(targets), counts["still-up"], counts["changed"], counts["missing"], counts["removed"],
                          inconclusive)
