"""Destinations register themselves by URL scheme: a destination defined in this file only
(``toy://``, bundles kept in a dict) takes a partner's bundles through the normal export
path, and the partner polls them from it; locations no destination takes are refused."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from exchange_support import confirmed_item, make_installation, register

from exports import (
    DeliveryConflict,
    DestinationOptions,
    LocalDirectoryDrop,
    destination_for,
    register_destination,
    write_bundle,
)
from exports.destinations import check_bundle_file, check_bundle_name
from exports.key_files import generate_encryption_key, generate_signing_key
from hotline.demo.local_site import synthetic_image
from hotline.services.partner_exchange import export_to_partner, poll_inbound

BOXES: dict[str, dict[str, bytes]] = {}  # toy://<box> -> bundle name -> bytes


@dataclass(frozen=True)
class ToyDrop:
    """Bundles in ``BOXES[box]``, in the order they came."""

    box: str

    @classmethod
    def from_location(cls, where: str, options: DestinationOptions) -> ToyDrop:
        return cls(where.removeprefix("toy://").strip("/"))

    def deliver(self, path: Path, name: str) -> str:
        check_bundle_file(path)
        data, there = path.read_bytes(), BOXES.setdefault(self.box, {})
        if there.get(check_bundle_name(name), data) != data:
            raise DeliveryConflict(f"{self.locate(name)!r} already exists with different content")
        there[name] = data
        return self.locate(name)

    def exists(self, name: str) -> bool:
        return name in BOXES.get(self.box, {})

    def locate(self, name: str) -> str:
        return f"toy://{self.box}/{name}"

    def list_bundles(self) -> list[str]:
        return list(BOXES.get(self.box, {}))

    def fetch(self, name: str, into: Path) -> Path:
        into.write_bytes(BOXES[self.box][name])
        return into


register_destination("toy", ToyDrop.from_location)


def test_a_destination_registered_here_takes_a_real_export_and_the_partner_polls_it(tmp_path: Path) -> None:
    ours = make_installation(tmp_path, "nl", "NL")
    theirs = make_installation(tmp_path, "at", "AT", inbound="toy://at-inbox")
    register(ours, theirs, "at-hotline", countries=["AT"], destination="toy://at-inbox")
    register(theirs, ours, "nl-hotline", countries=["NL"])
    confirmed_item(ours, synthetic_image(1), page_url="http://a.example/", country="AT")

    (sent,) = export_to_partner(ours, "at-hotline", actor="test")
    name = f"hotline-{sent.bundle_id}.hlb"
    assert sent.location == f"toy://at-inbox/{name}" and list(BOXES["at-inbox"]) == [name]
    assert [e.location for e in ours.catalog.exports()] == [sent.location]  # the ledger names it
    assert export_to_partner(ours, "at-hotline", actor="test") == []

    polled = poll_inbound(theirs, actor="test")
    assert polled.refused == [] and [r.items for r in polled.imported] == [1]
    assert [e.location for e in theirs.catalog.inbound()] == [sent.location]
    ours.close()
    theirs.close()


def test_locations_by_scheme(tmp_path: Path) -> None:
    assert destination_for(str(tmp_path)) == LocalDirectoryDrop(tmp_path)
    assert destination_for(f"file://{tmp_path}") == LocalDirectoryDrop(tmp_path)
    assert destination_for(f"file:{tmp_path}") == LocalDirectoryDrop(tmp_path)
    assert destination_for("toy://box") == ToyDrop("box")
    with pytest.raises(ValueError, match=r"no destination is registered for 'ftp:' \(known: file:, s3:, toy:"):
        destination_for("ftp://example.org/drop")
    with pytest.raises(ValueError, match="not a file: URL of a local directory"):
        destination_for("file://elsewhere/drop")
    with pytest.raises(ValueError, match="registered already"):
        register_destination("toy", LocalDirectoryDrop.from_location)


def test_a_file_url_delivers_like_its_path(tmp_path: Path) -> None:
    bundle = tmp_path / "b.hlb"
    with bundle.open("wb") as out:
        write_bundle(out, {"note": "benign test data"}, [], sender=generate_signing_key(),
                     recipients=[generate_encryption_key().public_key()])
    (tmp_path / "drop").mkdir()
    where = destination_for(f"file://{tmp_path / 'drop'}").deliver(bundle, "hotline-b.hlb")
    assert where == str(tmp_path / "drop" / "hotline-b.hlb") and Path(where).read_bytes() == bundle.read_bytes()
