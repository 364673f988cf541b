"""Takedown notices e-mailed to abuse contacts where no partner hotline handles the hosting
country: routing (host, then network, then country; a partner's country stays the
partner's), what a notice says (URLs, first seen, reference, our contact; no hashes),
re-notices and escalation on the partners' schedule until a re-check finds the content
removed, a mail server that does not take a notice (audited, retried, no traceback), and
`report show`. Mail goes over TCP to a sink on 127.0.0.1; benign synthetic pictures only."""

from __future__ import annotations

import json
import time
from datetime import datetime
from ipaddress import ip_network
from pathlib import Path

import pytest
from exchange_support import confirmed_item, make_installation, register
from pydantic import ValidationError
from smtp_sink import smtp_sink
from typer.testing import CliRunner

from catalog.db import utcnow
from catalog.exchange_ledger.records import AbuseLocation
from catalog.reports.records import RecheckRecord
from exports.abuse_notices import AbuseDesk, NoticeSender, contact_for, deliver_notices, route
from hotline.cli import app, output
from hotline.demo.local_site import synthetic_image, unused_port
from hotline.installation import Installation
from hotline.services.abuse_notices import abuse_desks, notify_abuse_contacts, smtp_server
from hotline.settings import Settings

HOST_DESK = {"name": "a-hosting", "email": "abuse@a-hosting.test", "hosts": ["a.example"],
             "escalate_to": ["noc@a-hosting.test"]}
NET_DESK = {"name": "net-hosting", "email": "abuse@net-hosting.test", "networks": ["192.0.2.0/24"]}
COUNTRY_DESK = {"name": "fr-abuse", "email": "signal@fr-abuse.test", "countries": ["FR"]}


def _ours(tmp_path: Path, port: int, **settings: object) -> Installation:
    values: dict[str, object] = dict(
        abuse_contacts=[HOST_DESK, NET_DESK, COUNTRY_DESK], smtp_host="127.0.0.1", smtp_port=port,
        smtp_security="none", notice_from="notices@hotline-nl.test", notice_signature="Hotline NL, +31 20 000 0000",
        renotice_hours=0.000002, renotice_escalate_after=2)
    return make_installation(tmp_path, "nl", "NL", **{**values, **settings})


def _recheck(inst: Installation, sha: str, url: str, outcome: str) -> None:
    time.sleep(0.02)  # later than the last notice, and the (milliseconds) re-notice interval passes
    inst.catalog.record_rechecks([RecheckRecord(None, sha, url, utcnow(), outcome, 200)])
    time.sleep(0.02)


def _desks() -> list[AbuseDesk]:
    return [AbuseDesk("cdn", "a@cdn.test", hosts=("example.com",)),
            AbuseDesk("img", "a@img.test", hosts=("img.example.com",)),
            AbuseDesk("wide", "a@wide.test", networks=(ip_network("198.51.0.0/16"),)),
            AbuseDesk("narrow", "a@narrow.test", networks=(ip_network("198.51.100.0/24"),),
                      countries=("DE",)),
            AbuseDesk("v6", "a@v6.test", networks=(ip_network("2001:db8::/32"),))]


def test_the_most_specific_contact_wins() -> None:
    desks = _desks()

    def name(url: str, ip: str | None, country: str | None) -> str | None:
        desk = contact_for(desks, url, ip, country)
        return desk.name if desk else None

    assert name("http://a.img.example.com/x.jpg", "198.51.100.1", "DE") == "img"  # the longer host suffix
    assert name("http://Example.COM./x.jpg", "198.51.100.1", "DE") == "cdn"
    assert name("http://notexample.com/x.jpg", "198.51.100.1", "DE") == "narrow"  # a suffix is a whole label
    assert name("http://other.test/x.jpg", "198.51.7.1", "DE") == "wide"  # the network before the country
    assert name("http://other.test/x.jpg", "203.0.113.1", "de") == "narrow"  # the country last
    assert name("http://[2001:db8::1]/x.jpg", "2001:db8::1", None) == "v6"
    assert name("http://other.test/x.jpg", "not an address", "US") is None
    loc = AbuseLocation("0" * 64, 1, "http://other.test/x.jpg", "http://other.test/", None, None, datetime(2026, 1, 1))
    assert route(desks, [loc]) == ({}, [loc])


