"""Handled lists: what a hotline investigates and decided, told to one partner as keyed hashes.

A list names URLs (normalised by the sender, ``spiders.urls.normalise_url``) and the SHA-256s
of decided items, each only as HMAC-SHA256 under the *partnership key*, cut to 16 bytes. The
recipient computes the same HMAC over its own URLs and items and looks them up: it learns
that a partner handles something only for what it already has itself, and nobody else
(who has neither private key) can test anything against the list.

The partnership key needs no secret of its own: it is X25519 between one side's receiving
(inbox) private key and the other's registered receiving public key, which both sides hold
already, through HKDF-SHA256 with the two public keys in a fixed order as salt. Either side
computes the same 32 bytes; a key rotation gives a new key with no exchange, and a list says
which two public keys it was made with (``key_agreement``), so a recipient whose partner
registration is out of date refuses it instead of matching nothing silently. A key written
into both sides' configuration would have to be made, sent and kept secret on its own, and
would outlive the keys it was meant to go with.

The list travels as a bundle of kind ``hotline.handled/1`` (encrypted to the partner, signed)
with the attached file ``handled.parquet``: columns ``kind`` (``url`` | ``media``), ``digest``
(32 hex digits), ``case`` (the sender's report ID), ``state`` (a URL's report status),
``verdict`` (an item's), ``since`` (UTC timestamp), and ``grading`` (an item's grading as
JSON text: the attributes the sender's analysts recorded and the verdict was derived from,
null when the verdict was set by hand). A list without the ``grading`` column (from a sender
before it was added) is read with none: its items are shown, and decide nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from exports.errors import BundleMalformed
from exports.key_files import fingerprint, raw_public_bytes

HANDLED_KIND = "hotline.handled/1"
HANDLED_FILE = "handled.parquet"
HKDF_INFO = b"hotline-handled-list/v1"
DIGEST_BYTES = 16
KINDS = ("url", "media")
COLUMNS = ("kind", "digest", "case", "state", "verdict", "since")
GRADING_COLUMN = "grading"  # optional: lists from senders before it carry none
GRADING_KEYS = ("age_group", "genders", "depiction", "sexual_activity", "genital_focus", "severity",
                "self_generated", "tags")
_GRADING_MAX = 2_000  # characters of a grading's JSON text: attributes, not documents


@dataclass(frozen=True)
class ListEntry:
    """One line of a handled list: a keyed hash and what the sender says of it."""

    kind: str  # url | media
    digest: str  # 32 hex digits
    case: str | None
    state: str | None  # url: the sender's report status
    verdict: str | None  # media: the sender's verdict
    since: datetime
    grading: Mapping[str, object] | None = None  # media: the grading the verdict was derived from


def partnership_key(ours: X25519PrivateKey, theirs: X25519PublicKey) -> bytes:
    """The key both sides of a partnership compute: X25519(ours, theirs) through HKDF-SHA256,
    salted with both public keys in byte order (so neither side's role changes it)."""
    pair = sorted((raw_public_bytes(ours.public_key()), raw_public_bytes(theirs)))
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=pair[0] + pair[1], info=HKDF_INFO).derive(
        ours.exchange(theirs))


def key_agreement(ours: X25519PrivateKey, theirs: X25519PublicKey) -> dict[str, str]:
    """What a list says of the keys it was made with (fingerprints, sender's first)."""
    return {"sender_key": fingerprint(ours.public_key()), "recipient_key": fingerprint(theirs)}


