"""Signed session cookies, made exactly as Flask makes them, from the standard library.

A Flask app keeps a user's session in the user's browser: the session dict travels in a
cookie, signed so that the server can tell whether anyone changed it. Flask 3.1
(``SecureCookieSessionInterface``, on itsdangerous 2.2's ``URLSafeTimedSerializer``) builds
the cookie value in six steps, each a small function here:

1. :func:`serialize` — the dict as Flask's *tagged JSON*: compact, keys sorted, ASCII only;
   tuples, bytes, datetimes ... wrapped as ``{" t": [...]}``, ``{" b": "..."}`` ...
2. :func:`compress` — zlib, but only when that saves at least two bytes;
3. :func:`encode_payload` — URL-safe base64 without ``=`` padding, a leading ``"."`` if
   compressed: the *payload*;
4. :func:`encode_timestamp` — the signing time, whole seconds, big-endian bytes with the
   leading zero bytes stripped, base64;
5. :func:`derive_key` and :func:`get_signature` — key = HMAC-SHA1(secret key, salt
   ``"cookie-session"``); signature = HMAC-SHA1(key, payload "." timestamp), base64;
6. join: ``payload.timestamp.signature``.

Reading (:meth:`SessionSigner.loads`) runs backwards, but trusts nothing until the signature
matches: it recomputes the signature and compares it with :func:`hmac.compare_digest`
(constant time, so the time taken does not leak how many characters were right) before it
decodes a single byte of the payload. Then it checks the timestamp, then decodes.

Signing is not encryption: the payload is base64, which anyone can read back
(:func:`parts` does, without any key). A signature proves only who wrote the data and that
nobody changed it. Clocks are injected (``clock=``) so that tests and simulations fix time;
:func:`time.time` is only the default clock object, never read behind a caller's back.

Every cookie Flask writes, this module writes byte for byte, and reads back. Which cookie a
response carries is the app's decision, not the signer's: Flask sends none for an empty
session, deletes the cookie when a session becomes empty, and re-sends an unchanged one only
when it is permanent (:meth:`SessionSigner.save` makes that decision as Flask's
``SecureCookieSessionInterface.save_session`` does; :func:`dumps` signs whatever it is given,
``{}`` included, as itsdangerous does). It is stricter
than Flask in what it accepts: the signature is compared as text (itsdangerous decodes it
first, so it also takes three other last characters, or a ``=`` added); a timestamp more
than ``clock_skew_s`` ahead is refused even without ``max_age_s``, one slightly ahead is not
(itsdangerous refuses any, when given a max age); cookies over ``MAX_COOKIE_BYTES`` are
refused on reading too; values JSON cannot hold faithfully are refused on writing (see
:func:`serialize`), and a bad tag on reading is an error, not a silent None.

One file of about 630 lines, on purpose: it reads top to bottom as the cookie is made — the
six steps, the anatomy, the signer — in the order of Flask's and itsdangerous's own code, so a
student can hold one beside the other.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import time
import uuid
import zlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from scalekit import _check, _html

__all__ = [
    "SALT", "MAX_COOKIE_BYTES", "CLOCK_SKEW_S", "BadCookie", "BadSignature", "BadTimestamp",
    "SignatureExpired", "BadPayload", "CookieTooLarge", "b64encode", "b64decode", "derive_key",
    "get_signature", "serialize", "deserialize", "compress", "encode_payload", "decode_payload",
    "encode_timestamp", "decode_timestamp", "SessionSigner", "SessionCookie", "CookieParts",
    "parts", "dumps", "loads", "tamper",
]

#: Flask's salt for session cookies (``SecureCookieSessionInterface.salt``).
SALT = "cookie-session"
#: Longest cookie value (bytes = characters: a cookie is ASCII). Browsers keep at least 4096
#: bytes per cookie, name and attributes included (RFC 6265 §6.1); Werkzeug warns when the
#: whole Set-Cookie value passes 4093 — which with ``session=`` and ``; HttpOnly; Path=/``
#: happens from a 4068-byte value on. Here the value alone is measured.
MAX_COOKIE_BYTES = 4093
#: How far in the future (seconds) a timestamp may lie before it is refused: the servers
#: behind a balancer each read their own clock, and those clocks differ a little.
CLOCK_SKEW_S = 60

_SEP = "."
_B64URL = re.compile(r"[A-Za-z0-9_-]*")
#: Flask's tags (flask/json/tag.py): dict with a tag key, tuple, bytes, Markup, UUID, datetime
_TAGS = (" di", " t", " b", " m", " u", " d")


# --------------------------------------------------------------------------- errors


class BadCookie(ValueError):
    """Not a signed session cookie: empty, a part missing, not ASCII. The base of every
    error about a cookie's content, so ``except BadCookie`` catches them all."""


