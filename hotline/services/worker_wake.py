"""Wakes the service's worker when a command has created a flow run, so that the run starts
at once instead of at the worker's next look at the work pool (every ``worker_poll_s``).

The worker (``hotline.services.box``, the ``worker`` component) listens on a Unix datagram
socket in ``<data_dir>/service`` (mode 600, same user only); a command that created a run
sends it one empty datagram, and the worker then asks the Prefect API for runs to start, as
its poll does. Runs scheduled by Prefect, or created by anyone else, are still found by the
poll. A wake carries nothing: a worker asked twice, or with no run waiting, finds nothing
more to start, and Prefect's orchestration lets a run start once only (one worker or many).
Standard library only: a command imports this without Prefect.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

SOCKET = "wake.sock"


@contextmanager
def _address(folder: Path) -> Iterator[str]:
    """The socket's address reached through an open descriptor of ``folder``: a Unix socket
    path is limited to about 100 bytes, and data directories may be deeper (Linux)."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{fd}/{SOCKET}"
    finally:
        os.close(fd)


def wake(folder: Path) -> bool:
    """Tell the worker of the service whose files are in ``folder`` that a run waits; False
    when no worker listens (the run then starts at the worker's next poll)."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)  # a full queue means wakes are pending already
        try:
            with _address(folder) as address:
                sock.sendto(b"", address)
        except OSError:
            return False
    return True


async def listen(folder: Path, poll: Callable[[], Awaitable[object]]) -> None:
    """In the worker's event loop: ``poll`` (ask for runs to start) after each wake; wakes
    that arrive meanwhile are served by one more poll. Runs until cancelled."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.setblocking(False)
    (folder / SOCKET).unlink(missing_ok=True)
    mask = os.umask(0o177)
    try:
        with _address(folder) as address:
            sock.bind(address)
    except OSError as exc:
        sock.close()
        print(f"no wake-ups ({exc}): runs start at the worker's polls", flush=True)
        return
    finally:
        os.umask(mask)
    loop = asyncio.get_running_loop()
    try:
        while True:
            await loop.sock_recv(sock, 1)
            while True:  # the wakes already queued
                try:
                    sock.recv(1)
                except BlockingIOError:
                    break
            try:
                await poll()
            except Exception as exc:  # noqa: BLE001 - the regular poll goes on; said in the log
                print(f"a wake-up poll failed, the next poll retries: {type(exc).__name__}: {exc}", flush=True)
    finally:
        sock.close()
        (folder / SOCKET).unlink(missing_ok=True)
