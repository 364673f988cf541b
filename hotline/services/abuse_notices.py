"""Takedown notices to the installation's abuse contacts: the wiring between the settings
(``abuse_contacts``, the mail server, the re-notice schedule), the partner registry (a
partner's countries are the partner's to notify) and ``exports.abuse_notices``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING

from catalog.db import utcnow
from exports.abuse_notices import AbuseDesk, NoticeResult, NoticeSender, SmtpServer, deliver_notices, route
from hotline.settings import Settings

if TYPE_CHECKING:
    from hotline.installation import Installation


def abuse_desks(settings: Settings) -> tuple[AbuseDesk, ...]:
    return tuple(AbuseDesk(name=c.name, email=c.email, hosts=c.hosts, networks=c.networks, countries=c.countries,
                           escalate_to=c.escalate_to) for c in settings.abuse_contacts)


def smtp_server(settings: Settings) -> SmtpServer:
    assert settings.smtp_host is not None  # the settings refuse abuse contacts without one
    return SmtpServer(host=settings.smtp_host, port=settings.smtp_port, security=settings.smtp_security,
                      user=settings.smtp_user,
                      password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
                      timeout_s=settings.smtp_timeout_s)


@dataclass(frozen=True)
class AbuseRun:
    """What one run sent each abuse contact, and how many URLs no contact covers."""

    results: list[NoticeResult] = field(default_factory=list)
    unmatched: int = 0  # URLs in countries no partner handles that no contact covers: routed by hand


def notify_abuse_contacts(inst: Installation, *, actor: str) -> AbuseRun:
    """Send every abuse contact the URLs routed to it that it was not told of, and again
    (``renotice_hours`` after the last notice, escalated past ``renotice_escalate_after``)
    those of items a later re-check still found up. A URL whose media is hosted in a country
    a registered partner handles is the partner's to notify, never a contact's. A contact
    whose mail server does not take its notice fails alone; its notice waits in the outbox."""
    s = inst.settings
    if not s.abuse_contacts:
        return AbuseRun()
    assert s.notice_from is not None  # the settings refuse abuse contacts without one
    desks = abuse_desks(s)
    if s.renotice_hours > 0:  # first, so that the URLs of items due again are read with the new ones
        for desk in desks:
            inst.catalog.request_renotices(desk.destination, actor=actor,
                                           older_than=utcnow() - timedelta(hours=s.renotice_hours),
                                           escalate_after=s.renotice_escalate_after)
    partnered = {c for p in inst.catalog.partners() for c in p.countries}
    routed, unmatched = route(desks, inst.catalog.abuse_locations(skip_countries=partnered))
    sender = NoticeSender(address=s.notice_from, country=s.country, signature=s.notice_signature,
                          renotice_hours=s.renotice_hours)
    server = smtp_server(s)
    results = [deliver_notices(inst.catalog, desk, routed.get(desk.name, []), outbox=s.outbox_dir, server=server,
                               sender=sender, actor=actor) for desk in desks]
    return AbuseRun(results, len({u.media_url for u in unmatched}))
