"""Takedown notices e-mailed to abuse contacts (a hosting provider's abuse desk, or a
country's), for URLs no partner hotline is asked to act on.

Routing (``contact_for``): a URL goes to the most specific contact that covers it: a host
name (the media URL's host or a parent domain; the longest wins), else an IP network of the
media's address (the longest prefix wins), else the media's hosting country.

A notice is a plain-text e-mail that says only what the desk needs to act: the URLs to take
down, when each was first seen, which notice it is, a reference to quote, and the hotline's
contact. No media, no hashes, no verdict: a third party learns nothing beyond the URLs.
An escalated notice says so in its subject and is copied to the contact's ``escalate_to``.
When a confirmed change makes an item's verdict not exportable, the contact is sent a
withdrawal of the URLs it was told of, quoting the earlier notices; other verdict changes
mean nothing to a desk (it never hears a verdict) and are only recorded.

The outbox gives notices the guarantees it gives bundles (``exports.outbound``): the whole
message is written to ``<outbox>/abuse_<name>/<reference>.json`` before it is sent, recorded
on the export ledger once the mail server took it, and only then removed. A send the server
does not take (unreachable, refused) is audited (``abuse.send_failed``) and stays: the next
run sends the same message (same reference and Message-ID) before it composes a new one. A
run that dies after the server took a message and before recording it sends it once more:
at least once, never lost.
"""

from __future__ import annotations

import hashlib
import json
import smtplib
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from ipaddress import IPv4Network, IPv6Network, ip_address
from pathlib import Path
from urllib.parse import urlsplit

from catalog.catalog import Catalog
from catalog.db import utcnow
from catalog.exchange_ledger.records import AbuseLocation, CorrectionCandidate
from exports.errors import NoticeNotSent
from exports.outbound import exclusive, write_sidecar

ABUSE = "abuse:"


@dataclass(frozen=True)
class AbuseDesk:
    """An abuse contact and what it covers."""

    name: str
    email: str
    hosts: tuple[str, ...] = ()
    networks: tuple[IPv4Network | IPv6Network, ...] = ()
    countries: tuple[str, ...] = ()
    escalate_to: tuple[str, ...] = ()

    @property
    def destination(self) -> str:
        """Its name on the export ledger."""
        return ABUSE + self.name


@dataclass(frozen=True)
class SmtpServer:
    """The mail server notices are handed to."""

    host: str
    port: int
    security: str = "starttls"  # starttls | tls | none
    user: str | None = None
    password: str | None = None
    timeout_s: float = 120.0


@dataclass(frozen=True)
class NoticeSender:
    """Who the notices come from."""

    address: str
    country: str
    signature: str = ""
    renotice_hours: float = 0.0  # said in the notice: how often it comes again while the content stays up


@dataclass(frozen=True)
class NoticeResult:
    """What one run sent one contact."""

    contact: str  # abuse:<name>
    sent: list[str] = field(default_factory=list)  # references of the notices the server took
    urls: int = 0  # URLs they named
    withdrawn: list[str] = field(default_factory=list)  # references of withdrawals the server took
    failed: str | None = None  # why the mail server did not take the next one (it waits in the outbox)


@dataclass(frozen=True)
class _Pending:
    """An outbox sidecar: the whole message and what to record once it is sent."""

    reference: str
    destination: str
    sender: str
    to: list[str]
    cc: list[str]
    message: str  # RFC 5322, ASCII (quoted-printable body)
    items: list[tuple[str, int]]  # (SHA-256, verdict ID)
    locations: list[tuple[str, str, str]]  # (SHA-256, media URL, page URL)
    urls: int
    attempts: int = 0
    # verdict changes it tells (a withdrawal) or records alongside: (SHA-256, verdict ID, previous, verdict)
    corrections: list[tuple[str, int, str, str]] = field(default_factory=list)


def _host_match(host: str, pattern: str) -> bool:
    return host == pattern or host.endswith("." + pattern)


def contact_for(desks: Sequence[AbuseDesk], media_url: str, ip: str | None, country: str | None) -> AbuseDesk | None:
    """The contact for a URL: host name (longest suffix) before IP network (longest prefix)
    before hosting country; None when no contact covers it."""
    host = (urlsplit(media_url).hostname or "").lower().rstrip(".")
    by_host = [(len(p), d) for d in desks for p in d.hosts if host and _host_match(host, p)]
    if by_host:
        return max(by_host, key=lambda pair: pair[0])[1]
    try:
        address = ip_address(ip) if ip else None
    except ValueError:
        address = None
    by_net = [(n.prefixlen, d) for d in desks for n in d.networks
              if address is not None and address.version == n.version and address in n]
    if by_net:
        return max(by_net, key=lambda pair: pair[0])[1]
    if country:
        return next((d for d in desks if country.upper() in d.countries), None)
    return None


