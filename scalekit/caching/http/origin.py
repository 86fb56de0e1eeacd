"""A real origin web server on 127.0.0.1 whose pages carry the cache headers of RFC 9111.

What is modelled: the application server behind every cache. Each page is a real HTTP/1.1
response with ``Date``, ``Last-Modified``, ``Content-Length``, a strong ``ETag`` (a hash of
the body) and a ``Cache-Control`` chosen for what the page is:

=====================================  ====================================================
``/``                                  the home page: ``max-age=<home_max_age_s>``; it links
                                       the current fingerprinted stylesheet
``/news``                              changes often: ``no-cache`` (store, but revalidate every
                                       time — cheap ``304 Not Modified`` answers)
``/static/app.<fingerprint>.css``      ``public, max-age=31536000, immutable``: an update
                                       gets a new URL, so the old one may be cached forever
``/static/app.css``                    the same stylesheet without fingerprint: a short
                                       ``max-age`` (``static_max_age_s``)
``/profile``                           per user (``Cookie: user=<name>`` or ``Authorization``):
                                       ``private, max-age=60`` and ``Vary: Cookie`` (only
                                       ``private`` with ``profile_vary=False``)
``/leaky-profile``                     the same private page mislabelled ``public,
                                       max-age=60`` without ``Vary``: a shared cache will serve
                                       one user's page to the next
``/large``                             ``large_bytes`` bytes, ``public, max-age=60``
anything else                          ``404`` with ``no-store``
=====================================  ====================================================

Conditional requests follow RFC 9110 §13.2.2: ``If-None-Match`` (weak comparison, ``*`` and
lists) decides when present, else ``If-Modified-Since``; a match is answered ``304`` with
no body and the ``Date``, ``ETag``, ``Cache-Control`` and ``Vary`` the ``200`` would carry
(§15.4.5). ``POST /news`` (or :meth:`Origin.update`) changes a page: new body, new ETag, a
later ``Last-Modified`` — unless it carries an ``If-None-Match`` that matches the current
ETag (or ``*``): then it is ``412 Precondition Failed`` and nothing changes (§13.1.2).
``HEAD`` is answered like ``GET`` without the body.

The server is a :class:`http.server.ThreadingHTTPServer` in a daemon thread of this process,
on a free port, for at most ``max_lifetime_s`` seconds (no server outlives a forgotten
notebook), and it writes no log lines. Times are seconds since the epoch from ``clock``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from scalekit import _check, _html
from scalekit.caching.http.loopback import HOST, LoopbackServer, QuietHandler
from scalekit.caching.http.rules import (
    format_http_date,
    if_none_match_matches,
    parse_http_date,
)

__all__ = ["Origin", "OriginStats", "OriginLogEntry", "HOST", "IMMUTABLE"]

IMMUTABLE = "public, max-age=31536000, immutable"  # a year: the longest max-age in use


# --------------------------------------------------------------------------- the origin


@dataclass(frozen=True)
class OriginStats(_html.ScalarTable):
    """What the origin has answered: ``requests`` in all, of which ``full_responses`` were
    ``200`` with a body, ``not_modified`` were ``304`` (no body), ``other`` anything else
    (404, 405, POST answers); ``bytes_sent`` counts body bytes only (headers left out)."""

    requests: int = 0
    full_responses: int = 0
    not_modified: int = 0
    other: int = 0
    bytes_sent: int = 0


class OriginLogEntry(NamedTuple):
    """One answered request: when (``at``, s since the epoch), what, and how."""

    at: float
    method: str
    path: str
    status: int
    bytes: int


@dataclass
class _Page:
    body: bytes
    content_type: str
    cache_control: str
    last_modified_at: float
    vary: str | None = None

    @property
    def etag(self) -> str:
        return strong_etag(self.body)


class _Reply(NamedTuple):
    status: int
    headers: list[tuple[str, str]]
    body: bytes


def strong_etag(body: bytes) -> str:
    """A strong entity tag: the first 16 hex digits of the body's SHA-256, quoted."""
    return '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


