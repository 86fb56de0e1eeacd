"""A signed cookie taken apart on screen — a view of :mod:`scalekit.sessions.cookies`.

:func:`show_cookie` returns an object that a notebook renders as HTML: the cookie with its
three parts coloured (payload, timestamp, signature), a table saying what each part is,
the payload decoded — which anyone can do, no key needed: signing is not encryption — the
signing time, and, given a :class:`~scalekit.sessions.cookies.SessionSigner`, whether the cookie
verifies and if not, why. Plain HTML, no matplotlib; every piece of text is escaped, so a
session holding ``"<script>"`` shows as typed and runs nothing.
"""

from __future__ import annotations

import html
import json
from dataclasses import dataclass

from scalekit.sessions import cookies

__all__ = ["CookieView", "show_cookie"]

#: Okabe–Ito colours (the values of scalekit.views.style.COLORS, not imported from there
#: so that this HTML-only view does not load matplotlib).
PART_COLORS = {"payload": "#0072B2", "timestamp": "#E69F00", "signature": "#009E73"}
_GOOD, _BAD = "#009E73", "#D55E00"
#: Longest decoded payload shown (characters); a compressed payload can unpack to far more.
MAX_SHOWN_CHARS = 3000
_TAG_NAMES = {" t": "tuple", " b": "bytes", " d": "datetime", " u": "UUID", " m": "Markup",
              " di": "dict whose key looks like a tag"}


@dataclass(frozen=True)
class CookieView:
    """What :func:`show_cookie` found: the unverified ``parts`` (None if the cookie has no
    three parts, then ``problem`` says why), and — when a signer was given — ``verified``,
    the ``reason`` it failed, the index of the key that signed it out of ``key_count``, and
    the cookie's age by the signer's clock (seconds)."""

    cookie: str
    parts: cookies.CookieParts | None
    problem: str = ""
    verified: bool | None = None
    reason: str = ""
    key_index: int | None = None
    key_count: int = 0
    age_s: int | None = None

    def _repr_html_(self) -> str:
        if self.parts is None:
            shown = _truncate(self.cookie, 200)
            return (f"<div><p><b>Not a signed session cookie</b>: {_esc(self.problem)}</p>"
                    f"<pre style='white-space:pre-wrap;word-break:break-all'>{_esc(shown)}"
                    f"</pre></div>")
        return ("<div>" + _header(self.parts) + _coloured(self.parts) + _table(self.parts)
                + _payload(self.parts) + _signed_at(self) + _status(self) + "</div>")


def show_cookie(cookie: str, signer: cookies.SessionSigner | None = None) -> CookieView:
    """The anatomy of ``cookie`` (a cookie value, as ``SessionSigner.dumps`` or Flask make
    it), and, if ``signer`` is given, its verdict on it."""
    if signer is not None and not isinstance(signer, cookies.SessionSigner):
        raise TypeError(f"signer must be a scalekit.sessions.cookies.SessionSigner or None, "
                        f"got {type(signer).__name__}")
    try:
        anatomy = cookies.parts(cookie)  # TypeError for a non-str passes through
    except (cookies.BadCookie, cookies.CookieTooLarge) as exc:
        return CookieView(cookie=cookie, parts=None, problem=str(exc))
    if signer is None:
        return CookieView(cookie=cookie, parts=anatomy)
    try:
        signer.loads(cookie)
        verified, reason = True, ""
    except (cookies.BadCookie, cookies.CookieTooLarge) as exc:
        verified, reason = False, f"{type(exc).__name__}: {exc}"
    age = None if anatomy.signed_at is None else signer.now() - anatomy.signed_at
    return CookieView(cookie=cookie, parts=anatomy, verified=verified, reason=reason,
                      key_index=signer.key_index(cookie), key_count=len(signer.secret_keys),
                      age_s=age)


# --------------------------------------------------------------------------- pieces


def _esc(text: str) -> str:
    # lone surrogates (possible in a decoded payload) cannot be written out as UTF-8
    return html.escape(text.encode("utf-8", "backslashreplace").decode("utf-8"))


