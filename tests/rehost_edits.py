"""The edits a re-hosted copy of a picture typically gets, applied to benign pictures.

Each edit takes a Pillow RGB picture and returns the bytes a re-hosting site would serve
(and their content type). The benchmarks of matching and clustering, and their tests, use
the same kinds so that recall figures compare across them. ``EASY`` edits keep the whole
picture; ``BORDER``, ``TEXT`` and ``CROP`` change part of it; ``HARD`` ones change most of
what a perceptual hash sees. ``FRAME_EDITS`` (group ``frame``) set the whole picture inside a
frame that is not one flat colour; they are kept apart from the 16 ``EDITS`` so that
figures over those stay comparable.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps


@dataclass(frozen=True)
class Edit:
    name: str
    group: str  # easy | dihedral | border | text | crop | hard | frame
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


def _framed(image: Image.Image, share: float, fill: Image.Image) -> Image.Image:
    """``image`` pasted in the middle of ``fill``, which is ``share`` of the picture's
    shorter side larger on every side."""
    width, height = image.size
    pad = max(2, round(min(width, height) * share))
    out = fill.resize((width + 2 * pad, height + 2 * pad)) if fill.size != (width + 2 * pad, height + 2 * pad) else fill
    out = out.copy()
    out.paste(image, (pad, pad))
    return out


def _gradient(size: tuple[int, int], start: tuple[int, int, int], end: tuple[int, int, int]) -> Image.Image:
    """A diagonal linear gradient from ``start`` (top left) to ``end`` (bottom right)."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    share = ((xs / max(1, width - 1) + ys / max(1, height - 1)) / 2)[..., None]
    pixels = np.array(start) * (1 - share) + np.array(end) * share
    return Image.fromarray(pixels.round().astype(np.uint8))


def _stripes(size: tuple[int, int]) -> Image.Image:
    """Diagonal stripes of two colours, 10 pixels wide (a decorative frame's pattern)."""
    width, height = size
    ys, xs = np.mgrid[0:height, 0:width]
    odd = (((xs + ys) // 10) % 2).astype(bool)[..., None]
    return Image.fromarray(np.where(odd, np.array([200, 40, 60]), np.array([240, 220, 120])).astype(np.uint8))


def _texture(size: tuple[int, int]) -> Image.Image:
    """A grainy paper texture: a blurred noise field around a beige."""
    width, height = size
    rng = np.random.default_rng(size[0] * 7919 + size[1])
    noise = rng.normal(0, 28, (height // 3 + 1, width // 3 + 1))
    grain = np.asarray(Image.fromarray(noise.astype(np.float32)).resize((width, height), Image.Resampling.BICUBIC))
    pixels = np.array([205, 190, 160])[None, None, :] + grain[..., None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _blur_filled(image: Image.Image) -> Image.Image:
    """As social sites show a picture in a 4:5 portrait slot, or a portrait picture in a
    square one: centred at full width (height) on the picture itself enlarged to cover
    the slot and blurred."""
    width, height = image.size
    canvas = (width, round(width * 5 / 4)) if height < width * 5 / 4 * 0.9 else (height, height)
    zoom = max(canvas[0] / width, canvas[1] / height)
    big = image.resize((round(width * zoom) + 1, round(height * zoom) + 1), Image.Resampling.BILINEAR)
    left, top = (big.width - canvas[0]) // 2, (big.height - canvas[1]) // 2
    fill = big.crop((left, top, left + canvas[0], top + canvas[1])).filter(
        ImageFilter.GaussianBlur(max(canvas) / 40))
    fill.paste(image, ((canvas[0] - width) // 2, (canvas[1] - height) // 2))
    return fill


def _matted(image: Image.Image) -> Image.Image:
    """A white mat of 2%, a grainy frame of 6% around it and a thin dark outer line."""
    width, height = image.size
    mat = ImageOps.expand(image, border=max(2, round(min(width, height) * 0.02)), fill=(250, 250, 250))
    pad = max(2, round(min(width, height) * 0.06))
    framed = _framed(mat, pad / min(mat.size), _texture((mat.width + 2 * pad, mat.height + 2 * pad)))
    return ImageOps.expand(framed, border=max(2, round(min(width, height) * 0.012)), fill=(30, 25, 20))


def _padded_size(image: Image.Image, share: float) -> tuple[int, int]:
    pad = max(2, round(min(image.size) * share))
    return image.width + 2 * pad, image.height + 2 * pad


FRAME_EDITS: tuple[Edit, ...] = (
    Edit("frame-gradient", "frame", lambda im: _save(
        _framed(im, 0.08, _gradient(_padded_size(im, 0.08), (40, 70, 150), (235, 185, 95))))),
    Edit("frame-stripes", "frame", lambda im: _save(_framed(im, 0.06, _stripes(_padded_size(im, 0.06))))),
    Edit("frame-texture", "frame", lambda im: _save(_framed(im, 0.07, _texture(_padded_size(im, 0.07))))),
    Edit("frame-blur", "frame", lambda im: _save(_blur_filled(im))),
    Edit("frame-matted", "frame", lambda im: _save(_matted(im))),
)
"""A picture set in a frame that is not one flat colour, as re-hosting sites and
their users add: a gradient, a patterned or grainy frame, the picture's own blurred
enlargement (social sites' fill for a picture of another shape than the slot), and a
mat with a frame and an outer line."""


def edit(name: str) -> Edit:
    for candidate in EDITS + FRAME_EDITS:
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
