"""Real faults for tests: a small filesystem that fills up, a TCP relay that can be cut
and restored (an S3 endpoint going away mid-crawl), and a server that accepts connections
and never answers (an endpoint that hangs)."""

from __future__ import annotations

import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from hotline.demo.local_site import unused_port


@contextmanager
def mounted_at(link: Path, *mount_args: str) -> Iterator[Path]:
    """``mount MOUNT_ARGS POINT`` on a fresh folder outside pytest's temporary tree, reached
    as ``link`` (a symbolic link to it); lazily unmounted afterwards. A mount a killed run
    leaves behind then never stops pytest's clean-up of old temporary folders. Skips the
    test, with the reason, where mounting is not allowed (no root or CAP_SYS_ADMIN)."""
    point = Path(tempfile.mkdtemp(prefix="hotline-test-mount-"))
    mounted = subprocess.run(["mount", *mount_args, str(point)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        point.rmdir()
        pytest.skip(f"this test needs a mount, and mount was refused: {mounted.stderr.strip()!r}")
    was_folder = link.is_dir()  # an empty folder (say, the evidence store's) is stood in for
    if was_folder:
        link.rmdir()
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(point, target_is_directory=True)
    try:
        yield link
    finally:
        subprocess.run(["umount", "-l", str(point)], capture_output=True, check=False)
        link.unlink()
        if was_folder:
            link.mkdir()
        point.rmdir()


@contextmanager
def small_filesystem(path: Path, size: str) -> Iterator[Path]:
    """A tmpfs of ``size`` (``mount``'s syntax: ``256k``) reached at ``path``, so that writes
    there fail with ENOSPC once it is full. ``grow(path, size)`` frees space as an operator
    would."""
    with mounted_at(path, "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs") as disk:
        yield disk


def grow(path: Path, size: str) -> None:
    """Give the tmpfs mounted on ``path`` more room (its files stay)."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path.resolve())], check=True, capture_output=True)


class TcpProxy:
    """Relays 127.0.0.1:``port`` to ``target`` until :meth:`cut` (the listener closes and
    every live connection is dropped: clients see resets, then refused connections);
    :meth:`restore` listens on the same port again."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = unused_port()
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self.connections = 0
        self.restore()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def restore(self) -> None:
        with self._lock:
            if self._listener is not None:
                return
            listener = socket.create_server(("127.0.0.1", self.port), backlog=256)
            listener.settimeout(0.2)
            self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            open_sockets, self._sockets = self._sockets, set()
        if listener is not None:
            listener.close()
        for sock in open_sockets:
            with suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    close = cut

    def _accept(self, listener: socket.socket) -> None:
        while True:
            with self._lock:
                if self._listener is not listener:
                    return
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            client.settimeout(None)
            upstream.settimeout(None)
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    client.close()
                    upstream.close()
                    return
                self._sockets |= {client, upstream}
                self.connections += 1
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(1 << 16):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


class SilentServer:
    """Accepts connections on 127.0.0.1 and never answers (nor closes them)."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0), backlog=256)
        self.port = self._listener.getsockname()[1]
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._listener.settimeout(0.2)
        threading.Thread(target=self._accept, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._held.append(conn)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        for conn in self._held:
            conn.close()