def _user(headers: Mapping[str, str]) -> str:
    """Who asks: the ``user`` cookie, else the Basic or Bearer credentials, else anonymous."""
    for part in (headers.get("Cookie") or "").split(";"):
        name, _, value = part.strip().partition("=")
        if name == "user" and value:
            return value
    scheme, _, credentials = (headers.get("Authorization") or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            return base64.b64decode(credentials).decode().partition(":")[0] or "anonymous"
        except ValueError:
            return "anonymous"
    return credentials.strip() or "anonymous"


class _OriginHandler(QuietHandler):
    def do_GET(self):  # noqa: N802 (the name http.server dispatches to)
        self._send(self.server.owner.respond(self.command, self.path, self.headers))

    do_HEAD = do_GET

    def do_POST(self):  # noqa: N802
        length = int(self.headers.get("Content-Length") or 0)  # (no chunked bodies here)
        body = self.rfile.read(length) if length > 0 else b""
        self._send(self.server.owner.respond(self.command, self.path, self.headers, body))

    def _send(self, reply: _Reply) -> None:
        owner = self.server.owner
        if owner.delay_ms:
            time.sleep(owner.delay_ms / 1e3)
        self.send_response(reply.status)
        for name, value in reply.headers:
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD" and reply.body:
            self.wfile.write(reply.body)


class Origin(LoopbackServer):
    """The origin server: ``with Origin() as origin: urllib.request.urlopen(origin.url + "/")``.

    ``home_max_age_s`` (s) is the home page's ``max-age`` (the lecture's example: 86400, a
    day); ``static_max_age_s`` (s) that of the unfingerprinted ``/static/app.css``;
    ``private_max_age_s`` (s) that of ``/profile`` and ``/leaky-profile``; ``profile_vary``
    whether ``/profile`` also says ``Vary: Cookie`` (False: ``private`` is its only guard, as on
    many real sites — a shared cache that ignores ``private`` then leaks it); ``large_bytes``
    the size of ``/large``; ``delay_ms`` (ms) is added to every answer, 304s included, like
    an application that takes time to render, so a cache's saving shows in the latency;
    ``max_lifetime_s`` (s) how long it serves at most; ``port`` 0 picks a free one;
    ``clock`` gives ``Date`` and ``Last-Modified`` (seconds since the epoch).

    :attr:`stats` counts what it answered, :attr:`log` the recent requests (``log_size``).
    """

    handler = _OriginHandler

    def __init__(self, *, home_max_age_s: float = 60.0, static_max_age_s: float = 300.0,
                 private_max_age_s: float = 60.0, profile_vary: bool = True,
                 large_bytes: int = 1_000_000,
                 delay_ms: float = 0.0, port: int = 0, max_lifetime_s: float = 3600.0,
                 log_size: int = 1000, clock: Callable[[], float] = time.time):
        super().__init__(port=port, max_lifetime_s=max_lifetime_s, clock=clock)
        ages = {"home_max_age_s": home_max_age_s, "static_max_age_s": static_max_age_s,
                "private_max_age_s": private_max_age_s}
        self.home_max_age_s, self.static_max_age_s, self.private_max_age_s = (
            round(_check.non_negative(name, value)) for name, value in ages.items())
        self.profile_vary = _check.boolean("profile_vary", profile_vary)
        self.large_bytes = _check.integer("large_bytes", large_bytes, low=0, high=100_000_000)
        self.delay_ms = _check.number("delay_ms", delay_ms, low=0.0, high=10_000.0)
        self.log: deque[OriginLogEntry] = deque(
            maxlen=_check.integer("log_size", log_size, low=0))
        self._pages_lock = threading.Lock()
        self._counts = dict.fromkeys(("requests", "full_responses", "not_modified", "other",
                                      "bytes_sent"), 0)
        born = float(int(self.clock()))  # HTTP dates have whole seconds
        self._home_text = "Welcome to the scalekit origin."
        self._news_version = 1
        self._pages = {
            "/news": _Page(b"<h1>News</h1><p>news item 1</p>", "text/html; charset=utf-8",
                           "no-cache", born),
            "/static/app.css": _Page(b"body { font-family: sans-serif; }\n",
                                     "text/css", f"max-age={self.static_max_age_s}", born),
            "/large": _Page(bytes(self.large_bytes), "application/octet-stream",
                            "public, max-age=60", born),
        }
        self._old_css: dict[str, bytes] = {}  # fingerprint -> stylesheet, kept for old pages
        self._home_modified_at = self._born = born

    # ---------------------------------------------------------------- the site

    @property
    def fingerprint(self) -> str:
        """The current stylesheet's fingerprint (8 hex digits of its SHA-256)."""
        return hashlib.sha256(self._pages["/static/app.css"].body).hexdigest()[:8]

    @property
    def stylesheet_path(self) -> str:
        """The fingerprinted URL path the home page links: ``/static/app.<fp>.css``."""
        return f"/static/app.{self.fingerprint}.css"

    def update(self, path: str, body: str | bytes | None = None) -> str:
        """Change a page and return its new ETag.

        ``path`` is ``/news`` (``body`` None writes the next "news item"), ``/`` (``body`` is
        the home page's text; the page still links the current stylesheet) or
        ``/static/app.css`` (a new stylesheet, hence a new fingerprinted URL and a new home
        page). The page gets a ``Last-Modified`` later than before, by a second at least.
        """
        _check.choice("path", path, ("/news", "/", "/static/app.css"))
        if not isinstance(body, str | bytes | type(None)):
            raise TypeError(f"body must be str, bytes or None, got {type(body).__name__}")
        with self._pages_lock:
            return self._update_locked(path, body.encode() if isinstance(body, str) else body)

    def _update_locked(self, path: str, text: bytes | None) -> str:
        """:meth:`update`, with ``_pages_lock`` held."""
        if path == "/news":
            self._news_version += 1
            page = self._pages["/news"]
            page.body = text if text is not None else (
                f"<h1>News</h1><p>news item {self._news_version}</p>".encode())
            page.last_modified_at = self._later(page.last_modified_at)
        elif path in ("/", "/static/app.css"):
            if text is None:
                raise ValueError(f"update({path!r}) needs a body")
            if path == "/":
                self._home_text = text.decode(errors="replace")
            else:
                css = self._pages["/static/app.css"]
                self._old_css[self.fingerprint] = css.body
                css.body, css.last_modified_at = text, self._later(css.last_modified_at)
            self._home_modified_at = self._later(self._home_modified_at)
        else:
            raise ValueError(f"unknown page {path!r}; update '/', '/news' or "
                             "'/static/app.css'")
        return self._page_locked(path, {}).etag

    def _later(self, before: float) -> float:
        return max(float(int(self.clock())), before + 1.0)

    def _home(self) -> _Page:
        body = (f"<!doctype html><html><head><title>scalekit origin</title>"
                f'<link rel="stylesheet" href="{self.stylesheet_path}"></head>'
                f"<body><h1>Home</h1><p>{self._home_text}</p><ul>"
                f'<li><a href="/news">news</a></li><li><a href="/profile">your profile</a>'
                f"</li></ul></body></html>").encode()
        return _Page(body, "text/html; charset=utf-8", f"max-age={self.home_max_age_s}",
                     self._home_modified_at)

    def _profile(self, headers: Mapping[str, str], leaky: bool) -> _Page:
        user = _user(headers)
        body = f"<h1>Profile of {user}</h1><p>{user}'s private settings</p>".encode()
        if leaky:  # the origin's mistake: a private page labelled public, without Vary
            return _Page(body, "text/html; charset=utf-8",
                         f"public, max-age={self.private_max_age_s}", self._born)
        return _Page(body, "text/html; charset=utf-8",
                     f"private, max-age={self.private_max_age_s}", self._born,
                     vary="Cookie" if self.profile_vary else None)

    def _page(self, path: str, headers: Mapping[str, str]) -> _Page | None:
        with self._pages_lock:
            return self._page_locked(path, headers)

    def _page_locked(self, path: str, headers: Mapping[str, str]) -> _Page | None:
        if path == "/":
            return self._home()
        if path in ("/profile", "/leaky-profile"):
            return self._profile(headers, leaky=path == "/leaky-profile")
        if path in self._pages:
            page = self._pages[path]
            return _Page(page.body, page.content_type, page.cache_control,
                         page.last_modified_at, page.vary)
        found = re.fullmatch(r"/static/app\.([0-9a-f]{8})\.css", path)
        if found and (found[1] == self.fingerprint or found[1] in self._old_css):
            css = self._pages["/static/app.css"]
            body = css.body if found[1] == self.fingerprint else self._old_css[found[1]]
            return _Page(body, "text/css", IMMUTABLE, css.last_modified_at)
        return None

    # ---------------------------------------------------------------- answering

    def respond(self, method: str, target: str, headers: Mapping[str, str],
                body: bytes = b"") -> _Reply:
        """The answer to one request (what the handler sends), counted in :attr:`stats`."""
        _check.text("method", method, max_len=32)
        _check.text("target", target)
        if not callable(getattr(headers, "get", None)) or isinstance(headers, str | bytes):
            raise TypeError(f"headers must be a mapping name → value (a dict, or the "
                            f"request's message), got {type(headers).__name__}")
        if not isinstance(body, bytes):
            raise TypeError(f"body must be bytes, got {type(body).__name__}")
        path = target.split("?", 1)[0]
        if "://" in path:  # absolute form, as sent to a proxy: keep the path
            path = "/" + path.split("://", 1)[1].partition("/")[2]
        if method == "POST":
            reply = self._post(path, body, headers)
        else:
            page = self._page(path, headers)
            reply = (self._not_found(path) if page is None else
                     self._conditional(page, headers) or self._full(page))
        self._count(method, path, reply)
        return reply

    def _conditional(self, page: _Page, headers: Mapping[str, str]) -> _Reply | None:
        """A 304 if the request's validators match (RFC 9110 §13.2.2), else None."""
        if_none_match = headers.get("If-None-Match")
        if if_none_match is not None:
            matched = if_none_match_matches(if_none_match, page.etag)
        else:
            since = parse_http_date(headers.get("If-Modified-Since"))  # invalid: None
            matched = since is not None and int(page.last_modified_at) <= since
        if not matched:
            return None
        fields = [("ETag", page.etag), ("Cache-Control", page.cache_control)]
        return _Reply(304, fields + ([("Vary", page.vary)] if page.vary else []), b"")

    def _full(self, page: _Page) -> _Reply:
        fields = [("Content-Type", page.content_type), ("Content-Length", str(len(page.body))),
                  ("ETag", page.etag), ("Cache-Control", page.cache_control),
                  ("Last-Modified", format_http_date(page.last_modified_at))]
        return _Reply(200, fields + ([("Vary", page.vary)] if page.vary else []), page.body)

    def _not_found(self, path: str) -> _Reply:
        body = f"no page at {path}\n".encode()
        return _Reply(404, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store")], body)

    def _post(self, path: str, body: bytes, headers: Mapping[str, str]) -> _Reply:
        if path != "/news":
            text = f"POST {path} is not allowed; only POST /news changes a page\n".encode()
            return _Reply(405, [("Allow", "GET, HEAD"), ("Content-Length", str(len(text))),
                                ("Content-Type", "text/plain; charset=utf-8"),
                                ("Cache-Control", "no-store")], text)
        with self._pages_lock:  # the check and the update are one step for this page
            current = self._pages["/news"].etag
            if if_none_match_matches(headers.get("If-None-Match"), current):
                # RFC 9110 §13.1.2: for a method other than GET/HEAD, a matching
                # If-None-Match is 412 Precondition Failed, and nothing changes
                text = (f"If-None-Match matches the current ETag {current}: "
                        "not updated\n").encode()
                return _Reply(412, [("Content-Type", "text/plain; charset=utf-8"),
                                    ("Content-Length", str(len(text))),
                                    ("ETag", current), ("Cache-Control", "no-store")], text)
            etag = self._update_locked("/news", body or None)
        text = f"updated /news, new ETag {etag}\n".encode()
        return _Reply(200, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(text))),
                            ("Cache-Control", "no-store")], text)

    # ---------------------------------------------------------------- counting

    def _count(self, method: str, path: str, reply: _Reply) -> None:
        sent = 0 if method == "HEAD" else len(reply.body)
        kind = ("full_responses" if reply.status == 200 and method != "POST" else
                "not_modified" if reply.status == 304 else "other")
        with self._pages_lock:
            self._counts["requests"] += 1
            self._counts[kind] += 1
            self._counts["bytes_sent"] += sent
            self.log.append(OriginLogEntry(self.clock(), method, path, reply.status, sent))

    @property
    def stats(self) -> OriginStats:
        """What it answered since it was made or :meth:`reset_stats` was called."""
        with self._pages_lock:
            return OriginStats(**self._counts)

    def reset_stats(self) -> None:
        """Set the counts to zero and empty the log."""
        with self._pages_lock:
            self._counts = dict.fromkeys(self._counts, 0)
            self.log.clear()