def route(desks: Sequence[AbuseDesk], locations: Sequence[AbuseLocation]) -> tuple[dict[str, list[AbuseLocation]],
                                                                                   list[AbuseLocation]]:
    """``locations`` by contact name, and those no contact covers."""
    routed: dict[str, list[AbuseLocation]] = {}
    unmatched: list[AbuseLocation] = []
    for loc in locations:
        desk = contact_for(desks, loc.media_url, loc.ip, loc.country)
        if desk is None:
            unmatched.append(loc)
        else:
            routed.setdefault(desk.name, []).append(loc)
    return routed, unmatched


@dataclass(frozen=True)
class NoticeLine:
    """A URL in a notice."""

    url: str
    first_seen: str  # YYYY-MM-DD HH:MM UTC
    notice: int
    escalated: bool


def compose(desk: AbuseDesk, sender: NoticeSender, reference: str, lines: Sequence[NoticeLine]) -> EmailMessage:
    """The notice e-mail: the URLs, when first seen, which notice, the reference, our contact."""
    escalated = any(line.escalated for line in lines)
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = (("ESCALATED: " if escalated else "") + f"Notice and takedown request {reference} "
                      f"from the internet hotline of {sender.country} ({len(lines)} URL{'s' if len(lines) != 1 else ''})")
    msg["From"] = sender.address
    msg["Reply-To"] = sender.address
    msg["To"] = desk.email
    if escalated and desk.escalate_to:
        msg["Cc"] = ", ".join(desk.escalate_to)
    msg["Date"] = format_datetime(utcnow().replace(tzinfo=UTC))
    msg["Message-ID"] = f"<{reference}@{sender.address.rsplit('@', 1)[1]}>"
    msg["Auto-Submitted"] = "auto-generated"
    again = (f"While it stays up we check it again and send a further notice every {sender.renotice_hours:g} hours."
             if sender.renotice_hours > 0 else "We check again whether it was removed.")
    body = [
        f"This is a notice and takedown request from the internet hotline of {sender.country}.",
        "",
        "Our analysts confirmed the content at the URLs below, hosted on your service, as illegal.",
        "Please remove it without viewing it, and reply to this message quoting the reference.",
        again,
        *(["", "This notice is escalated: the content is still up after earlier notices."] if escalated else []),
        "",
        f"Reference: {reference}",
        "",
    ]
    for line in lines:
        body += [f"URL: {line.url}", f"  first seen: {line.first_seen}",
                 f"  notice: {line.notice}" + (" (escalated)" if line.escalated else ""), ""]
    if sender.signature:
        body += ["-- ", sender.signature]
    msg.set_content("\n".join(body) + "\n", cte="quoted-printable")
    return msg


def send(server: SmtpServer, sender: str, recipients: Sequence[str], data: bytes) -> dict[str, tuple[int, bytes]]:
    """Hand ``data`` to the mail server; returns the recipients it refused while taking the
    message for others. Raises ``NoticeNotSent`` when it takes it for none."""
    try:
        if server.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(server.host, server.port, timeout=server.timeout_s,
                                                  context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(server.host, server.port, timeout=server.timeout_s)
        with smtp:
            if server.security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if server.user:
                smtp.login(server.user, server.password or "")
            return smtp.sendmail(sender, list(recipients), data)
    except (smtplib.SMTPException, OSError) as exc:  # OSError: refused, unreachable, timed out, TLS
        raise NoticeNotSent(f"mail server {server.host}:{server.port} did not take the notice: "
                            f"{type(exc).__name__}: {_said(exc)}") from exc


def _said(exc: BaseException) -> str:
    """What the server answered, as it said it (``554 refused``), else the error."""
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error
        return f"{exc.smtp_code} {text.decode(errors='replace') if isinstance(text, bytes) else text}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{who}: {code} {text.decode(errors='replace')}"
                         for who, (code, text) in exc.recipients.items())
    return str(exc)


