"""What the review app shows of an item: thumbnails made in memory from the evidence store.

Blurred and greyscale by default (strength per user), clear only behind a reveal. Videos
become a strip of frames (no sound is ever decoded or sent). Nothing is written to disk:
blurred thumbnails are kept in a bounded in-memory cache, clear ones are not kept at all.
"""

from __future__ import annotations

import io
import threading
from collections import OrderedDict
from collections.abc import Callable

import av
from PIL import Image, ImageDraw, ImageFilter, ImageOps

Image.MAX_IMAGE_PIXELS = 100_000_000  # refuse decompression bombs

THUMB = 240
CLEAR = 720
STRIP_FRAMES = 6


class MediaUnavailable(Exception):
    """The item cannot be shown (not decodable); the message says why."""


def _image_frames(data: bytes, box: int) -> list[Image.Image]:
    img: Image.Image = Image.open(io.BytesIO(data))
    img.draft("RGB", (box, box))  # JPEG: decode at a reduced size
    img = ImageOps.exif_transpose(img).convert("RGB")
    img.thumbnail((box, box))
    return [img]


def _video_frames(data: bytes, box: int, count: int = STRIP_FRAMES) -> list[Image.Image]:
    frames: list[Image.Image] = []
    with av.open(io.BytesIO(data), mode="r") as container:
        if not container.streams.video:
            raise MediaUnavailable("no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        duration = (float(stream.duration * stream.time_base) if stream.duration and stream.time_base
                    else (container.duration or 0) / 1_000_000)
        if duration > 0 and stream.time_base:
            for i in range(count):
                target = duration * (i + 0.5) / count
                container.seek(int(target / stream.time_base), stream=stream, backward=True, any_frame=False)
                frame = next(container.decode(stream), None)
                if frame is not None:
                    frames.append(frame.to_image())
        else:
            for i, frame in enumerate(container.decode(stream)):
                if i % 25 == 0:
                    frames.append(frame.to_image())
                if len(frames) == count or i > 25 * count:
                    break
    if not frames:
        raise MediaUnavailable("no frame could be decoded")
    for f in frames:
        f.thumbnail((box, box))
    return frames


def _strip(frames: list[Image.Image]) -> Image.Image:
    if len(frames) == 1:
        return frames[0]
    height = max(f.height for f in frames)
    strip = Image.new("RGB", (sum(f.width for f in frames) + 2 * (len(frames) - 1), height), (0, 0, 0))
    x = 0
    for f in frames:
        strip.paste(f, (x, 0))
        x += f.width + 2
    return strip


def render(data: bytes, kind: str, *, clear: bool, blur: int) -> bytes:
    """A JPEG of ``data``: blurred and greyscale unless ``clear``."""
    box = CLEAR if clear else THUMB
    try:
        frames = _video_frames(data, box) if kind == "video" else _image_frames(data, box)
    except MediaUnavailable:
        raise
    except Exception as exc:  # any decoder failure is shown as a placeholder
        raise MediaUnavailable(f"cannot be decoded: {type(exc).__name__}") from exc
    img = _strip(frames)
    if not clear:
        img = img.convert("L")
        if blur:
            img = img.filter(ImageFilter.GaussianBlur(radius=blur * max(img.size) / THUMB / 2))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=80 if clear else 70)
    return out.getvalue()


def placeholder(message: str) -> bytes:
    img = Image.new("L", (THUMB, THUMB * 3 // 4), 90)
    ImageDraw.Draw(img).text((10, 10), message[:40], fill=230)
    out = io.BytesIO()
    img.save(out, "JPEG", quality=70)
    return out.getvalue()


class ThumbnailCache:
    """Blurred thumbnails in memory only, least recently used first out, bounded in bytes."""

    def __init__(self, max_bytes: int = 64 * 1024 * 1024) -> None:
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple[str, int], bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, int], make: Callable[[], bytes]) -> bytes:
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
        value = make()
        with self._lock:
            if key not in self._items:
                self._items[key] = value
                self._size += len(value)
            while self._size > self.max_bytes and self._items:
                _, old = self._items.popitem(last=False)
                self._size -= len(old)
        return value