class BadSignature(BadCookie):
    """The signature does not match the cookie's content under any of the keys: the cookie
    was changed, or signed with another key. ``payload`` is the payload part as sent —
    never decoded, since nothing about it can be trusted."""

    def __init__(self, message: str, *, payload: str):
        super().__init__(message)
        self.payload = payload


class BadTimestamp(BadSignature):
    """The signature matches but the timestamp is unusable: malformed (``signed_at`` is
    None), or more than the signer's ``clock_skew_s`` in the future. ``signed_at`` is in
    Unix seconds."""

    def __init__(self, message: str, *, payload: str, signed_at: int | None):
        super().__init__(message, payload=payload)
        self.signed_at = signed_at


class SignatureExpired(BadTimestamp):
    """The signature matches but was made more than ``max_age_s`` ago; ``age_s`` is how
    long ago, in seconds."""

    def __init__(self, message: str, *, payload: str, signed_at: int, age_s: int):
        super().__init__(message, payload=payload, signed_at=signed_at)
        self.age_s = age_s


class BadPayload(BadCookie):
    """The signature and timestamp are good, yet the payload does not decode to a session
    dict (bad base64, zlib, JSON or tag): whoever holds the key signed something else.
    ``payload`` is the payload part; the decoding error is chained as ``__cause__``."""

    def __init__(self, message: str, *, payload: str):
        super().__init__(message)
        self.payload = payload


class CookieTooLarge(BadCookie):
    """A cookie value longer than ``MAX_COOKIE_BYTES``: a browser may silently drop it.
    Raised when writing such a cookie and when reading one. ``size`` is its length in
    bytes, ``limit`` the limit."""

    def __init__(self, size: int, limit: int = MAX_COOKIE_BYTES):
        super().__init__(
            f"the session cookie is {size:,} bytes, over the {limit:,}-byte limit "
            f"(MAX_COOKIE_BYTES; browsers keep at least 4096 bytes per cookie, RFC 6265 "
            f"§6.1): keep less in the session, or keep it on the server")
        self.size = size
        self.limit = limit


# --------------------------------------------------------------------------- the steps


def _bytes(name: str, value) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode("utf-8")
    raise TypeError(f"{name} must be a str or bytes, got {type(value).__name__}")


def b64encode(data: bytes) -> str:
    """URL-safe base64 (``-`` and ``_`` for ``+`` and ``/``) with the ``=`` padding dropped:
    the text can go in a cookie or a URL as it is."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str) -> bytes:
    """The bytes behind :func:`b64encode`'s text; ValueError for any other character or an
    impossible length (one character past a multiple of four)."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str of URL-safe base64, got {type(text).__name__}")
    if not _B64URL.fullmatch(text):
        raise ValueError(f"text is not URL-safe base64 (A–Z, a–z, 0–9, - and _): "
                         f"{text[:40]!r}")
    if len(text) % 4 == 1:
        raise ValueError(f"text is not URL-safe base64: {len(text)} characters cannot encode "
                         f"whole bytes (never one past a multiple of four)")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def derive_key(secret_key: str | bytes, salt: str | bytes = SALT) -> bytes:
    """The signing key: HMAC-SHA1(secret_key, salt) (itsdangerous key derivation "hmac").
    A different salt gives a different key, so a cookie signed for one purpose cannot be
    replayed for another."""
    secret = _bytes("secret_key", secret_key)
    return hmac.new(secret, _bytes("salt", salt), hashlib.sha1).digest()