def deliver_notices(
    catalog: Catalog,
    desk: AbuseDesk,
    locations: Sequence[AbuseLocation],
    *,
    outbox: Path,
    server: SmtpServer,
    sender: NoticeSender,
    actor: str,
    max_urls: int = 500,
) -> NoticeResult:
    """Send ``desk`` what it is owed among ``locations`` (the URLs routed to it, from
    ``Catalog.abuse_locations``): first the
    notices an earlier run left in the outbox, then one notice (``max_urls`` URLs at most
    each) of the URLs it was never told and of the items waiting for a re-notice
    (``request_renotices``), with every URL it was told of them. Never raises for a send
    the server does not take: it is audited, returned, and waits for the next run."""
    box = outbox / desk.destination.replace(":", "_")
    box.mkdir(parents=True, exist_ok=True)
    result = NoticeResult(desk.destination)
    with exclusive(box):
        for sidecar in sorted(box.glob("*.json"), key=lambda p: p.stat().st_mtime):
            result = _send_pending(catalog, server, sidecar, result, actor)
            if result.failed is not None:  # the server is down: new notices wait too
                return result
        # a changed verdict: a desk never hears a verdict, so only a withdrawal (the new verdict
        # is not exportable) is a message; the other changes are recorded with the next one. A
        # verdict of ours withdrawn for a second look is no message yet: the desk hears the
        # outcome (withdrawn if it is not illegal, nothing if it is)
        changed = [c for c in catalog.correction_candidates(desk.destination) if c.action != "withdrawal"]
        withdrawn = [c for c in changed if c.action == "retraction"]
        quiet = [(c.sha256, c.verdict_id, c.told_before, c.told) for c in changed
                 if c.action != "retraction"]
        if withdrawn:
            result = _send_withdrawal(catalog, box, desk, withdrawn, quiet, server, sender, result, actor)
            if result.failed is not None:
                return result
            quiet = []
        told = catalog.abuse_told(desk.destination, {loc.sha256 for loc in locations})
        again = catalog.open_notices(desk.destination)
        due: dict[str, list[AbuseLocation]] = {}  # by item: an item's URLs go in one notice
        for loc in locations:
            if (loc.sha256, loc.media_url, loc.page_url) not in told or loc.sha256 in again:
                due.setdefault(loc.sha256, []).append(loc)
        batch: list[list[AbuseLocation]] = []
        for item in due.values():
            if batch and sum(len({x.media_url for x in b}) for b in batch) + len(item) > max_urls:
                result = _send_new(catalog, box, desk, batch, again, server, sender, result, actor, quiet)
                if result.failed is not None:
                    return result
                batch, quiet = [], []
            batch.append(item)
        if batch:
            result = _send_new(catalog, box, desk, batch, again, server, sender, result, actor, quiet)
    return result


def _send_new(
    catalog: Catalog, box: Path, desk: AbuseDesk, batch: list[list[AbuseLocation]], again: dict[str, tuple[int, bool]],
    server: SmtpServer, sender: NoticeSender, result: NoticeResult, actor: str,
    quiet: list[tuple[str, int, str, str]],
) -> NoticeResult:
    reference = uuid.uuid4().hex
    lines: dict[str, NoticeLine] = {}
    for loc in (loc for item in batch for loc in item):
        notice, escalated = again.get(loc.sha256, (1, False))
        seen = f"{loc.first_seen:%Y-%m-%d %H:%M} UTC"
        before = lines.get(loc.media_url)
        if before is not None:  # the same URL seen on several pages, or serving several items
            seen = min(seen, before.first_seen)
            notice, escalated = max(notice, before.notice), escalated or before.escalated
        lines[loc.media_url] = NoticeLine(loc.media_url, seen, notice, escalated)
    msg = compose(desk, sender, reference, list(lines.values()))
    cc = list(desk.escalate_to) if msg["Cc"] else []
    pending = _Pending(
        reference=reference, destination=desk.destination, sender=sender.address, to=[desk.email], cc=cc,
        message=msg.as_bytes().decode("ascii"),
        items=list(dict.fromkeys((item[0].sha256, item[0].verdict_id) for item in batch)),
        locations=[(loc.sha256, loc.media_url, loc.page_url) for item in batch for loc in item],
        urls=len(lines), corrections=quiet)
    sidecar = box / f"{reference}.json"
    write_sidecar(sidecar, pending)  # the intent, before the message leaves
    return _send_pending(catalog, server, sidecar, result, actor)


