"""Running the review app: ``serve`` for ``hotline serve``; ``running`` for tests and
benchmarks (uvicorn in a thread on 127.0.0.1, stopped on exit)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.applications import Starlette

from hotline.installation import Installation


def serve(installation: Installation, host: str | None = None, port: int | None = None) -> None:
    """Serve the review app until interrupted."""
    from review.app import create_app

    settings = installation.settings
    # proxy headers are read by the app itself, and only with review_behind_proxy (review.auth)
    uvicorn.run(create_app(installation), host=host or settings.review_host, port=port or settings.review_port,
                log_level="warning", access_log=False, server_header=False, proxy_headers=False)


@contextmanager
def running(app: Starlette, port: int) -> Iterator[str]:
    """``app`` served on 127.0.0.1:``port`` in a thread; yields its base URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                                           access_log=False, lifespan="off", proxy_headers=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the review app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
