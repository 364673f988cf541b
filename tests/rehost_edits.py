"""The edits a re-hosted copy of a picture typically gets, applied to benign pictures.

Each edit takes a Pillow RGB picture and returns the bytes a re-hosting site would serve
(and their content type). The benchmarks of matching and clustering, and their tests, use
the same kinds so that recall figures compare across them. ``EASY`` edits keep the whole
picture; ``BORDER``, ``TEXT`` and ``CROP`` change part of it; ``HARD`` ones change most of
what a perceptual hash sees.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageEnhance, ImageOps


@dataclass(frozen=True)
class Edit:
    name: str
    group: str  # easy | dihedral | border | text | crop | hard
    apply: Callable[[Image.Image], tuple[bytes, str]]


def _save(image: Image.Image, fmt: str = "JPEG", **options: object) -> tuple[bytes, str]:
    buffer = io.BytesIO()
    if fmt == "JPEG" and image.mode != "RGB":
        image = image.convert("RGB")
    image.save(buffer, fmt, **({"quality": 90} | options if fmt == "JPEG" else options))
    return buffer.getvalue(), f"image/{fmt.lower()}"


def _resized(image: Image.Image, factor: float) -> Image.Image:
    width, height = image.size
    return image.resize((max(8, round(width * factor)), max(8, round(height * factor))), Image.Resampling.LANCZOS)


def _cropped(image: Image.Image, share: float) -> Image.Image:
    """Cut ``share`` of each dimension, split between the sides off-centre (as a hand crop)."""
    width, height = image.size
    dx, dy = round(width * share), round(height * share)
    return image.crop((dx * 2 // 3, dy // 3, width - dx // 3, height - dy * 2 // 3))


def _bordered(image: Image.Image, share: float) -> Image.Image:
    width, height = image.size
    pad = max(2, round(min(width, height) * share))
    return ImageOps.expand(image, border=pad, fill=(250, 250, 250))


def _captioned(image: Image.Image, box_share: float) -> Image.Image:
    """A caption box with text over the lower part of the picture (a re-hoster's watermark)."""
    out = image.copy()
    width, height = out.size
    draw = ImageDraw.Draw(out)
    box_h = max(10, round(height * box_share))
    box_w = max(20, round(width * (0.35 if box_share < 0.1 else 0.9)))
    left, top = (width - box_w) // 2, height - box_h - max(2, height // 40)
    draw.rectangle((left, top, left + box_w, top + box_h), fill=(20, 20, 20))
    line = max(8, box_h // 3)
    for row in range(top + 2, top + box_h - line, line + 2):
        draw.text((left + 4, row), "example.test  re-hosted copy  0123456789", fill=(240, 240, 240))
    return out


def _rotated(image: Image.Image, degrees: float) -> Image.Image:
    return image.rotate(degrees, resample=Image.Resampling.BICUBIC, expand=False, fillcolor=(0, 0, 0))


EDITS: tuple[Edit, ...] = (
    Edit("copy", "easy", lambda im: _save(im, quality=92)),
    Edit("jpeg-q30", "easy", lambda im: _save(im, quality=30)),
    Edit("resize-50", "easy", lambda im: _save(_resized(im, 0.5))),
    Edit("webp", "easy", lambda im: _save(im, "WEBP", quality=80)),
    Edit("png", "easy", lambda im: _save(im, "PNG")),
    Edit("grey", "easy", lambda im: _save(ImageOps.grayscale(im).convert("RGB"))),
    Edit("brightness", "easy", lambda im: _save(ImageEnhance.Brightness(im).enhance(1.25))),
    Edit("rot90", "dihedral", lambda im: _save(im.transpose(Image.Transpose.ROTATE_90))),
    Edit("mirror", "dihedral", lambda im: _save(ImageOps.mirror(im))),
    Edit("border-5", "border", lambda im: _save(_bordered(im, 0.05))),
    Edit("small-text", "text", lambda im: _save(_captioned(im, 0.08))),
    Edit("crop-5", "crop", lambda im: _save(_cropped(im, 0.05))),
    Edit("crop-15", "hard", lambda im: _save(_cropped(im, 0.15))),
    Edit("rotate-3", "hard", lambda im: _save(_rotated(im, 3))),
    Edit("large-text", "hard", lambda im: _save(_captioned(im, 0.3))),
    Edit("size-15", "hard", lambda im: _save(_resized(im, 0.15))),
)

EDIT_NAMES = tuple(edit.name for edit in EDITS)


def edit(name: str) -> Edit:
    for candidate in EDITS:
        if candidate.name == name:
            return candidate
    raise KeyError(name)


def natural_photos() -> list[tuple[str, Image.Image]]:
    """scikit-image's benign sample photographs, as RGB pictures (greyscale ones widened)."""
    from skimage import data

    names = ("astronaut", "camera", "chelsea", "coffee", "rocket", "immunohistochemistry",
             "hubble_deep_field", "moon", "page", "text", "grass", "gravel", "brick", "horse",
             "coins", "clock", "logo", "retina", "motorcycle")
    photos = []
    for name in names:
        loader = getattr(data, name, None) or (name == "motorcycle" and (lambda: data.stereo_motorcycle()[0]))
        if not loader:
            continue
        pixels = loader()
        image = Image.fromarray(pixels)
        if image.mode not in ("RGB",):
            image = image.convert("RGB")
        photos.append((name, image))
    return photos


def originals(count: int) -> list[tuple[str, Image.Image]]:
    """``count`` distinct benign originals: the sample photographs first, then synthetic
    pictures (shapes over a gradient) at 640x480."""
    from synthetic import synthetic_picture

    pictures = natural_photos()[:count]
    seed = 0
    while len(pictures) < count:
        pictures.append((f"synthetic-{seed}", synthetic_picture(10_000 + seed, (640, 480))))
        seed += 1
    return pictures
