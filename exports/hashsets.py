"""Hash sets for partners' tools: our confirmed hashes as Parquet and as Project VIC VICS JSON.

The Parquet form has the string columns ``md5, sha1, sha256, pdq, id, category`` that
``hashing.import_known_set`` reads (``id`` is the item's SHA-256, ``category`` its verdict,
``baseline`` or ``national``). The VICS form is the Project VIC data model 2.0 JSON that
forensic tools such as Griffeye import: an ``@odata.context`` naming the 2.0 model and a
``value`` array of Media records (``MediaID``, ``Category``, ``MD5``, ``SHA1`` in upper-case
hex, ``MediaSize``, ``DateUpdated``). The 2.0 model names no field for the other hashes; a
record also carries ``SHA256`` (upper-case hex) and ``PDQ`` (hex, as PDQ lists write it),
named as the importers of hotline and of other VICS readers that take extra hashes expect,
so that a round trip keeps every hash. Both forms hold hashes only, never media.
"""

from __future__ import annotations

import io
import json
from collections.abc import Sequence

from catalog.exchange_ledger.records import ExportCandidate

PARQUET_NAME = "hashes.parquet"
VICS_NAME = "hashes.vics.json"
COLUMNS = ("md5", "sha1", "sha256", "pdq", "id", "category")
VICS_CONTEXT = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/Default/$metadata#Media"
# Project VIC categories: 1 = child abuse material, 2 = child exploitive (not abuse) material.
# INTERPOL baseline material is category 1; material illegal under one country's law only
# is reported as category 2 so that no tool treats it as internationally confirmed abuse.
VICS_CATEGORY = {"baseline": 1, "national": 2}


def hash_rows(items: Sequence[ExportCandidate]) -> list[dict[str, str | None]]:
    """One known-set row per item: its digests, PDQ, its SHA-256 as ``id`` and its verdict."""
    return [
        {
            "md5": i.hashes.get("md5"),
            "sha1": i.hashes.get("sha1"),
            "sha256": i.sha256,
            "pdq": i.hashes.get("pdq"),
            "id": i.sha256,
            "category": i.verdict.value,
        }
        for i in items
    ]


def to_parquet(rows: Sequence[dict[str, str | None]]) -> bytes:
    """The rows as a Parquet file, in memory."""
    import pyarrow as pa  # only here: an export process without hash sets does not load it
    import pyarrow.parquet as pq

    table = pa.table({c: pa.array([r.get(c) for r in rows], pa.string()) for c in COLUMNS})
    out = io.BytesIO()
    pq.write_table(table, out)
    return out.getvalue()


def to_vics(items: Sequence[ExportCandidate]) -> bytes:
    """The items as Project VIC VICS 2.0 JSON (UTF-8)."""
    value = [
        {
            "MediaID": n,
            "Category": VICS_CATEGORY[i.verdict.value],
            "MD5": (i.hashes.get("md5") or "").upper() or None,
            "SHA1": (i.hashes.get("sha1") or "").upper() or None,
            "SHA256": i.sha256.upper(),
            "PDQ": i.hashes.get("pdq"),
            "MediaSize": i.size,
            "DateUpdated": i.decided_at.isoformat(timespec="seconds") + "Z",
        }
        for n, i in enumerate(items, start=1)
    ]
    return json.dumps({"@odata.context": VICS_CONTEXT, "value": value}, indent=1).encode("utf-8")


def hash_set_files(items: Sequence[ExportCandidate]) -> list[tuple[str, bytes]]:
    """The attachments of a hash-set bundle: ``hashes.parquet`` and ``hashes.vics.json``."""
    return [(PARQUET_NAME, to_parquet(hash_rows(items))), (VICS_NAME, to_vics(items))]