def test_contacts_are_configured_in_the_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HOTLINE_CONFIG", raising=False)
    config = tmp_path / "hotline.toml"
    config.write_text('smtp_host = "mail.hotline.test"\nnotice_from = "notices@hotline.test"\n'
                      '[[abuse_contacts]]\nname = "a-hosting"\nemail = "abuse@a-hosting.test"\n'
                      'hosts = [".A.example"]\nnetworks = ["192.0.2.0/24", "2001:db8::/32"]\n')
    monkeypatch.setenv("HOTLINE_CONFIG", str(config))
    (contact,) = Settings().abuse_contacts
    assert contact.hosts == ("a.example",) and [str(n) for n in contact.networks] == ["192.0.2.0/24", "2001:db8::/32"]
    monkeypatch.delenv("HOTLINE_CONFIG")
    monkeypatch.setenv("HOTLINE_ABUSE_CONTACTS", json.dumps([COUNTRY_DESK]))
    assert Settings(smtp_host="m.test", notice_from="n@h.test").abuse_contacts[0].countries == ("FR",)
    with pytest.raises(ValidationError, match="need smtp_host and notice_from"):
        Settings()
    monkeypatch.delenv("HOTLINE_ABUSE_CONTACTS")
    ok = dict(smtp_host="m.test", notice_from="n@h.test")
    for contacts, why in [([{"name": "x", "email": "abuse@x.test"}], "names no hosts"),
                          ([{"name": "X Y", "email": "abuse@x.test", "countries": ["FR"]}], "lower-case"),
                          ([{"name": "x", "email": "nobody", "countries": ["FR"]}], "not an e-mail address"),
                          ([{"name": "x", "email": "a@x.test", "networks": ["192.0.2.1/24"]}], "not a valid IPv4 network"),
                          ([COUNTRY_DESK, COUNTRY_DESK], "unique")]:
        with pytest.raises(ValidationError, match=why):
            Settings(abuse_contacts=contacts, **ok)


