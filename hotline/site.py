"""A small local web site for the demo and the benchmarks: benign synthetic images on
127.0.0.1, served by a threaded server with a deep listen backlog (the stock
``http.server`` backlog of 5 stalls a concurrent crawl for minutes)."""

from __future__ import annotations

import io
import random
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, ImageDraw

_TYPES = {".jpg": "image/jpeg", ".png": "image/png", ".html": "text/html; charset=utf-8"}


def synthetic_image(seed: int, size: tuple[int, int] = (640, 480), fmt: str = "JPEG", quality: int = 90) -> bytes:
    """A benign picture of coloured shapes, the same for the same seed."""
    rng = random.Random(seed)
    img = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
    draw = ImageDraw.Draw(img)
    w, h = size
    for _ in range(12):
        x0, y0 = rng.randrange(w), rng.randrange(h)
        x1, y1 = x0 + rng.randrange(20, w // 2), y0 + rng.randrange(20, h // 2)
        colour = tuple(rng.randrange(256) for _ in range(3))
        (draw.ellipse if rng.random() < 0.5 else draw.rectangle)((x0, y0, x1, y1), fill=colour)
    out = io.BytesIO()
    img.save(out, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return out.getvalue()


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True


@contextmanager
def serve(files: Mapping[str, bytes]) -> Iterator[str]:
    """Serve ``files`` (path -> bytes) on 127.0.0.1; yields the base URL, ``http://127.0.0.1:PORT``."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            body = files.get(self.path.split("?", 1)[0])
            if body is None:
                self.send_error(404)
                return
            suffix = self.path[self.path.rfind(".") :] if "." in self.path else ".html"
            self.send_response(200)
            self.send_header("Content-Type", _TYPES.get(suffix, "application/octet-stream"))
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:  # quiet
            pass

    server = _Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