def get_signature(key: bytes, value: str | bytes) -> str:
    """HMAC-SHA1(key, value), as :func:`b64encode` text (27 characters)."""
    return b64encode(hmac.new(_bytes("key", key), _bytes("value", value), hashlib.sha1).digest())


def serialize(session: Mapping) -> bytes:
    """The session as Flask's tagged JSON: compact separators, keys sorted, ASCII only.

    Supported: str, int, float (finite), bool, None, list and dict (str keys) as plain JSON;
    and as Flask tags them — tuple ``{" t": [...]}``, bytes ``{" b": standard base64}``,
    datetime ``{" d": HTTP date}`` (naive means UTC; whole seconds only, as in Flask),
    uuid.UUID ``{" u": hex}``, anything with ``__html__`` (markupsafe.Markup)
    ``{" m": text}``, and a one-key dict whose key is a tag ``{" di": {key + "__": ...}}``.
    (A datetime before year 100 comes back 1900 or 2000 years later, in Flask too: RFC 5322
    dates read two-digit years so.) Anything else (set, date, Decimal ...) is refused with
    TypeError naming its place and type, where Flask would fail or silently turn it into a
    string; NaN and infinity, which Flask writes as non-standard JSON, with ValueError.
    """
    if not isinstance(session, Mapping):
        raise TypeError(f"session must be a dict, got {type(session).__name__}")
    try:
        tagged = _tag(dict(session), "session")
    except RecursionError:
        raise ValueError("session is nested too deeply (or contains itself)") from None
    return json.dumps(tagged, separators=(",", ":"), sort_keys=True, ensure_ascii=True,
                      allow_nan=False).encode("ascii")


def _tag(value, where: str):
    """One value as JSON-ready data, with Flask's tags, checked in Flask's order."""
    if isinstance(value, dict):
        for key in value:
            if not isinstance(key, str):
                raise TypeError(f"{where} has the key {key!r} ({type(key).__name__}); "
                                f"session keys must be str")
        if len(value) == 1 and next(iter(value)) in _TAGS:
            ((key, item),) = value.items()
            return {" di": {key + "__": _tag(item, f"{where}[{key!r}]")}}
        return {key: _tag(item, f"{where}[{key!r}]") for key, item in value.items()}
    if isinstance(value, tuple):
        return {" t": [_tag(item, f"{where}[{i}]") for i, item in enumerate(value)]}
    if isinstance(value, list):
        return [_tag(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, bytes):
        return {" b": base64.b64encode(value).decode("ascii")}
    if callable(getattr(value, "__html__", None)):
        return {" m": str(value.__html__())}
    if isinstance(value, uuid.UUID):
        return {" u": value.hex}
    if isinstance(value, datetime):
        try:
            return {" d": _http_date(value)}
        except OverflowError as exc:
            raise ValueError(f"{where} is a datetime that cannot be written in UTC: "
                             f"{value!r}") from exc
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 10_000:
        raise ValueError(f"{where} is an integer of {value.bit_length():,} bits, too large "
                         f"to write as JSON")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"{where} is {value!r}; JSON has no NaN or infinity")
    if value is None or isinstance(value, str | int | float):
        return value
    raise TypeError(f"{where} is a {type(value).__name__}, which a session cookie cannot "
                    f"hold; use str, int, float, bool, None, list, dict (str keys), tuple, "
                    f"bytes, datetime or uuid.UUID")


