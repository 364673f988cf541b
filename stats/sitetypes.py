"""Site types: what kind of site an address belongs to, by a documented heuristic.

INHOPE reports the site types of illegal content (image host, file host, forum, ...). The
catalog does not know them, so each URL is classified by the first rule below whose
regular expression matches the lower-cased URL; an address no rule matches is a
``website``. A sighting (an item seen at a media URL on a page) takes the media URL's type
when that is a hosting service (image, file or video host), since the material is stored
there, and the page's type otherwise. The rules are listed in docs/statistics.md.

The rules run inside DuckDB (RE2 syntax, which these patterns share with Python's ``re``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SiteTypeRule:
    site_type: str
    pattern: str  # matched against the lower-cased URL
    why: str


def _hosts(*domains: str) -> str:
    """A pattern matching URLs on any of ``domains`` or their subdomains."""
    alternatives = "|".join(d.replace(".", r"\.") for d in domains)
    return rf"^[a-z][a-z0-9+.-]*://([^/?#@]*@)?([^/?#:]*\.)?({alternatives})(:[0-9]+)?([/?#]|$)"


HOSTING_TYPES = ("file host", "image host", "video host")

RULES: tuple[SiteTypeRule, ...] = (
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

DEFAULT = "website"


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def site_type_sql(url: str) -> str:
    """A DuckDB expression giving the site type of the URL expression ``url``."""
    whens = " ".join(
        f"WHEN regexp_matches(lower({url}), {_quote(rule.pattern)}) THEN {_quote(rule.site_type)}" for rule in RULES
    )
    return f"CASE WHEN {url} IS NULL THEN NULL {whens} ELSE {_quote(DEFAULT)} END"


def sighting_site_type_sql(media_type: str, page_type: str) -> str:
    """A DuckDB expression: the media URL's type if it is a hosting service, else the page's."""
    hosting = ", ".join(_quote(t) for t in HOSTING_TYPES)
    return f"CASE WHEN {media_type} IN ({hosting}) THEN {media_type} ELSE coalesce({page_type}, {media_type}) END"
