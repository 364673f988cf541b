"""pHash, the 64-bit DCT perceptual hash of the ``imagehash`` library."""

from __future__ import annotations

import imagehash
from PIL import Image

from hashing.signals.base import ImageHasher, SignalHash, SignalType


class PhashSignal(SignalType, ImageHasher):
    name = "phash"
    hex_length = 16
    content_types = frozenset({"image"})
    # Stored for every image, not matched: no hash list hotline imports carries pHash, and
    # a column of its own would change the content digest of every set imported before.
    known_set_column = False

    @classmethod
    def hash_image(cls, image: Image.Image) -> SignalHash:
        return SignalHash(str(imagehash.phash(image)))

    @classmethod
    def get_examples(cls) -> list[str]:
        return ["d1d1f1c0e0e0c0c0", "0000000000000000", "ffffffffffffffff"]