def _http_date(moment: datetime) -> str:
    """RFC 9110 HTTP date, as Werkzeug's ``http_date``: naive datetimes are taken as UTC."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    elif moment.tzinfo != UTC:
        moment = moment.astimezone(UTC)
    return format_datetime(moment, usegmt=True)


def deserialize(data: bytes) -> dict:
    """The session dict back from :func:`serialize`'s bytes: parse the JSON, then undo the
    tags from the inside out, as Flask does. A datetime comes back aware, in UTC, and
    ``{" m": ...}`` comes back as a plain str (Flask makes it a markupsafe.Markup).
    Raises TypeError for anything but bytes, ValueError if the bytes are not such a
    document (too deeply nested ones included)."""
    if not isinstance(data, bytes | bytearray):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    try:
        value = _untag(json.loads(bytes(data).decode("utf-8")))
    except RecursionError as exc:
        raise ValueError("the payload is nested too deeply to be a session") from exc
    if not isinstance(value, dict):
        raise ValueError(f"the payload is a JSON {type(value).__name__}, not an object")
    return value


def _untag(value):
    if isinstance(value, list):
        return [_untag(item) for item in value]
    if not isinstance(value, dict):
        return value
    value = {key: _untag(item) for key, item in value.items()}
    if len(value) != 1 or next(iter(value)) not in _TAGS:
        return value
    ((tag, inner),) = value.items()
    if tag == " di":
        if not isinstance(inner, dict) or len(inner) != 1:
            raise ValueError(f"tag ' di' needs a one-key object, got {inner!r}")
        ((key, item),) = inner.items()
        return {key[:-2]: item}
    if tag == " t":
        if not isinstance(inner, list):
            raise ValueError(f"tag ' t' needs a list, got {inner!r}")
        return tuple(inner)
    if not isinstance(inner, str):
        raise ValueError(f"tag {tag!r} needs a string, got {inner!r}")
    if tag == " b":
        return base64.b64decode(inner, validate=True)
    if tag == " u":
        return uuid.UUID(inner)
    if tag == " d":
        moment = parsedate_to_datetime(inner)
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return inner  # " m": the text of a markupsafe.Markup


def compress(data: bytes) -> tuple[bytes, bool]:
    """zlib-compressed ``data`` and True when that is at least two bytes shorter (the mark
    ``"."`` costs one), else ``data`` unchanged and False — itsdangerous's rule."""
    if not isinstance(data, bytes):
        raise TypeError(f"data must be bytes, got {type(data).__name__}")
    squeezed = zlib.compress(data)
    if len(squeezed) < len(data) - 1:
        return squeezed, True
    return data, False


def encode_payload(data: bytes) -> str:
    """The payload part: :func:`compress`, then :func:`b64encode`, then ``"."`` in front if
    compressed (a ``"."`` never occurs in base64, so the mark cannot be confused)."""
    body, compressed = compress(data)
    return (_SEP if compressed else "") + b64encode(body)


