"""Opening a bundle file with key files, as ``hotline bundle open`` does."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from exports.bundle import OpenedBundle, open_bundle
from exports.key_files import load_x25519_private_key


def open_bundle_file(
    path: Path,
    recipient_key: Path | Sequence[X25519PrivateKey],
    *,
    trusted: Sequence[Ed25519PublicKey] | None = None,
) -> OpenedBundle:
    """Verify the signature of the bundle at ``path``, decrypt its manifest with the private
    key in the file ``recipient_key`` (or with whichever of several keys it is addressed to)
    and return it. Raises a ``BundleError`` naming what is wrong."""
    recipient = (load_x25519_private_key(Path(recipient_key)) if isinstance(recipient_key, str | Path)
                 else list(recipient_key))
    with Path(path).open("rb") as src:
        return open_bundle(src, recipient=recipient, trusted_senders=trusted)
