"""Frames of a video sampled by time, decoded in memory with PyAV (FFmpeg's libraries).

The bytes are read from memory (no temporary file). To stay cheap, the decoder skips
the H.264/HEVC deblocking filter (a few bits of PDQ at most), runs on one thread,
skips the B-frames (most frames of web encodes) that no sample needs, and each
sampled frame is scaled by FFmpeg's swscale straight to ``max_side`` pixels (its longest
side, smaller frames scaled up) before it is converted to RGB. ``key_frames`` decodes
only the key frames (for deciding a clip's black bars before it is sampled).
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from dataclasses import dataclass

import av
import numpy as np

from hashing.errors import CorruptVideoError, EmptyVideoError, NoVideoStreamError
from hashing.sniff import describe_bytes


@dataclass(frozen=True)
class SampleConfig:
    """``interval``: seconds between samples (1.0: one frame a second).
    ``max_frames``: stop after this many samples. ``max_side``: longest side of a
    sampled frame after scaling (up or down). ``max_pixels``: refuse streams declaring larger
    frames. ``fast``: skip the loop filter while decoding, and the B-frames whose time is not
    near a sample's: only B-frames near them are built from them, so every sample is
    the frame a full decode picks (skipping every B-frame would move samples by a frame
    or two, differently in each encode)."""

    interval: float = 1.0
    max_frames: int = 3600
    max_side: int = 512
    max_pixels: int = 8192 * 8192
    fast: bool = True

    def __post_init__(self) -> None:
        if not self.interval > 0:
            raise ValueError(f"interval must be positive, got {self.interval!r}")


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    duration: float | None  # seconds, when the container says
    samples: int | None = None  # frames the sampling should yield, when the duration is known


def expected_samples(
    duration: float | None, rate: float | None, config: SampleConfig, start: float = 0.0
) -> int | None:
    """How many frames sampling a whole video of ``duration`` seconds from ``start`` at
    ``rate`` frames a second yields (see ``_frames``): the first frame, then one per
    ``interval`` up to the last frame's time (``duration`` less one frame), at most
    ``max_frames``."""
    if not duration or duration <= 0:
        return None
    last = start + max(0.0, duration - (1 / rate if rate else 0.0))
    step = config.interval
    later = math.floor(last / step + 1e-6) - math.floor(start / step + 1e-6)
    return min(config.max_frames, 1 + max(0, later))


def sample_frames(
    data: bytes, config: SampleConfig = SampleConfig()
) -> tuple[VideoInfo, Iterator[tuple[float, np.ndarray]]]:
    """Open ``data`` and return its description and an iterator of ``(t, rgb)`` pairs:
    the first decoded frame at or after each multiple of ``config.interval``."""
    if not data:
        raise EmptyVideoError("cannot decode a video from 0 bytes")
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise CorruptVideoError(
            f"not a readable video container ({describe_bytes(data)}, {len(data)} bytes): {exc}"
        ) from exc
    if not container.streams.video:
        kinds = ", ".join(sorted({s.type for s in container.streams})) or "none"
        container.close()
        raise NoVideoStreamError(f"no video stream in the container (streams: {kinds})")
    stream = container.streams.video[0]
    width, height = stream.codec_context.width, stream.codec_context.height
    if width * height > config.max_pixels:
        container.close()
        raise CorruptVideoError(
            f"video declares {width}x{height} frames, over the limit of "
            f"{config.max_pixels:,} pixels"
        )
    duration = float(stream.duration * stream.time_base) if stream.duration and stream.time_base else (
        container.duration / 1_000_000 if container.duration else None
    )
    rate = float(stream.average_rate) if stream.average_rate else None
    start = float(stream.start_time * stream.time_base) if stream.start_time and stream.time_base else 0.0
    info = VideoInfo(width, height, duration, expected_samples(duration, rate, config, start))
    return info, _frames(container, stream, config, rate)


def key_frames(data: bytes, max_side: int = 256, limit: int = 16) -> list[np.ndarray]:
    """Up to ``limit`` key frames of ``data`` spread over the clip, RGB, at most
    ``max_side`` pixels: a cheap look at the whole clip. The key-frame packets are
    gathered first (every other one dropped whenever ``2 * limit`` are held, so they stay
    spread over a long clip) and only the ones kept are decoded, without the loop filter:
    decoding every key frame of a web encode (one at each scene cut) cost 1 s a minute of
    720p. Empty when the bytes do not decode (``sample_frames`` says why)."""
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError):
        return []
    found: list[np.ndarray] = []
    with container:
        if not container.streams.video:
            return []
        stream = container.streams.video[0]
        stream.thread_type = "NONE"
        context = stream.codec_context
        context.options = {"skip_loop_filter": "all", "flags2": "fast"}
        context.skip_frame = "NONKEY"
        packets: list[av.Packet] = []
        try:
            for packet in container.demux(stream):
                if packet.is_keyframe and packet.size:
                    packets.append(packet)
                    if len(packets) >= 2 * limit:
                        packets = packets[::2]
        except av.FFmpegError:
            pass  # damaged: the key frames before the damage stand
        try:
            for packet in packets[:: max(1, math.ceil(len(packets) / limit))]:
                found += [_scaled(frame, max_side) for frame in packet.decode()]
            found += [_scaled(frame, max_side) for frame in context.decode(None)]  # the decoder's delayed frames
        except av.FFmpegError:
            pass
    return found[:limit]


def _frames(
    container: av.container.InputContainer,
    stream: av.video.stream.VideoStream,
    config: SampleConfig,
    rate: float | None,
) -> Iterator[tuple[float, np.ndarray]]:
    context = stream.codec_context
    stream.thread_type = "NONE"
    if config.fast:
        context.options = {"skip_loop_filter": "all", "flags2": "fast"}
    # a sample is the first frame at or after a multiple of the interval, so it lies within
    # a frame's duration of one; a packet whose time is outside every such window (two
    # frames' margin either side: jittery timestamps, and the B-frame a sampled B-frame is
    # predicted from) is not decoded when it is a B-frame: in a B-pyramid (x264's default)
    # a B-frame is a reference only for the B-frames beside it, which are dropped with it;
    # a sampled frame decodes as in a full decode (a few bits of PDQ from the loop filter)
    window = 2.0 / rate if rate else config.interval
    time_base = float(stream.time_base) if stream.time_base else None
    taken, due = 0, 0.0
    try:
        with container:
            for packet in container.demux(stream):
                if config.fast and time_base is not None and packet.pts is not None:
                    t = float(packet.pts * time_base)
                    phase = (t + 1e-6) % config.interval
                    needed = t + window + 1e-6 >= due and (phase <= window or config.interval - phase <= window)
                    context.skip_frame = "DEFAULT" if needed else "BIDIR"
                for frame in packet.decode():
                    t = frame.time
                    if t is None or t + 1e-6 < due:
                        continue
                    yield round(float(t), 3), _scaled(frame, config.max_side)
                    taken += 1
                    if taken >= config.max_frames:
                        return
                    due = (math.floor(t / config.interval + 1e-6) + 1) * config.interval
    except av.FFmpegError as exc:
        if not taken:
            raise CorruptVideoError(f"no frame could be decoded: {exc}") from exc
        # a truncated file: the frames sampled before the damage stand


def _scaled(frame: av.VideoFrame, max_side: int) -> np.ndarray:
    """The frame at ``max_side`` pixels on its longest side, smaller ones scaled up too:
    PDQ of one picture hashed at 480 and at 240 pixels differs by 20-35 bits, at one
    size by about 10, so a copy shrunk by a re-hosting site is hashed at its original's
    size."""
    width, height = frame.width, frame.height
    scale = max_side / max(width, height)
    if scale != 1.0:
        width, height = max(2, round(width * scale)), max(2, round(height * scale))
    return frame.to_ndarray(
        format="rgb24", width=width, height=height, interpolation="AREA"
    )