def decode_payload(text: str) -> bytes:
    """The serialised bytes behind a payload part (no signature check: see :func:`parts`).
    Raises TypeError for anything but a str, ValueError if ``text`` is not a payload."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if text.startswith(_SEP):
        try:
            return zlib.decompress(b64decode(text[1:]))
        except zlib.error as exc:
            raise ValueError(f"the payload is marked compressed but is not zlib data: "
                             f"{exc}") from exc
    return b64decode(text)


def encode_timestamp(seconds: int) -> str:
    """The timestamp part: whole Unix seconds as 8 big-endian bytes, leading zero bytes
    stripped, then :func:`b64encode` (1.7e9 s needs 4 bytes: 6 characters)."""
    n = _check.integer("seconds", seconds, low=0, high=2**64 - 1)
    return b64encode(n.to_bytes(8, "big").lstrip(b"\0"))


def decode_timestamp(text: str) -> int:
    """Unix seconds back from a timestamp part; ValueError if it is not one."""
    raw = b64decode(text)
    if len(raw) > 8:
        raise ValueError(f"a timestamp has at most 8 bytes, this one {len(raw)}")
    return int.from_bytes(raw, "big")


# --------------------------------------------------------------------------- anatomy


@dataclass(frozen=True)
class CookieParts:
    """A cookie taken apart and decoded WITHOUT checking its signature: what anyone who
    sees the cookie can read. Nothing here is verified; use :meth:`SessionSigner.loads` to
    trust it. ``signed_at`` (Unix seconds) and ``decoded`` (the JSON text) are None when
    that part does not decode."""

    payload_b64: str
    compressed: bool
    timestamp_b64: str
    signed_at: int | None
    signature_b64: str
    decoded: str | None
    size_bytes: int

    def _repr_html_(self) -> str:
        return _html.key_value_table(asdict(self) | {"signed_at_utc": self.signed_at_utc},
                                     note="Decoded without a key: nothing here is verified.")

    @property
    def signed_at_utc(self) -> datetime | None:
        """``signed_at`` as an aware UTC datetime."""
        if self.signed_at is None:
            return None
        try:
            return datetime.fromtimestamp(self.signed_at, tz=UTC)
        except (OverflowError, OSError, ValueError):
            return None


def _check_cookie(cookie) -> str:
    if not isinstance(cookie, str):
        raise TypeError(f"cookie must be a str (the cookie's value), "
                        f"got {type(cookie).__name__}")
    if len(cookie) > MAX_COOKIE_BYTES:  # checked first: no HMAC is spent on a huge input
        raise CookieTooLarge(len(cookie))
    return cookie


def _split(cookie: str) -> tuple[str, str, str]:
    """payload, timestamp, signature — the last two dots split them (a compressed payload
    starts with a dot of its own)."""
    if not cookie:
        raise BadCookie("the cookie is empty")
    if not cookie.isascii():
        raise BadCookie("a signed cookie is ASCII only; this one is not")
    signed, sep, signature = cookie.rpartition(_SEP)
    payload, sep2, timestamp = signed.rpartition(_SEP)
    if not sep or not sep2:
        found = cookie.count(_SEP) + 1
        raise BadCookie(f"a signed cookie has three parts, payload.timestamp.signature; "
                        f"this one has {found}")
    return payload, timestamp, signature


def parts(cookie: str) -> CookieParts:
    """Take ``cookie`` apart and decode what anyone can decode — no key, no verification.
    A part that does not decode becomes None. Raises BadCookie only if the cookie is empty,
    not ASCII or short of three parts; CookieTooLarge if too long; TypeError if not a
    str."""
    payload, timestamp, signature = _split(_check_cookie(cookie))
    try:
        signed_at = decode_timestamp(timestamp)
    except ValueError:
        signed_at = None
    try:
        decoded = decode_payload(payload).decode("utf-8", errors="backslashreplace")
    except (ValueError, zlib.error):
        decoded = None
    return CookieParts(payload_b64=payload, compressed=payload.startswith(_SEP),
                       timestamp_b64=timestamp, signed_at=signed_at, signature_b64=signature,
                       decoded=decoded, size_bytes=len(cookie))


@dataclass(frozen=True)
class SessionCookie:
    """What a response does with the session cookie: ``action`` is ``"set"`` (``value`` is
    the signed cookie), ``"delete"`` (an empty value that expires at once, so the browser
    drops its cookie) or ``"none"`` (no ``Set-Cookie`` header: the browser keeps what it
    has)."""

    action: str
    value: str | None = None

    def _repr_html_(self) -> str:
        return _html.key_value_table(asdict(self))


# --------------------------------------------------------------------------- the signer


def _secret_keys(secret_keys) -> tuple[bytes, ...]:
    if isinstance(secret_keys, str | bytes):
        secret_keys = [secret_keys]
    elif not isinstance(secret_keys, Iterable):
        raise TypeError(f"secret_keys must be a str, bytes or a list of them (oldest to "
                        f"newest), got {type(secret_keys).__name__}")
    keys = tuple(_bytes(f"secret_keys[{i}]", k) for i, k in enumerate(secret_keys))
    if not keys:
        raise ValueError("secret_keys must hold at least one key, got none")
    for i, key in enumerate(keys):
        if not key:
            raise ValueError(f"secret_keys[{i}] is empty; a signing key must be secret "
                             f"and long (say 32 random bytes)")
    return keys


class SessionSigner:
    """Signs session dicts into cookie values and verifies them back, as a Flask app with
    ``SECRET_KEY = secret_keys[-1]`` and ``SECRET_KEY_FALLBACKS = secret_keys[:-1]`` does.

    ``secret_keys`` — one key (str or bytes), or a list from oldest to newest: the newest
    signs; verification tries the newest first, then the older ones, so keys can be rotated
    without logging everyone out. Drop a key from the list and its cookies stop working.
    ``salt`` — mixed into the key (:func:`derive_key`). ``max_age_s`` — seconds a cookie
    stays valid after signing (None: no limit; Flask uses its
    ``PERMANENT_SESSION_LIFETIME``, 31 days). ``clock`` — a callable returning Unix seconds,
    read when signing and when checking age (default :func:`time.time`). ``clock_skew_s`` —
    how far in the future a timestamp may be before it is refused, with or without
    ``max_age_s``: the servers sharing a key each sign with their own clock.
    """

    def __init__(self, secret_keys, *, salt: str | bytes = SALT,
                 max_age_s: float | None = None, clock: Callable[[], float] | None = None,
                 clock_skew_s: float = CLOCK_SKEW_S):
        self.secret_keys = _secret_keys(secret_keys)
        self.salt = _bytes("salt", salt)
        self.max_age_s = None if max_age_s is None else _check.non_negative("max_age_s",
                                                                            max_age_s)
        if clock is not None and not callable(clock):
            raise TypeError(f"clock must be a callable returning seconds, "
                            f"got {type(clock).__name__}")
        self.clock = time.time if clock is None else clock
        self.clock_skew_s = _check.non_negative("clock_skew_s", clock_skew_s)
        self._keys = tuple(derive_key(k, self.salt) for k in self.secret_keys)

    def __repr__(self) -> str:
        return (f"SessionSigner({len(self.secret_keys)} key(s), salt={self.salt!r}, "
                f"max_age_s={self.max_age_s!r})")

    def now(self) -> int:
        """The clock's reading in whole seconds (the seam where time enters)."""
        return int(_check.number("clock()", self.clock(), low=0, high=2**64 - 1))

    # -- signing

    def sign(self, payload: str) -> str:
        """``payload.timestamp.signature``, signed with the newest key."""
        if not isinstance(payload, str):
            raise TypeError(f"payload must be a str, got {type(payload).__name__}")
        signed = payload + _SEP + encode_timestamp(self.now())
        return signed + _SEP + get_signature(self._keys[-1], signed)

    def dumps(self, session: Mapping) -> str:
        """The cookie value for ``session``; CookieTooLarge if over ``MAX_COOKIE_BYTES``."""
        cookie = self.sign(encode_payload(serialize(session)))
        if len(cookie) > MAX_COOKIE_BYTES:
            raise CookieTooLarge(len(cookie))
        return cookie

    def save(self, session: Mapping, *, modified: bool = True, permanent: bool = False,
             refresh_each_request: bool = True) -> SessionCookie:
        """The cookie a Flask app's response carries for ``session`` at the end of a request,
        by Flask 3.1's rule (``SecureCookieSessionInterface.save_session``): an empty session
        sends nothing, or a deletion if the request ``modified`` it (it became empty); a
        non-empty one is signed (:meth:`dumps`) if ``modified``, or if it is ``permanent``
        and the app sets ``SESSION_REFRESH_EACH_REQUEST`` (``refresh_each_request``), else
        nothing is sent."""
        if not isinstance(session, Mapping):
            raise TypeError(f"session must be a mapping (a dict), got {type(session).__name__}")
        modified = _check.boolean("modified", modified)
        permanent = _check.boolean("permanent", permanent)
        refresh = _check.boolean("refresh_each_request", refresh_each_request)
        if not session:
            return SessionCookie("delete" if modified else "none")
        if not (modified or (permanent and refresh)):
            return SessionCookie("none")
        return SessionCookie("set", self.dumps(session))

    # -- verifying

    def key_index(self, cookie: str) -> int | None:
        """Index in ``secret_keys`` of the key that signed ``cookie`` (the newest tried
        first), or None if none did. Compares with :func:`hmac.compare_digest`."""
        payload, timestamp, signature = _split(_check_cookie(cookie))
        signed = payload + _SEP + timestamp
        given = signature.encode("ascii")
        for index in reversed(range(len(self._keys))):
            expected = get_signature(self._keys[index], signed).encode("ascii")
            if hmac.compare_digest(expected, given):
                return index
        return None

    def unsign(self, cookie: str) -> tuple[str, int]:
        """The payload part and ``signed_at`` of a cookie whose signature and age are good,
        checked in that order; raises the matching :class:`BadCookie` subclass."""
        payload, timestamp, _ = _split(_check_cookie(cookie))
        if self.key_index(cookie) is None:
            keys = "the key" if len(self._keys) == 1 else f"any of the {len(self._keys)} keys"
            raise BadSignature(f"the cookie's signature does not match {keys} in "
                               f"secret_keys: the cookie was changed, or signed with "
                               f"another key", payload=payload)
        try:
            signed_at = decode_timestamp(timestamp)
        except ValueError as exc:
            raise BadTimestamp(f"malformed timestamp {timestamp!r}", payload=payload,
                               signed_at=None) from exc
        now = self.now()
        if signed_at > now + self.clock_skew_s:
            raise BadTimestamp(f"signed at {signed_at} s, {signed_at - now} s in the future "
                               f"(more than clock_skew_s={self.clock_skew_s:g}): a wrong "
                               f"clock, or a forged timestamp", payload=payload,
                               signed_at=signed_at)
        if self.max_age_s is not None and now - signed_at > self.max_age_s:
            raise SignatureExpired(f"signed {now - signed_at} s ago, more than "
                                   f"max_age_s={self.max_age_s:g}", payload=payload,
                                   signed_at=signed_at, age_s=now - signed_at)
        return payload, signed_at

    def loads(self, cookie: str) -> dict:
        """The session dict in ``cookie``, after :meth:`unsign` has checked signature and
        age. Raises TypeError if ``cookie`` is not a str, CookieTooLarge if it is too long,
        else a :class:`BadCookie` subclass naming what is wrong."""
        payload, _ = self.unsign(cookie)
        try:
            return deserialize(decode_payload(payload))
        except (ValueError, TypeError, OverflowError, zlib.error, RecursionError) as exc:
            raise BadPayload(f"the signature is good but the payload does not decode to a "
                             f"session: {exc}", payload=payload) from exc

    def verify(self, cookie: str) -> bool:
        """True when :meth:`loads` would return a session (TypeError still raised)."""
        try:
            self.loads(cookie)
        except (BadCookie, CookieTooLarge):
            return False
        return True

    def parts(self, cookie: str) -> CookieParts:
        """The unverified anatomy of ``cookie`` (see :func:`parts`): the key plays no part."""
        return parts(cookie)