def compose_withdrawal(desk: AbuseDesk, sender: NoticeSender, reference: str, earlier: Sequence[str],
                       urls: Sequence[str]) -> EmailMessage:
    """The e-mail that withdraws a request: the URLs, the notices that named them, our contact."""
    msg = EmailMessage(policy=SMTP)
    msg["Subject"] = (f"Withdrawn: notice and takedown request for {len(urls)} URL{'s' if len(urls) != 1 else ''} "
                      f"from the internet hotline of {sender.country} ({reference})")
    msg["From"] = sender.address
    msg["Reply-To"] = sender.address
    msg["To"] = desk.email
    msg["Date"] = format_datetime(utcnow().replace(tzinfo=UTC))
    msg["Message-ID"] = f"<{reference}@{sender.address.rsplit('@', 1)[1]}>"
    msg["References"] = " ".join(f"<{r}@{sender.address.rsplit('@', 1)[1]}>" for r in earlier)
    msg["Auto-Submitted"] = "auto-generated"
    body = [
        f"The internet hotline of {sender.country} withdraws its notice and takedown request for the URLs below:",
        "on review, our analysts no longer confirm the content there as illegal. No action is needed for them,",
        "and we will send no further notices about them.",
        "",
        f"Reference: {reference}",
        f"Earlier notices: {', '.join(earlier) if earlier else '-'}",
        "",
        *(f"URL: {url}" for url in urls),
        "",
    ]
    if sender.signature:
        body += ["-- ", sender.signature]
    msg.set_content("\n".join(body) + "\n", cte="quoted-printable")
    return msg


def _send_withdrawal(
    catalog: Catalog, box: Path, desk: AbuseDesk, withdrawn: Sequence[CorrectionCandidate],
    quiet: list[tuple[str, int, str, str]], server: SmtpServer, sender: NoticeSender, result: NoticeResult,
    actor: str,
) -> NoticeResult:
    reference = uuid.uuid4().hex
    shas = {c.sha256 for c in withdrawn}
    urls = sorted({url for sha, url, _ in catalog.abuse_told(desk.destination, shas)})
    earlier = list(dict.fromkeys(n.reference for n in catalog.abuse_notices(shas) if n.contact == desk.destination))
    msg = compose_withdrawal(desk, sender, reference, earlier, urls)
    pending = _Pending(
        reference=reference, destination=desk.destination, sender=sender.address, to=[desk.email], cc=[],
        message=msg.as_bytes().decode("ascii"), items=[], locations=[], urls=len(urls),
        corrections=[(c.sha256, c.verdict_id, c.told_before, c.told) for c in withdrawn] + quiet)
    sidecar = box / f"{reference}.json"
    write_sidecar(sidecar, pending)
    return _send_pending(catalog, server, sidecar, result, actor)


def _send_pending(
    catalog: Catalog, server: SmtpServer, sidecar: Path, result: NoticeResult, actor: str
) -> NoticeResult:
    """Send the notice ``sidecar`` holds, record it, remove it; or audit why not."""
    raw = json.loads(sidecar.read_text())
    pending = _Pending(**{**raw, "items": [tuple(i) for i in raw["items"]],
                          "locations": [tuple(loc) for loc in raw["locations"]],
                          "corrections": [tuple(c) for c in raw.get("corrections", [])]})
    if not catalog.export_recorded(pending.reference):  # else the run that sent it died before removing it
        data = pending.message.encode("ascii")
        try:
            refused = send(server, pending.sender, [*pending.to, *pending.cc], data)
        except NoticeNotSent as exc:
            write_sidecar(sidecar, replace(pending, attempts=pending.attempts + 1))
            catalog.audit(actor, "abuse.send_failed", pending.reference, destination=pending.destination,
                          to=pending.to, attempt=pending.attempts + 1, error=str(exc))
            return replace(result, failed=str(exc))
        catalog.record_export(
            bundle_id=pending.reference, destination=pending.destination, location=f"mailto:{pending.to[0]}",
            recipients=[*pending.to, *pending.cc], sha256=hashlib.sha256(data).hexdigest(), size=len(data),
            items=pending.items, actor=actor, locations=pending.locations, corrections=pending.corrections)
        if refused:  # taken for the desk, not for some of those copied
            catalog.audit(actor, "abuse.recipients_refused", pending.reference, destination=pending.destination,
                          refused=sorted(refused))
    sidecar.unlink()
    if not pending.items:  # a withdrawal names no item to take down
        return replace(result, withdrawn=[*result.withdrawn, pending.reference])
    return replace(result, sent=[*result.sent, pending.reference], urls=result.urls + pending.urls)

