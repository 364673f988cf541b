"""review: the analysts' web app, server-rendered.

One job: let people review the queue with as little exposure as possible: log in with a
role, work through clusters of near-duplicates by keyboard, see blurred greyscale thumbnails
and reveal one only on purpose, grade once and see every jurisdiction's derived verdict,
confirm (four-eyes) and override. Starlette + Jinja2 templates + htmx (vendored in
``static/``: the browser needs no network). ``hotline serve`` runs it with uvicorn.

May import: catalog, classification, evidence, hotline (settings, installation).
Nothing imports it but the command line.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import lazy_loader

if TYPE_CHECKING:
    from review.app import create_app
    from review.server import serve

# A submodule is imported when one of its names is first used, not with the package: most
# callers need a few names, and the submodules bring heavy libraries along.
__getattr__ = lazy_loader.attach(__name__, submod_attrs={
    "app": ["create_app"],
    "server": ["serve"],
})[0]


__all__ = ["create_app", "serve"]