# --------------------------------------------------------------------------- shortcuts


def dumps(session: Mapping, secret_keys, **kw) -> str:
    """``SessionSigner(secret_keys, **kw).dumps(session)``: signed with the newest key."""
    return SessionSigner(secret_keys, **kw).dumps(session)


def loads(cookie: str, secret_keys, **kw) -> dict:
    """``SessionSigner(secret_keys, **kw).loads(cookie)``."""
    return SessionSigner(secret_keys, **kw).loads(cookie)


def tamper(cookie: str, index: int, new_char: str) -> str:
    """``cookie`` with the character at ``index`` (negative counts from the end) replaced
    by ``new_char`` — an attacker's one-character edit, for demonstrations."""
    if not isinstance(cookie, str):
        raise TypeError(f"cookie must be a str, got {type(cookie).__name__}")
    if not cookie:
        raise ValueError("cookie is empty: there is no character to change")
    if not isinstance(new_char, str):
        raise TypeError(f"new_char must be a str of one character, got {new_char!r}")
    if len(new_char) != 1:
        raise ValueError(f"new_char must be a single character, got {new_char[:40]!r}")
    i = _check.integer("index", index, low=-len(cookie), high=len(cookie) - 1)
    i %= len(cookie)
    if cookie[i] == new_char:
        raise ValueError(f"cookie[{index}] is already {new_char!r}: that edit changes nothing")
    return cookie[:i] + new_char + cookie[i + 1:]
