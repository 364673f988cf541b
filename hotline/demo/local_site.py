"""Local web sites on 127.0.0.1 for the demo, the tests and the benchmarks (no internet),
and the benign synthetic pictures they serve.

    with serve_site({
        "/": b"<img src='/a.png'>",                      # bytes: text/html, 200
        "/a.png": (image_bytes("PNG"), "image/png"),     # (body, content type)
        "/old": Reply.redirect("/"),                     # 302 with Location
        "/gone": Reply(b"gone", status=410),             # any status
        "/slow": lambda req: (time.sleep(2), b"late")[1],  # callable(SiteRequest) -> route
        "/drip": Stream.drip(seconds=5),                 # a body sent a few bytes at a time
        "/bomb": gzip_bomb(50 * 1024 * 1024),            # small on the wire, huge unpacked
    }) as site:
        site.base_url        # "http://127.0.0.1:PORT"
        site.url("/a.png")   # absolute URL
        site.host_port       # "127.0.0.1:PORT", for a crawl's allow-list
        site.requests        # paths received, in order (thread-safe snapshot)

Unknown paths answer 404, or what ``serve_site(routes, fallback=route)`` answers (a
whole site from one callable: the recall bench serves saved pages that way). Routes
match the full path with its query first, then the path alone. The server is a ThreadingHTTPServer with a deep accept queue, so a crawler's
burst of concurrent connections does not stall. ``serve_site(routes, host=..., port=...)``
binds another loopback address or a chosen port (two sites on 127.0.0.1:P and
127.0.0.2:P, for DNS-rebinding tests); ``tls=True`` serves HTTPS with a throwaway
self-signed certificate and records the server name (SNI) each client asked for in
``site.server_names``.
"""

from __future__ import annotations

import datetime
import gzip
import io
import random
import socket
import ssl
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from PIL import Image, ImageDraw

HTML = "text/html; charset=utf-8"


@dataclass(frozen=True)
class SiteRequest:
    """What a route callable is given."""

    method: str
    path: str
    headers: Mapping[str, str]


@dataclass(frozen=True)
class Reply:
    """A full response: body, status, content type and extra headers."""

    body: bytes = b""
    status: int = 200
    content_type: str = HTML
    headers: tuple[tuple[str, str], ...] = ()

    @classmethod
    def redirect(cls, location: str, status: int = 302) -> Reply:
        return cls(b"", status=status, headers=(("Location", location),))


@dataclass(frozen=True)
class Stream:
    """A response whose body is written chunk by chunk as ``chunks()`` yields them (no
    Content-Length unless ``length`` is given; the connection closes at the end)."""

    chunks: Callable[[], Iterable[bytes]]
    status: int = 200
    content_type: str = HTML
    headers: tuple[tuple[str, str], ...] = ()
    length: int | None = None

    @classmethod
    def drip(cls, seconds: float, interval: float = 0.1, chunk: bytes = b"<p>.</p>\n") -> Stream:
        """A slow-drip server: ``chunk`` every ``interval`` seconds for ``seconds``."""

        def chunks() -> Iterator[bytes]:
            yield b"<!doctype html><html><body>"
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                time.sleep(interval)
                yield chunk

        return cls(chunks)


