"""Benign synthetic test media made on the fly: pictures (shapes over a gradient, Pillow)
and videos (moving shapes over a gradient, encoded in memory with PyAV, optionally with
black letterbox bars). Used by the hashing tests and the benchmarks in bench/."""

from __future__ import annotations

import io
import random
from pathlib import Path

import av
import numpy as np
from PIL import Image, ImageDraw


def synthetic_picture(seed: int, size: tuple[int, int] = (320, 240)) -> Image.Image:
    """A benign picture with real structure: a gradient under random shapes."""
    rng = random.Random(seed)
    width, height = size
    ramp = np.linspace(0, 255, width, dtype=np.float64)
    base = np.stack([np.tile(ramp, (height, 1))] * 3, axis=-1)
    base[..., rng.randrange(3)] = 255 - base[..., 0]
    image = Image.fromarray(base.astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(25):
        x0, y0 = rng.randrange(width), rng.randrange(height)
        box = (x0, y0, x0 + rng.randrange(20, width // 2), y0 + rng.randrange(20, height // 2))
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = rng.choice((draw.ellipse, draw.rectangle))
        shape(box, fill=colour)
    return image


def encoded(image: Image.Image, fmt: str = "PNG", **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


WEB_X264 = {"preset": "veryfast", "profile": "high", "bf": "3", "coder": "cabac", "g": "250"}
"""libx264 options of a web-style encode: High profile, CABAC, B-frames (3), a key frame
at most every 250 frames."""


def synthetic_video(
    seconds: float = 3.0,
    size: tuple[int, int] = (320, 240),
    *,
    fps: int = 30,
    seed: int = 0,
    bars: int = 0,
    codec: str = "libx264",
    container: str = "mp4",
    audio: bool = False,
    bit_rate: int | None = None,
    x264: dict[str, str] | None = None,
) -> bytes:
    """An encoded clip: a textured colour gradient that pans slowly, with discs drifting
    across it, the scene changing every second; ``bars`` pixels of black at top and
    bottom (letterbox). ``bit_rate`` (bits/s) caps the encoder like a web video would;
    ``x264``: libx264 options instead of the fast defaults (``WEB_X264``: a web encode)."""
    width, height = size
    rng = np.random.default_rng(seed)
    inner = height - 2 * bars
    ys, xs = np.mgrid[0:inner, 0:width]
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format=container) as out:
        stream = out.add_stream(codec, rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if bit_rate:
            stream.bit_rate = bit_rate
        if codec == "libx264":
            stream.options = x264 or {"preset": "ultrafast", "tune": "zerolatency"}
        audio_stream = out.add_stream("aac", rate=44100) if audio else None
        pixels = np.zeros((height, width, 3), dtype=np.uint8)
        for second in range(int(np.ceil(seconds))):
            scene = rng.integers(0, 256, (3, 6))
            texture = 60 * np.sin(xs / (4 + scene[0, 4] % 9)) * np.cos(ys / (5 + scene[1, 4] % 7))
            base = np.stack(
                [(xs * scene[c, 0] / width + ys * scene[c, 1] / inner + texture) % 256 for c in range(3)],
                axis=-1,
            ).astype(np.uint8)
            for n in range(min(fps, int(seconds * fps) - second * fps)):
                picture = np.roll(base, n, axis=1)  # a slow pan
                for k in range(3):
                    cx = int((scene[k, 2] / 255 * width + n * (k + 1)) % width)
                    cy = int(scene[k, 3] / 255 * inner)
                    r = 10 + int(scene[k, 4] / 255 * inner / 4)
                    y0, y1, x0, x1 = max(0, cy - r), min(inner, cy + r), max(0, cx - r), min(width, cx + r)
                    disc = (xs[y0:y1, x0:x1] - cx) ** 2 + (ys[y0:y1, x0:x1] - cy) ** 2 < r * r
                    picture[y0:y1, x0:x1][disc] = scene[:, 5 - k % 2]
                pixels[bars : bars + inner] = picture
                frame = av.VideoFrame.from_ndarray(pixels, format="rgb24")
                for packet in stream.encode(frame):
                    out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
        if audio_stream is not None:
            _silence(out, audio_stream, seconds)
    return buffer.getvalue()


def truncated_video(folder: Path) -> bytes:
    """A 4-second clip with its index in front ("faststart"), cut after its first frames,
    as a broken upload is: 2 of its 4 one-a-second samples still decode. PyAV writes a
    front index only to a file, made in ``folder``."""
    path = folder / "faststart.mp4"
    with av.open(io.BytesIO(synthetic_video(4.0, seed=1))) as source, \
            av.open(str(path), "w", format="mp4", options={"movflags": "faststart"}) as out:
        stream = out.add_stream_from_template(source.streams.video[0])
        for packet in source.demux(source.streams.video[0]):
            if packet.dts is not None:
                packet.stream = stream
                out.mux(packet)
    whole = path.read_bytes()
    return whole[: len(whole) // 4]


def synthetic_audio(seconds: float = 1.0) -> bytes:
    """An audio-only MP4 (AAC tone): a container with no video stream."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as out:
        stream = out.add_stream("aac", rate=44100)
        _silence(out, stream, seconds)
    return buffer.getvalue()


def _silence(out: av.container.OutputContainer, stream: av.audio.stream.AudioStream, seconds: float) -> None:
    samples = 1024
    tone = (0.1 * np.sin(np.arange(samples) / 10)).astype(np.float32)[None, :]
    for n in range(int(seconds * 44100 / samples)):
        frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout="mono")
        frame.sample_rate = 44100
        frame.pts = n * samples
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode():
        out.mux(packet)


def decoded_frames(data: bytes) -> list[np.ndarray]:
    """Every frame of an encoded clip, RGB (for editing it and encoding it again)."""
    with av.open(io.BytesIO(data)) as container:
        return [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]


def encoded_frames(frames: list[np.ndarray], *, fps: int = 30, bit_rate: int | None = None) -> bytes:
    """RGB frames (even sizes) encoded as an H.264 MP4 at ``fps``."""
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt, stream.options = "yuv420p", {"preset": "ultrafast"}
        if bit_rate:
            stream.bit_rate = bit_rate
        for pixels in frames:
            out.mux(stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")))
        out.mux(stream.encode())
    return buffer.getvalue()