def test_notices_go_to_the_contact_of_each_host_until_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog_url: str
) -> None:
    with smtp_sink() as sink:
        ours = _ours(tmp_path, sink.port, catalog_url=catalog_url)
        theirs = make_installation(tmp_path, "at", "AT")
        register(ours, theirs, "at-hotline", countries=["AT"])
        by_host = confirmed_item(ours, synthetic_image(1), page_url="http://a.example/gallery", country="DE")
        by_net = confirmed_item(ours, synthetic_image(2), page_url="http://b.example/page", country="DE")
        by_country = confirmed_item(ours, synthetic_image(3), page_url="http://c.example/", country="FR",
                                    ip="198.51.100.9")
        partners = confirmed_item(ours, synthetic_image(4), page_url="http://a.example/at", country="AT")
        nobody = confirmed_item(ours, synthetic_image(5), page_url="http://d.example/", country="US",
                                ip="203.0.113.5")

        run = notify_abuse_contacts(ours, actor="test")
        assert [(r.contact, len(r.sent), r.urls, r.failed) for r in run.results] == [
            ("abuse:a-hosting", 1, 1, None), ("abuse:net-hosting", 1, 1, None), ("abuse:fr-abuse", 1, 1, None)]
        assert run.unmatched == 1  # the US address: no partner, no contact
        assert {m.rcpt_to[0] for m in sink.messages} == {"abuse@a-hosting.test", "abuse@net-hosting.test",
                                                         "signal@fr-abuse.test"}
        first = next(m for m in sink.messages if m.rcpt_to == ["abuse@a-hosting.test"])
        mail = first.message
        text = mail.get_content()
        reference = run.results[0].sent[0]
        assert mail["From"] == "notices@hotline-nl.test" and mail["Message-ID"] == f"<{reference}@hotline-nl.test>"
        assert reference in mail["Subject"] and "ESCALATED" not in mail["Subject"] and mail["Cc"] is None
        assert f"URL: http://a.example/gallery/{by_host[:8]}.jpg" in text and "notice: 1" in text
        assert "Hotline NL, +31 20 000 0000" in text and f"Reference: {reference}" in text
        for sha in (by_host, by_net, by_country, partners, nobody):  # no hashes, in no form, in any mail
            assert all(sha not in m.data.decode() for m in sink.messages)
        assert all(f"/{partners[:8]}.jpg" not in m.data.decode() for m in sink.messages)  # the partner's to notify
        assert len(ours.catalog.audit_entries(action="export.deliver")) == 3

        assert [len(r.sent) for r in notify_abuse_contacts(ours, actor="test").results] == [0, 0, 0]  # told once
        url = f"http://a.example/gallery/{by_host[:8]}.jpg"
        _recheck(ours, by_host, url, "still-up")
        assert [len(r.sent) for r in notify_abuse_contacts(ours, actor="test").results] == [1, 0, 0]
        assert "notice: 2" in sink.messages[-1].message.get_content() and url in sink.messages[-1].message.get_content()
        _recheck(ours, by_host, url, "still-up")
        notify_abuse_contacts(ours, actor="test")
        escalated = sink.messages[-1]
        assert escalated.rcpt_to == ["abuse@a-hosting.test", "noc@a-hosting.test"]
        assert escalated.message["Subject"].startswith("ESCALATED: ") and escalated.message["Cc"] == "noc@a-hosting.test"
        assert "notice: 3 (escalated)" in escalated.message.get_content()
        assert [(e.subject, e.detail["destination"]) for e in ours.catalog.audit_entries(action="takedown.escalate")] \
            == [(by_host, "abuse:a-hosting")]

        _recheck(ours, by_host, url, "removed")  # taken down: no more notices
        sent = len(sink.messages)
        notify_abuse_contacts(ours, actor="test")
        assert len(sink.messages) == sent

    report_id = 1  # by_host was reported first
    env = {"HOTLINE_DATA_DIR": str(ours.settings.data_dir), "HOTLINE_CATALOG_URL": catalog_url}
    shown = CliRunner().invoke(app, ["report", "show", str(report_id), "--json"],
                               env=env)
    assert shown.exit_code == 0, shown.output
    notices = json.loads(shown.stdout)["abuse_notices"]
    assert [(n["contact"], n["to"], n["notice"], n["escalated"], n["urls"]) for n in notices] == [
        ("abuse:a-hosting", ["abuse@a-hosting.test"], 1, False, [url]),
        ("abuse:a-hosting", ["abuse@a-hosting.test"], 2, False, [url]),
        ("abuse:a-hosting", ["abuse@a-hosting.test", "noc@a-hosting.test"], 3, True, [url])]
    assert notices[0]["reference"] == reference
    monkeypatch.setattr(output.console, "width", 400)  # one table row a line
    text = CliRunner().invoke(app, ["report", "show", str(report_id)], env=env).stdout
    assert "e-mailed to abuse contacts" in text and reference in text
    ours.close()
    theirs.close()


def test_a_notice_the_mail_server_does_not_take_is_recorded_and_sent_again(tmp_path: Path) -> None:
    with smtp_sink() as sink:
        sink.refuse = True
        ours = _ours(tmp_path, sink.port, abuse_contacts=[HOST_DESK])
        sha = confirmed_item(ours, synthetic_image(1), page_url="http://a.example/gallery", country="DE")
        (result,) = notify_abuse_contacts(ours, actor="test").results
        assert result.sent == [] and "554 refused by the test" in (result.failed or "")
        (failure,) = ours.catalog.audit_entries(action="abuse.send_failed")
        assert failure.detail["attempt"] == 1 and failure.detail["to"] == ["abuse@a-hosting.test"]
        assert ours.catalog.abuse_told("abuse:a-hosting", [sha]) == set() and sink.messages == []

        sink.refuse = False  # the server takes it now: the same notice, not a second one
        (result,) = notify_abuse_contacts(ours, actor="test").results
        assert result.sent == [failure.subject] and result.failed is None
        (mail,) = sink.messages
        assert mail.message["Message-ID"] == f"<{failure.subject}@hotline-nl.test>"
        assert list((ours.settings.outbox_dir / "abuse_a-hosting").glob("*.json")) == []
        assert ours.catalog.abuse_told("abuse:a-hosting", [sha]) == {
            (sha, f"http://a.example/gallery/{sha[:8]}.jpg", "http://a.example/gallery")}
        assert notify_abuse_contacts(ours, actor="test").results[0].sent == []
    ours.close()


