"""pHash, the 64-bit DCT perceptual hash of the ``imagehash`` library."""

from __future__ import annotations

import imagehash
from PIL import Image

from hashing.signals.base import ImageHasher, SignalHash, SignalType

_SIDE = 32
"""The side imagehash's pHash shrinks a picture to (8 bits a side, 4 times oversampled):
a picture of that size it hashes as it is."""


class PhashSignal(SignalType, ImageHasher):
    name = "phash"
    hex_length = 16
    content_types = frozenset({"image"})
    # Stored for every image, not matched: no hash list hotline imports carries pHash, and
    # a column of its own would change the content digest of every set imported before.
    known_set_column = False

    @classmethod
    def hash_image(cls, image: Image.Image) -> SignalHash:
        # imagehash shrinks the picture to 32x32 by a Lanczos filter over the whole of it;
        # averaging whole blocks first until it is about three times that size (Pillow's
        # reducing gap) costs a third and stays within 2 of 64 bits on photographs (the
        # draft decode alone moves it as far)
        small = image.convert("L").resize((_SIDE, _SIDE), Image.Resampling.LANCZOS, reducing_gap=3.0)
        return SignalHash(str(imagehash.phash(small)))

    @classmethod
    def get_examples(cls) -> list[str]:
        return ["d1d1f1c0e0e0c0c0", "0000000000000000", "ffffffffffffffff"]