def keyed_digest(key: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 of ``kind`` and ``value`` under ``key``, cut to 16 bytes, in hex. A URL
    must be normalised first; an item is its lowercase SHA-256 hex."""
    return hmac.new(key, kind.encode() + b"\x00" + value.encode(), hashlib.sha256).digest()[:DIGEST_BYTES].hex()


def to_parquet(entries: Iterable[ListEntry]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = list(entries)
    table = pa.table({
        "kind": pa.array([e.kind for e in rows], pa.string()).dictionary_encode(),
        "digest": pa.array([bytes.fromhex(e.digest) for e in rows], pa.binary(DIGEST_BYTES)),
        "case": pa.array([e.case for e in rows], pa.string()),
        "state": pa.array([e.state for e in rows], pa.string()),
        "verdict": pa.array([e.verdict for e in rows], pa.string()),
        "since": pa.array([e.since for e in rows], pa.timestamp("s")),
        GRADING_COLUMN: pa.array([None if e.grading is None else json.dumps(dict(e.grading), sort_keys=True)
                                  for e in rows], pa.string()),
    })
    out = io.BytesIO()
    pq.write_table(table, out, compression="zstd")
    return out.getvalue()


def from_parquet(data: bytes, bundle_id: str) -> list[ListEntry]:
    """The entries of a received list, checked: a partner's list is untrusted input."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(io.BytesIO(data))
    except (pa.ArrowInvalid, OSError) as exc:
        raise BundleMalformed(f"bundle {bundle_id!r}: {HANDLED_FILE} is not Parquet: {exc}") from exc
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise BundleMalformed(f"bundle {bundle_id!r}: {HANDLED_FILE} lacks columns {missing!r}")
    entries: list[ListEntry] = []
    wanted = [*COLUMNS, *([GRADING_COLUMN] if GRADING_COLUMN in table.column_names else [])]
    for n, row in enumerate(table.select(wanted).to_pylist()):
        digest, since = row["digest"], row["since"]
        if row["kind"] not in KINDS or not isinstance(digest, bytes) or len(digest) != DIGEST_BYTES \
                or not isinstance(since, datetime):
            raise BundleMalformed(f"bundle {bundle_id!r}: {HANDLED_FILE} row {n} is not a list entry: {row!r:.200}")
        entries.append(ListEntry(row["kind"], digest.hex(), _short(row["case"]), _short(row["state"]),
                                 _short(row["verdict"]), since.replace(tzinfo=None),
                                 _grading(row.get(GRADING_COLUMN), bundle_id, n)))
    return entries


def _grading(text: object, bundle_id: str, n: int) -> dict[str, object] | None:
    """A row's grading: a JSON object of the known attribute names, or None. Its values are
    checked where they are used (``classification.partner``): a value our profiles do not
    know sends the item to review, it does not refuse the partner's whole list."""
    if text is None:
        return None
    try:
        value = json.loads(str(text)) if len(str(text)) <= _GRADING_MAX else None
    except ValueError:
        value = None
    if not isinstance(value, dict) or not set(value) <= set(GRADING_KEYS):
        raise BundleMalformed(f"bundle {bundle_id!r}: {HANDLED_FILE} row {n} has no grading object: {text!r:.200}")
    return value


def _short(value: object) -> str | None:
    return None if value is None else str(value)[:64]


def check_agreement(manifest: dict[str, object], ours: X25519PrivateKey, theirs: X25519PublicKey,
                    bundle_id: str) -> None:
    """Refuse (``BundleMalformed``, naming the mismatch) a received list that was not keyed
    with our current receiving key and the partner's registered one: its digests would match
    nothing of ours, silently. After a rotation the partner's next list uses the new key."""
    agreement = manifest.get("key_agreement")
    if not isinstance(agreement, dict):
        raise BundleMalformed(f"bundle {bundle_id!r}: a handled list without key_agreement")
    if agreement.get("sender_key") != fingerprint(theirs):
        raise BundleMalformed(
            f"bundle {bundle_id!r}: list keyed with the partner's key {agreement.get('sender_key')!r}, but its "
            f"registered receiving key is {fingerprint(theirs)!r} (update the partner: hotline partner add)")
    if agreement.get("recipient_key") != fingerprint(ours.public_key()):
        raise BundleMalformed(
            f"bundle {bundle_id!r}: list keyed with our key {agreement.get('recipient_key')!r}, not our current "
            f"receiving key {fingerprint(ours.public_key())!r}; the partner's next list will use it")