def test_a_notice_recorded_by_a_run_that_died_before_clearing_the_outbox_is_not_sent_again(tmp_path: Path) -> None:
    with smtp_sink() as sink:
        sink.refuse = True  # leaves the notice in the outbox
        ours = _ours(tmp_path, sink.port, abuse_contacts=[HOST_DESK])
        confirmed_item(ours, synthetic_image(1), page_url="http://a.example/gallery", country="DE")
        assert notify_abuse_contacts(ours, actor="test").results[0].failed
        (sidecar,) = (ours.settings.outbox_dir / "abuse_a-hosting").glob("*.json")
        pending = json.loads(sidecar.read_text())
        # as a run that got the notice through and recorded it, then died before removing it
        ours.catalog.record_export(bundle_id=pending["reference"], destination="abuse:a-hosting",
                                   location="mailto:abuse@a-hosting.test", recipients=pending["to"],
                                   sha256="0" * 64, size=1, items=[tuple(i) for i in pending["items"]],
                                   locations=[tuple(loc) for loc in pending["locations"]], actor="test")
        sink.refuse = False
        (result,) = notify_abuse_contacts(ours, actor="test").results
        assert result.sent == [pending["reference"]] and sink.messages == [] and not sidecar.exists()
    ours.close()


def test_a_long_list_goes_in_several_notices_an_items_urls_together(tmp_path: Path) -> None:
    with smtp_sink() as sink:
        ours = _ours(tmp_path, sink.port, abuse_contacts=[HOST_DESK])
        shas = [confirmed_item(ours, synthetic_image(n), page_url=f"http://a.example/{n}", country="DE")
                for n in range(3)]
        desk = abuse_desks(ours.settings)[0]
        result = deliver_notices(ours.catalog, desk, ours.catalog.abuse_locations(), outbox=ours.settings.outbox_dir,
                                 server=smtp_server(ours.settings), max_urls=2, actor="test",
                                 sender=NoticeSender("notices@hotline-nl.test", "NL"))
        assert (len(result.sent), result.urls) == (2, 3)
        assert [m.message.get_content().count("URL: ") for m in sink.messages] == [2, 1]
        assert [len(ours.catalog.abuse_told(desk.destination, [s])) for s in shas] == [1, 1, 1]
    ours.close()


def test_an_unreachable_mail_server_fails_that_contact_alone(tmp_path: Path) -> None:
    ours = _ours(tmp_path, unused_port())  # nothing listens there
    confirmed_item(ours, synthetic_image(1), page_url="http://a.example/gallery", country="DE")
    results = notify_abuse_contacts(ours, actor="test").results
    assert [(r.contact, r.sent) for r in results] == [("abuse:a-hosting", []), ("abuse:net-hosting", []),
                                                       ("abuse:fr-abuse", [])]
    assert "ConnectionRefusedError" in (results[0].failed or "") and results[1].failed is None
    assert len(list((ours.settings.outbox_dir / "abuse_a-hosting").glob("*.json"))) == 1
    assert len(ours.catalog.audit_entries(action="abuse.send_failed")) == 1
    ours.close()


