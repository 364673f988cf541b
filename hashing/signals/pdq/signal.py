"""PDQ, Meta's 256-bit perceptual image hash (via the ``pdqhash`` binding)."""

from __future__ import annotations

import numpy as np
import pdqhash
from PIL import Image

from hashing.signals.base import ImageHasher, Picture, SignalHash, SignalType
from hashing.signals.pdq.packing import PDQ_HEX_LENGTH, bits_to_hex
from hashing.signals.pdq.reduced import UPSCALE_BELOW, ReducedPicture, edit_variants
from hashing.signals.pdq.repairs import repaired_variants
from hashing.signals.pdq.set_index import SetIndex
from hashing.signals.pdq.uncrop import uncropped_variants
from hashing.signals.pdq.wide_captions import wide_caption_variants

PDQ_MATCH_THRESHOLD = 31
"""Meta's recommended Hamming distance for a confident PDQ match."""

DIHEDRAL_NAMES: tuple[str, ...] = (
    "rotate90", "rotate180", "rotate270", "flipx", "flipy", "flipplus1", "flipminus1",
)  # fmt: skip
"""The seven transformed variants ``pdqhash.compute_dihedral`` returns after the
original, in its order (checked against the ``reg-test-input/dih`` vectors)."""


class PdqSignal(SignalType, ImageHasher):
    name = "pdq"
    hex_length = PDQ_HEX_LENGTH
    content_types = frozenset({"image"})
    match_threshold = PDQ_MATCH_THRESHOLD
    index_cls = SetIndex
    has_quality = True
    variant_names = DIHEDRAL_NAMES
    variants_label = "dihedral"
    hash_untrimmed = True  # a 5% white frame moves PDQ by about 100 bits

    @classmethod
    def hash_image(cls, image: Image.Image) -> SignalHash:
        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"), dtype=np.uint8))
        bits, quality = pdqhash.compute(pixels)
        return SignalHash(bits_to_hex(bits), int(quality))

    @classmethod
    def hash_pixels(cls, pixels: np.ndarray) -> SignalHash:
        """PDQ of an ``[H, W, 3]`` uint8 RGB array (a video frame)."""
        bits, quality = pdqhash.compute(np.ascontiguousarray(pixels, dtype=np.uint8))
        return SignalHash(bits_to_hex(bits), int(quality))

    @classmethod
    def hash_with_variants(cls, picture: Picture) -> SignalHash:
        """The PDQ with its seven dihedral variants (``DIHEDRAL_NAMES`` order), each the
        PDQ of the turned or mirrored pixels, of a picture decoded at reduced size, as
        the reference computes them at full size (``reduced``)."""
        reduced = ReducedPicture(picture.luma, picture.scale, picture.full)
        (original, quality), *variants = reduced.dihedral().values()
        return SignalHash(original, quality, tuple(value for value, _ in variants))

    @classmethod
    def edit_variants(cls, picture: Picture, *, repairs: bool = False) -> dict[str, str]:
        """The PDQ of the original the picture may have been downsized from
        (``reduced.edit_variants``), and with ``repairs`` of the picture with a small turn
        undone or a caption box removed (``repairs``)."""
        height, width = picture.full or (picture.image.height * picture.scale, picture.image.width * picture.scale)
        if not repairs and max(height, width) >= UPSCALE_BELOW:
            return {}  # nothing to compute: skip the luma
        reduced = ReducedPicture(picture.luma, picture.scale, picture.full)
        found = edit_variants(reduced)
        if repairs:
            found |= repaired_variants(reduced)
        return found

    @classmethod
    def whole_variants(cls, picture: Picture, *, crops: bool = False, repairs: bool = False) -> dict[str, str]:
        """The PDQs of the original the whole picture may have been cropped from
        (``uncrop``; with ``crops``), and of the picture with a wide caption plate filled
        in (``wide_captions``; with ``repairs``)."""
        if not crops and not repairs:
            return {}
        reduced = ReducedPicture(picture.luma, picture.scale, picture.full)
        found = uncropped_variants(reduced) if crops else {}
        return found | wide_caption_variants(reduced) if repairs else found

    @classmethod
    def get_examples(cls) -> list[str]:
        return [
            "d8f8f0cee0f4a84f0637022a078f67f0b36e2ed596621e1d33e6339c4e9c9b22",
            "e4cc89d91c623842f8d1f1d9a398e78c9f199a3bf87925f2b7e11e0bf061b064",
        ]


def pdq_distance(a: str, b: str) -> int:
    """Hamming distance between two PDQ hashes (0..256)."""
    return PdqSignal.distance(a, b)