def _truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return f"{text[:limit]}… ({len(text) - limit:,} more characters)"


def _span(part: str, text: str) -> str:
    color = PART_COLORS[part]
    # the colour underlines and tints; the text stays black (orange text is hard to read)
    return (f"<span title='{part}' style='border-bottom:3px solid {color};"
            f"background:{color}22'>{_esc(text)}</span>")


def _header(p: cookies.CookieParts) -> str:
    return (f"<p><b>Session cookie</b>: {p.size_bytes:,} bytes (limit "
            f"{cookies.MAX_COOKIE_BYTES:,}: Flask warns above it)</p>")


def _coloured(p: cookies.CookieParts) -> str:
    return ("<p style='font-family:monospace;word-break:break-all'>"
            + _span("payload", p.payload_b64) + "." + _span("timestamp", p.timestamp_b64)
            + "." + _span("signature", p.signature_b64) + "</p>")


def _table(p: cookies.CookieParts) -> str:
    compressed = ("zlib-compressed (the leading '.' says so), then " if p.compressed else "")
    rows = [
        ("payload", p.payload_b64,
         f"the session as tagged JSON, {compressed}URL-safe base64 — encoded, not encrypted"),
        ("timestamp", p.timestamp_b64,
         "signing time: Unix seconds as big-endian bytes, base64"),
        ("signature", p.signature_b64,
         "HMAC-SHA1 of payload.timestamp under a key derived from the secret key; only a "
         "key holder can make it"),
    ]
    body = "".join(f"<tr><th style='text-align:left;border-left:6px solid "
                   f"{PART_COLORS[name]}'>{name}</th>"
                   f"<td style='font-family:monospace;word-break:break-all'>"
                   f"{_esc(_truncate(text, 80))}</td><td>{_esc(meaning)}</td></tr>"
                   for name, text, meaning in rows)
    return f"<table><tr><th>part</th><th>text</th><th>what it is</th></tr>{body}</table>"


def _pretty(decoded: str) -> str:
    try:
        return json.dumps(json.loads(decoded), indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return decoded


def _payload(p: cookies.CookieParts) -> str:
    head = ("<p><b>The payload, decoded — anyone can read this</b> (no key needed: signing "
            "is not encryption)</p>")
    if p.decoded is None:
        return head + "<p><i>The payload does not decode (not base64, or bad zlib).</i></p>"
    text = _truncate(_pretty(p.decoded), MAX_SHOWN_CHARS)
    tags = [f"{tag!r} = {name}" for tag, name in _TAG_NAMES.items() if f'"{tag}"' in p.decoded]
    note = (f"<p>Flask's type tags: {_esc(', '.join(tags))}.</p>" if tags else "")
    return head + f"<pre style='white-space:pre-wrap'>{_esc(text)}</pre>" + note


def _signed_at(v: CookieView) -> str:
    p = v.parts
    when = p.signed_at_utc
    if when is None:
        return "<p><b>Signed at</b>: the timestamp does not decode</p>"
    age = "" if v.age_s is None else f"; {v.age_s:,} s ago by the signer's clock"
    return (f"<p><b>Signed at</b>: {when:%Y-%m-%d %H:%M:%S} UTC "
            f"({p.signed_at:,} Unix seconds{age})</p>")


def _status(v: CookieView) -> str:
    if v.verified is None:
        return "<p><i>No signer given: nothing above is verified.</i></p>"
    if v.verified:
        newest = v.key_index == v.key_count - 1
        which = ("the newest key" if newest else
                 f"an older key, secret_keys[{v.key_index}] — the next response should "
                 f"re-sign it with the newest")
        return (f"<p style='color:{_GOOD}'><b>✓ Verifies</b>: signed with {_esc(which)} "
                f"(key {v.key_index + 1} of {v.key_count}).</p>")
    return (f"<p style='color:{_BAD}'><b>✗ Does not verify</b> — {_esc(v.reason)}</p>")