@pytest.mark.usefixtures("prefect_server")
def test_the_export_partners_flow_notifies_abuse_contacts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.export_partners import export_partners

    with smtp_sink() as sink:
        ours = make_installation(tmp_path, "nl", "NL")
        theirs = make_installation(tmp_path, "at", "AT")
        register(ours, theirs, "at-hotline", countries=["AT"])
        confirmed_item(ours, synthetic_image(30), page_url="http://n.example/", country="AT")
        confirmed_item(ours, synthetic_image(31), page_url="http://a.example/", country="DE")
        for key, value in {"DATA_DIR": str(ours.settings.data_dir), "COUNTRY": "NL", "SMTP_HOST": "127.0.0.1",
                           "SMTP_PORT": str(sink.port), "SMTP_SECURITY": "none",
                           "NOTICE_FROM": "notices@hotline-nl.test",
                           "ABUSE_CONTACTS": json.dumps([HOST_DESK])}.items():
            monkeypatch.setenv(f"HOTLINE_{key}", value)
        sent = export_partners()
        assert sent["items"] == 1  # the partner's bundle, as before
        (contact,) = sent["abuse_notices"]["contacts"]
        assert (contact["contact"], len(contact["sent"]), contact["urls"]) == ("abuse:a-hosting", 1, 1)
        (mail,) = sink.messages
        assert mail.rcpt_to == ["abuse@a-hosting.test"] and "http://a.example/" in mail.message.get_content()
        again = CliRunner().invoke(app, ["export", "partners"])  # the command runs the same flow
        assert again.exit_code == 0, again.output
        assert "0 notice(s), 0 URL(s), e-mailed to abuse:a-hosting" in again.stdout and len(sink.messages) == 1
    ours.close()
    theirs.close()


def test_a_retracted_item_is_withdrawn_from_the_contacts_told_of_it(tmp_path: Path) -> None:
    from people import reviewers

    from catalog.decisions.records import Verdict
    from classification.review import confirm, set_by_hand
    from hotline.installation import review_config

    with smtp_sink() as sink:
        ours = _ours(tmp_path, sink.port, abuse_contacts=[HOST_DESK, COUNTRY_DESK])
        reviewers(ours.catalog)
        wrong = confirmed_item(ours, synthetic_image(1), page_url="http://a.example/gallery", country="DE")
        regraded = confirmed_item(ours, synthetic_image(2), page_url="http://a.example/other", country="DE")
        elsewhere = confirmed_item(ours, synthetic_image(3), page_url="http://c.example/", country="FR",
                                   ip="198.51.100.9")
        first = notify_abuse_contacts(ours, actor="test").results
        assert [len(r.sent) for r in first] == [1, 1]
        reference = first[0].sent[0]
        config = review_config(ours.settings)
        for sha, verdict, why in [(wrong, Verdict.NOT_ILLEGAL, "an adult: ID documents seen"),
                                  (regraded, Verdict.NATIONAL, "not baseline after all")]:
            changed = set_by_hand(ours.catalog, config, sha, verdict, "sam", why)
            ours.catalog.record_reveal("sue", sha)
            confirm(ours.catalog, changed, "sue")
        before = len(sink.messages)

        results = notify_abuse_contacts(ours, actor="test").results
        assert [(r.contact, r.sent, len(r.withdrawn)) for r in results] == [("abuse:a-hosting", [], 1),
                                                                            ("abuse:fr-abuse", [], 0)]
        (mail,) = sink.messages[before:]  # one withdrawal, to the desk told of it; none for the re-graded item
        text = mail.message.get_content()
        assert mail.rcpt_to == ["abuse@a-hosting.test"] and mail.message["Subject"].startswith("Withdrawn: ")
        assert f"URL: http://a.example/gallery/{wrong[:8]}.jpg" in text and f"/{regraded[:8]}.jpg" not in text
        assert reference in text and f"<{reference}@hotline-nl.test>" in mail.message["References"]
        assert wrong not in mail.data.decode() and "not-illegal" not in mail.data.decode()  # no hash, no verdict
        assert [(c["destination"], c["action"]) for c in ours.catalog.corrections_of(wrong)] == [
            ("abuse:a-hosting", "retraction")]
        assert [(c["destination"], c["action"]) for c in ours.catalog.corrections_of(regraded)] == [
            ("abuse:a-hosting", "correction")]  # recorded with the withdrawal, told nothing
        assert ours.catalog.corrections_of(elsewhere) == []
        assert [len(r.sent) + len(r.withdrawn) for r in notify_abuse_contacts(ours, actor="test").results] == [0, 0]
    ours.close()
