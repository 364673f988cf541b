"""Site types: what kind of site an address belongs to, by a documented heuristic.

INHOPE reports the site types of illegal content (image host, file host, forum, ...). The
catalog does not know them, so each URL is classified by the first rule below that holds:
first the host rules (a known service: the host name is one of its domains or a subdomain),
then the URL rules (a regular expression matching the lower-cased URL); an address no rule
matches is a ``website``. A sighting (an item seen at a media URL on a page) takes the media URL's type
when that is a hosting service (image, file or video host), since the material is stored
there, and the page's type otherwise. The rules are listed in docs/statistics.md.

The rules run inside DuckDB (RE2 syntax). The host rules are tried once per distinct host
name, the URL rules once per URL.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SiteTypeRule:
    site_type: str
    pattern: str  # matched against the host name (HOST_RULES) or the lower-cased URL (URL_RULES)
    why: str


def _hosts(*domains: str) -> str:
    """A pattern matching any of ``domains`` or their subdomains (on a host name)."""
    alternatives = "|".join(d.replace(".", r"\.") for d in domains)
    return rf"(^|\.)({alternatives})$"


HOSTING_TYPES = ("file host", "image host", "video host")

HOST_RULES: tuple[SiteTypeRule, ...] = (
    SiteTypeRule("file host", _hosts(
        "mega.nz", "mega.io", "mediafire.com", "dropbox.com", "drive.google.com", "4shared.com",
        "rapidgator.net", "uploaded.net", "zippyshare.com", "gofile.io", "anonfiles.com", "pixeldrain.com",
        "wetransfer.com", "sendspace.com", "turbobit.net", "nitroflare.com", "katfile.com", "krakenfiles.com",
        "onedrive.live.com", "box.com", "file.io", "filefactory.com", "uploadhaven.com", "bayfiles.com",
    ), "a known file-hosting service"),
    SiteTypeRule("image host", _hosts(
        "imgur.com", "ibb.co", "imgbb.com", "postimg.cc", "postimages.org", "imagebam.com",
        "imagevenue.com", "imagetwist.com", "pixhost.to", "imgbox.com", "turboimagehost.com",
        "pimpandhost.com", "fastpic.org", "fastpic.ru", "radikal.ru", "imgchest.com", "imgsrc.ru",
        "imagefap.com", "picload.org", "directupload.net", "catbox.moe", "pixroute.com",
    ), "a known image-hosting service"),
    SiteTypeRule("video host", _hosts(
        "youtube.com", "youtu.be", "vimeo.com", "dailymotion.com", "rutube.ru", "streamable.com",
        "rumble.com", "bitchute.com", "odysee.com",
    ), "a known video-hosting service"),
    SiteTypeRule("social network", _hosts(
        "twitter.com", "x.com", "facebook.com", "instagram.com", "vk.com", "ok.ru", "reddit.com",
        "tiktok.com", "t.me", "telegram.me", "discord.com", "snapchat.com", "pinterest.com",
    ), "a known social network"),
    SiteTypeRule("blog", _hosts("blogspot.com", "wordpress.com", "tumblr.com", "livejournal.com", "medium.com"),
                 "a known blogging platform"),
)
URL_RULES: tuple[SiteTypeRule, ...] = (
    SiteTypeRule("file host", r"^[^?#]*://[^/?#]+/([^?#]*/)?(file|files|download|downloads|dl)/[^/?#]+",
                 "a path of a file download (/file/, /download/, /dl/ ...)"),
    SiteTypeRule("image board", r"^[^?#]*://([^/?#]*chan\.[^/?#]*)/|/res/[0-9]+\.html?([?#]|$)",
                 "an image board (a host with \u201cchan.\u201d, or a /res/<number>.html thread)"),
    SiteTypeRule("forum",
                 r"^[^?#]*://(forum|forums|board|boards|community|bbs)\.|"
                 r"^[^?#]*://[^/?#]+/([^?#]*/)?(forum|forums|board|boards|community|bbs|threads?|topics?)/|"
                 r"(viewtopic|showthread|viewthread|showtopic|forumdisplay)\.php",
                 "a forum (forum./board. host, /forum/, /thread(s)/, /topic(s)/ paths, phpBB/vBulletin pages)"),
    SiteTypeRule("blog", r"^[^?#]*://blog\.|^[^?#]*://[^/?#]+/([^?#]*/)?blogs?/",
                 "a blog (blog. host or /blog/ path)"),
)
RULES = HOST_RULES + URL_RULES  # host rules first: a known service decides before any path

DEFAULT = "website"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def host_type_sql(host: str) -> str:
    """A DuckDB expression: the site type the host name ``host`` decides, or NULL."""
    whens = " ".join(f"WHEN regexp_matches({host}, {_quote(r.pattern)}) THEN {_quote(r.site_type)}"
                     for r in HOST_RULES)
    return f"CASE {whens} END"


def url_type_sql(url: str) -> str:
    """A DuckDB expression: the site type the URL's path decides, or NULL."""
    whens = " ".join(f"WHEN regexp_matches(lower({url}), {_quote(r.pattern)}) THEN {_quote(r.site_type)}"
                     for r in URL_RULES)
    return f"CASE {whens} END"


def site_type_sql(url: str) -> str:
    """A DuckDB expression giving the site type of the URL expression ``url`` (NULL for NULL)."""
    return (f"CASE WHEN {url} IS NOT NULL THEN coalesce({host_type_sql(host_sql(url))}, {url_type_sql(url)}, "
            f"{_quote(DEFAULT)}) END")


def host_sql(url: str) -> str:
    """A DuckDB expression: the lower-cased host name of the URL expression ``url``."""
    return ("nullif(rtrim(lower(regexp_extract(" + url + ", "
            r"'^[a-zA-Z][a-zA-Z0-9+.-]*://(?:[^/?#@]*@)?(\[[^\]]*\]|[^/?#:]*)', 1)), '.'), '')")


def sighting_site_type_sql(media_type: str, page_type: str) -> str:
    """A DuckDB expression: the media URL's type if it is a hosting service, else the page's."""
    hosting = ", ".join(_quote(t) for t in HOSTING_TYPES)
    return f"CASE WHEN {media_type} IN ({hosting}) THEN {media_type} ELSE coalesce({page_type}, {media_type}) END"
