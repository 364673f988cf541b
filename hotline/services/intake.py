"""Filing reports: the one way a reported URL enters the catalog, whether one from
``hotline report add URL``, thousands from ``hotline report add --from FILE``, or a
partner's system through the HTTP intake (``review.intake_routes``).

Each entry is checked as the crawler would check it (``CrawlRequest``) and given its URL
identity (``spiders.urls.normalise_url``); what fails is refused with a reason and the rest
goes on. Entries are filed in batches of ``intake_batch_size``, one transaction each
(``ReportStore.add_reports``); a URL reported within ``intake_duplicate_window_days`` is
linked to the earlier report instead of being crawled again. Every intake is audited: each
report (``report.add``) and the intake itself (``report.intake``, with its counts).

A file is text, one URL per line (blank lines and ``#`` comments skipped), or CSV whose
header names its columns: ``url`` and any of ``pathway`` (URLs separated by spaces),
``user_agent``, ``reporter_ref``, ``received_at`` (ISO 8601; UTC when no offset is given),
``referer``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from catalog.catalog import Catalog
from catalog.reports.records import NewReport
from hotline.settings import Settings

MAX_REF = 200
COLUMNS = {"url": "url", "pathway": "pathway", "user_agent": "user_agent", "useragent": "user_agent",
           "reporter_ref": "reporter_ref", "reporter_reference": "reporter_ref", "reference": "reporter_ref",
           "received_at": "received_at", "received": "received_at", "received_time": "received_at",
           "referer": "referer", "referrer": "referer"}


@dataclass(frozen=True)
class IntakeEntry:
    """One reported URL as the reporter gave it, with where it came from (``line``)."""

    line: int
    url: str
    pathway: tuple[str, ...] = ()
    user_agent: str | None = None
    reporter_ref: str | None = None
    received_at: str | None = None
    referer: str | None = None


@dataclass(frozen=True)
class IntakeResult:
    """What became of one entry: ``added`` (report ``id``, to be crawled), ``linked``
    (report ``id`` filed linked to the earlier report ``linked_to``) or ``refused``
    (``reason``)."""

    line: int
    url: str
    status: str
    id: int | None = None
    linked_to: int | None = None
    reason: str | None = None


@dataclass
class IntakeSummary:
    """Counts of one intake, the entries linked or refused, and (``keep_results``) every result."""

    added: int = 0
    first_id: int | None = None
    last_id: int | None = None
    linked: list[IntakeResult] = field(default_factory=list)
    refused: list[IntakeResult] = field(default_factory=list)
    results: list[IntakeResult] = field(default_factory=list)  # every entry, when kept

    def counts(self) -> dict[str, int]:
        return {"added": self.added, "linked": len(self.linked), "refused": len(self.refused)}


class IntakeRefused(ValueError):
    """An entry that cannot be filed; the message is the reason."""


def read_entries(stream: IO[str]) -> Iterator[IntakeEntry | IntakeResult]:
    """The entries of a text or CSV file (CSV when its first line is a header naming
    ``url``); a CSV row that cannot be read is an ``IntakeResult`` refused."""
    first = stream.readline()
    header = [c.strip().lower().replace(" ", "_").replace("-", "_") for c in next(csv.reader([first]), [])]
    if "url" in header and (len(header) > 1 or first.strip().lower() == "url"):
        yield from _csv_entries(header, stream)
        return
    for number, line in enumerate(_chain(first, stream), start=1):
        text = line.strip()
        if text and not text.startswith("#"):
            yield IntakeEntry(line=number, url=text)


def _chain(first: str, rest: IO[str]) -> Iterator[str]:
    if first:
        yield first
    yield from rest


def _csv_entries(header: list[str], stream: IO[str]) -> Iterator[IntakeEntry | IntakeResult]:
    unknown = [c for c in header if c not in COLUMNS]
    names = [COLUMNS.get(c, "") for c in header]
    for number, row in enumerate(csv.reader(stream), start=2):
        if not row or not any(cell.strip() for cell in row):
            continue
        if unknown:
            yield IntakeResult(number, ",".join(row)[:200], "refused", reason=f"unknown CSV columns {unknown!r}")
            continue
        if len(row) > len(names):
            yield IntakeResult(number, ",".join(row)[:200], "refused",
                               reason=f"{len(row)} fields, the header names {len(names)}")
            continue
        values = {name: cell.strip() for name, cell in zip(names, row, strict=False) if cell.strip()}
        yield IntakeEntry(line=number, url=values.get("url", ""), pathway=tuple(values.get("pathway", "").split()),
                          user_agent=values.get("user_agent"), reporter_ref=values.get("reporter_ref"),
                          received_at=values.get("received_at"), referer=values.get("referer"))


def checked(entry: IntakeEntry, source: str, now: datetime) -> NewReport:
    """``entry`` as a report to file, or IntakeRefused with the reason."""
    from spiders import CrawlRequest, InvalidCrawlRequest
    from spiders.urls import normalise_url

    if not entry.url:
        raise IntakeRefused("no URL")
    try:  # refuses what the crawler would refuse, before it is filed
        replayed: dict[str, Any] = {"user_agent": entry.user_agent} if entry.user_agent else {}
        CrawlRequest(url=entry.url, referer=entry.referer, pathway=entry.pathway, **replayed)
    except InvalidCrawlRequest as exc:
        raise IntakeRefused(str(exc)) from None
    key = normalise_url(entry.url)
    if key is None:
        raise IntakeRefused(f"not a URL the crawler can fetch: {entry.url!r}")
    if entry.reporter_ref is not None and (len(entry.reporter_ref) > MAX_REF or not entry.reporter_ref.isprintable()):
        raise IntakeRefused(f"a reporter reference is one line of at most {MAX_REF} characters")
    return NewReport(url=entry.url, url_key=key, source=source, referer=entry.referer, pathway=entry.pathway,
                     user_agent=entry.user_agent, reporter_ref=entry.reporter_ref,
                     received_at=_received(entry.received_at, now))


def _received(value: str | None, now: datetime) -> datetime | None:
    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise IntakeRefused(f"received time is not ISO 8601: {value!r}") from None
    if at.tzinfo is not None:
        at = at.astimezone(UTC).replace(tzinfo=None)
    if at > now + timedelta(minutes=5):
        raise IntakeRefused(f"received time is in the future: {value!r}")
    return at


def file_reports(
    catalog: Catalog,
    entries: Iterable[IntakeEntry | IntakeResult],
    settings: Settings,
    *,
    actor: str,
    source: str = "public",
    via: str,
    again: bool = False,
    keep_results: bool = False,
) -> IntakeSummary:
    """File ``entries`` in batches (one transaction each); the summary says what became of
    them. ``again``: crawl even URLs reported within the duplicate window. ``via``: where the
    intake came from, for its audit entry (a file name, ``stdin``, ``http``)."""
    from catalog.db import utcnow

    window = None if again or settings.intake_duplicate_window_days == 0 else timedelta(
        days=settings.intake_duplicate_window_days)
    summary = IntakeSummary()
    batch: list[tuple[int, NewReport]] = []
    now = utcnow()
    for entry in entries:
        if isinstance(entry, IntakeResult):
            _note(summary, entry, keep_results)
            continue
        try:
            batch.append((entry.line, checked(entry, source, now)))
        except IntakeRefused as exc:
            _note(summary, IntakeResult(entry.line, entry.url[:200], "refused", reason=str(exc)), keep_results)
        if len(batch) >= settings.intake_batch_size:
            _file(catalog, batch, summary, actor=actor, window=window, keep_results=keep_results)
            batch = []
    _file(catalog, batch, summary, actor=actor, window=window, keep_results=keep_results)
    summary.results.sort(key=lambda r: r.line)  # refusals are noted before their batch is filed
    catalog.audit(actor, "report.intake", via, source=source, **summary.counts())
    return summary


def _file(catalog: Catalog, batch: list[tuple[int, NewReport]], summary: IntakeSummary, *, actor: str,
          window: timedelta | None, keep_results: bool) -> None:
    if not batch:
        return
    filed = catalog.add_reports([report for _line, report in batch], actor=actor, link_within=window)
    for (line, _report), report in zip(batch, filed, strict=True):
        status = "linked" if report.linked_to is not None else "added"
        _note(summary, IntakeResult(line, report.url, status, id=report.id, linked_to=report.linked_to), keep_results)


def _note(summary: IntakeSummary, result: IntakeResult, keep_results: bool) -> None:
    if result.status == "added":
        summary.added += 1
        assert result.id is not None
        summary.first_id = result.id if summary.first_id is None else min(summary.first_id, result.id)
        summary.last_id = result.id if summary.last_id is None else max(summary.last_id, result.id)
    elif result.status == "linked":
        summary.linked.append(result)
    else:
        summary.refused.append(result)
    if keep_results:
        summary.results.append(result)


def open_text(path: str) -> IO[str]:
    """The file at ``path`` (``-``: stdin) as text, read as it is filed: UTF-8, a BOM dropped,
    bad bytes replaced (a line with them is refused by the URL check, the others go on)."""
    import sys

    if path == "-":
        return io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8-sig", errors="replace", newline="")
    return open(path, encoding="utf-8-sig", errors="replace", newline="")  # noqa: SIM115 - the caller closes it