def gzip_bomb(unpacked_bytes: int, content_type: str = HTML) -> Reply:
    """A gzip ``Content-Encoding`` body of ``unpacked_bytes`` zeros (about 1000:1)."""
    out = io.BytesIO()
    block = bytes(1024 * 1024)
    with gzip.GzipFile(fileobj=out, mode="wb", compresslevel=9) as gz:
        for _ in range(unpacked_bytes // len(block)):
            gz.write(block)
        gz.write(bytes(unpacked_bytes % len(block)))
    return Reply(out.getvalue(), content_type=content_type, headers=(("Content-Encoding", "gzip"),))


Route = (
    bytes
    | tuple[bytes, str]
    | Reply
    | Stream
    | Callable[[SiteRequest], "bytes | tuple[bytes, str] | Reply | Stream"]
)


def _as_reply(value: bytes | tuple[bytes, str] | Reply | Stream) -> Reply | Stream:
    if isinstance(value, (Reply, Stream)):
        return value
    if isinstance(value, bytes):
        return Reply(value)
    body, content_type = value
    return Reply(body, content_type=content_type)


class _Server(ThreadingHTTPServer):
    request_queue_size = 1024
    daemon_threads = True
    allow_reuse_address = True


@dataclass
class Site:
    """A running test site; see the module docstring."""

    host: str
    port: int
    scheme: str = "http"
    server_names: list[str | None] = field(default_factory=list, repr=False)
    _log: list[str] = field(default_factory=list, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    def url(self, path: str = "/") -> str:
        return self.base_url + (path if path.startswith("/") else "/" + path)

    @property
    def requests(self) -> list[str]:
        with self._lock:
            return list(self._log)

    def _record(self, path: str) -> None:
        with self._lock:
            self._log.append(path)

    def __str__(self) -> str:
        return self.base_url


def _handler(site: Site, routes: Mapping[str, Route], fallback: Route | None = None) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, send_body: bool) -> None:
            site._record(self.path)
            route = routes.get(self.path)
            if route is None:
                route = routes.get(urlsplit(self.path).path)
            if route is None:  # as a web server maps a request to a file: escapes decoded
                route = routes.get(unquote(urlsplit(self.path).path), fallback)
            if route is None:
                reply: Reply | Stream = Reply(b"not found", status=404, content_type="text/plain")
            elif callable(route):
                reply = _as_reply(
                    route(SiteRequest(self.command, self.path, dict(self.headers)))
                )
            else:
                reply = _as_reply(route)
            if isinstance(reply, Stream):
                self._stream(reply, send_body)
                return
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.end_headers()
            if send_body:
                try:
                    self.wfile.write(reply.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (e.g. a size limit); fine

        def _stream(self, reply: Stream, send_body: bool) -> None:
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            if reply.length is not None:
                self.send_header("Content-Length", str(reply.length))
            for name, value in reply.headers:
                self.send_header(name, value)
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            if not send_body:
                return
            try:
                for chunk in reply.chunks():
                    self.wfile.write(chunk)
                    self.wfile.flush()
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (a time or size limit); fine

        def do_GET(self) -> None:
            self._reply(send_body=True)

        def do_HEAD(self) -> None:
            self._reply(send_body=False)

        def log_message(self, format: str, *args: object) -> None:
            pass  # keep test output quiet

    return Handler


def _tls_context(site: Site, folder: Path) -> ssl.SSLContext:
    """A server context with a fresh self-signed certificate; notes each client's SNI."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hotline test site")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                          serialization.NoEncryption())
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    context.sni_callback = lambda _sock, server_name, _ctx: site.server_names.append(server_name)
    return context


@contextmanager
def serve_site(
    routes: Mapping[str, Route],
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: bool = False,
    fallback: Route | None = None,
) -> Iterator[Site]:
    """Serve ``routes`` on ``host`` (a loopback address; port 0: ephemeral) for the
    duration of the block; over HTTPS with ``tls``."""
    server = _Server((host, port), BaseHTTPRequestHandler)
    site = Site(host, server.server_address[1], scheme="https" if tls else "http")
    if tls:
        with tempfile.TemporaryDirectory() as folder:
            context = _tls_context(site, Path(folder))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.RequestHandlerClass = _handler(site, dict(routes), fallback)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield site
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def unused_port() -> int:
    """A 127.0.0.1 port nothing listens on (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def image_bytes(
    fmt: str = "PNG",
    color: tuple[int, int, int] = (200, 40, 40),
    size: tuple[int, int] = (64, 48),
    shape: str = "ellipse",
) -> bytes:
    """A small benign synthetic image (a coloured shape on a gradient) in ``fmt``
    (any format Pillow writes: PNG, JPEG, GIF, WEBP, BMP, TIFF ...)."""
    width, height = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for x in range(width):
        shade = int(255 * x / max(1, width - 1))
        draw.line([(x, 0), (x, height)], fill=(shade, shade, 255 - shade))
    box = (width // 6, height // 6, width * 5 // 6, height * 5 // 6)
    getattr(draw, shape)(box, fill=color)
    out = io.BytesIO()
    image.save(out, format=fmt)
    return out.getvalue()


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
