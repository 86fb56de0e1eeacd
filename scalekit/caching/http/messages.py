"""HTTP messages as a cache sees them — no rules, no sockets.

:class:`Headers` holds field lines in order, names case-insensitive, several lines per name
allowed; ``get`` combines repeated lines with ", " (RFC 9110 §5.3), ``get_all`` keeps them
apart (Set-Cookie needs that). Field names must be tokens (RFC 9110 §5.1, §5.6.2) and values
free of CR, LF and NUL (§5.5): a message with anything else is refused, never smuggled on.
:class:`Request` and :class:`Response` are frozen; :class:`Interim` is a 1xx informational
response (RFC 9110 §15.2) — never a final answer, never stored; :class:`OriginUnreachable`
is what an origin function raises when the origin cannot be reached.

Sources: RFC 9110 *HTTP Semantics* (June 2022), §5 fields, §15.2 informational responses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from scalekit import _check

__all__ = ["Headers", "Request", "Response", "Interim", "OriginUnreachable", "is_token"]

_FORBIDDEN = re.compile(r"[\r\n\0]")
# A field name is a token (RFC 9110 §5.1, §5.6.2): tchar = "!#$%&'*+-.^_`|~", digits, letters.
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")


def is_token(text: str) -> bool:
    """Whether ``text`` is an RFC 9110 token (§5.6.2) — what a field name must be (§5.1)."""
    return isinstance(text, str) and _TOKEN.fullmatch(text) is not None


# --------------------------------------------------------------------------- messages

class Headers:
    """HTTP header fields: ordered, multi-valued, with case-insensitive names.

    Build from ``(name, value)`` pairs or a mapping. ``get`` combines repeated field lines
    with ", " (RFC 9110 §5.3); ``get_all`` keeps them apart (needed for Set-Cookie).
    """

    __slots__ = ("_pairs",)
    __hash__ = None  # mutable

    def __init__(self, pairs: Iterable[tuple[str, str]] | Mapping[str, str] | None = None):
        self._pairs: list[tuple[str, str]] = []
        if pairs is None:
            return
        if isinstance(pairs, (str, bytes)) or not isinstance(pairs, Iterable | Mapping |
                                                                 Headers):
            raise TypeError("pairs (the header fields) must be (name, value) pairs or a "
                            f"mapping, got {type(pairs).__name__}")
        items = pairs.items() if isinstance(pairs, (Mapping, Headers)) else pairs
        for item in items:
            if not isinstance(item, tuple) or len(item) != 2:
                raise TypeError(f"each header must be a (name, value) pair, got {item!r}")
            self.add(*item)

    @staticmethod
    def _checked(name: object, value: object) -> tuple[str, str]:
        if not isinstance(name, str) or not name:
            raise TypeError(f"a header name must be a non-empty string, got {name!r}")
        if not _TOKEN.fullmatch(name):
            # RFC 9110 §5.1: field-name = token (no spaces, colons, quotes, brackets, ...)
            raise ValueError(f"header name {name!r} is not a token (RFC 9110 §5.1): use "
                             "letters, digits and !#$%&'*+-.^_`|~ only")
        if not isinstance(value, str):
            raise TypeError(f"header {name} must have a string value, got {value!r}")
        if _FORBIDDEN.search(value):
            raise ValueError(f"header {name!r} has a line break or NUL in its value")
        return name, value

    @staticmethod
    def _name(name: object) -> str:
        if not isinstance(name, str):
            raise TypeError(f"name must be a header field name (a str), got {name!r}")
        return name

    @staticmethod
    def _names(names: object, param: str = "names") -> list[str]:
        if isinstance(names, str | bytes) or not isinstance(names, Iterable):
            raise TypeError(f"{param} must be a collection of header field names, got "
                            f"{names!r}")
        names = list(names)
        for n in names:
            if not isinstance(n, str):
                raise TypeError(f"{param} must hold header field names (str), got {n!r}")
        return names

    def add(self, name: str, value: str) -> None:
        """Append one field line (keeping any with the same name)."""
        self._pairs.append(self._checked(name, value))

    def get(self, name: str, default: str | None = None) -> str | None:
        """All values of ``name`` joined with ", ", or ``default`` if there are none."""
        values = self.get_all(name)
        return ", ".join(values) if values else default

    def get_all(self, name: str) -> list[str]:
        """Each field line's value for ``name``, in order."""
        key = self._name(name).lower()
        return [v for n, v in self._pairs if n.lower() == key]

    def items(self) -> list[tuple[str, str]]:
        """Every (name, value) pair in the original order and case."""
        return list(self._pairs)

    def set(self, name: str, value: str) -> None:
        """Replace every field line for ``name`` with one (at the first one's position)."""
        self._set_trusted(*self._checked(name, value))

    def _set_trusted(self, name: str, value: str) -> None:
        """``set`` without the checks, for a name and value already known to be valid (a
        constant token name, or a pair taken from another Headers). Internal fast path."""
        key, out, done = name.lower(), [], False
        for n, v in self._pairs:
            if n.lower() != key:
                out.append((n, v))
            elif not done:
                out.append((name, value))
                done = True
        if not done:
            out.append((name, value))
        self._pairs = out

    def remove_all(self, names: Iterable[str]) -> None:
        """Drop every field line whose name (any case) is one of ``names``."""
        keys = frozenset(n.lower() for n in self._names(names))
        self._pairs = [(n, v) for n, v in self._pairs if n.lower() not in keys]

    def remove(self, name: str) -> None:
        """Drop every field line for ``name`` (no error if there is none)."""
        self.remove_all((self._name(name),))

    def without(self, names: Iterable[str]) -> Headers:
        """A copy without the field lines whose name (any case) is one of ``names``."""
        names = self._names(names)
        new = self.copy()
        new.remove_all(names)
        return new

    def merged(self, update: Headers, *, skip: Iterable[str] = ()) -> Headers:
        """A copy in which each field ``update`` carries (except those named in ``skip``)
        replaces this one's lines of that name, in place of the first of them (or at the
        end), and keeps every other line: how a cache freshens a stored response with the
        fields of a 304 or 206 (RFC 9111 §3.2, §3.4)."""
        if not isinstance(update, Headers):
            raise TypeError(f"update must be Headers, got {type(update).__name__}")
        skipped = frozenset(n.lower() for n in self._names(skip, "skip"))
        fresh: dict[str, list[tuple[str, str]]] = {}
        for name, value in update._pairs:
            if name.lower() not in skipped:
                fresh.setdefault(name.lower(), []).append((name, value))
        lines, placed = [], set()
        for name, value in self._pairs:
            low = name.lower()
            if low not in fresh:
                lines.append((name, value))
            elif low not in placed:
                lines.extend(fresh[low])
                placed.add(low)
        for low, pairs in fresh.items():
            if low not in placed:
                lines.extend(pairs)
        new = Headers()
        new._pairs = lines  # lines of two Headers: already checked
        return new

    def copy(self) -> Headers:
        """An independent copy."""
        new = Headers.__new__(Headers)
        new._pairs = list(self._pairs)
        return new

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        key = name.lower()
        return any(n.lower() == key for n, _ in self._pairs)

    def __len__(self) -> int:
        return len(self._pairs)

    def __iter__(self) -> Iterator[str]:
        return (n for n, _ in self._pairs)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return ([(n.lower(), v) for n, v in self._pairs]
                == [(n.lower(), v) for n, v in other._pairs])

    def __repr__(self) -> str:
        return f"Headers({self._pairs!r})"


def _as_headers(name: str, value: object) -> Headers:
    if isinstance(value, Headers):
        return value.copy()
    if value is None:
        return Headers()
    if isinstance(value, (Mapping, list, tuple)):
        return Headers(value)
    raise TypeError(f"{name} must be Headers, a mapping or (name, value) pairs, "
                    f"got {type(value).__name__}")


@dataclass(frozen=True)
class Request:
    """A request as the cache sees it: method, target URL and header fields."""

    method: str = "GET"
    url: str = "/"
    headers: Headers = field(default_factory=Headers)

    def __post_init__(self):
        if not isinstance(self.method, str) or not self.method:
            raise TypeError(f"method must be a non-empty string, got {self.method!r}")
        if not isinstance(self.url, str):
            raise TypeError(f"url must be a string, got {self.url!r}")
        object.__setattr__(self, "headers", _as_headers("headers", self.headers))

    def with_headers(self, headers: Headers) -> Request:
        """The same request with other header fields."""
        return Request(self.method, self.url, headers)


@dataclass(frozen=True)
class Response:
    """A response: status code, header fields and body bytes."""

    status: int
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def __post_init__(self):
        _check.integer("status", self.status, low=100, high=999)
        if not isinstance(self.body, (bytes, bytearray)):
            raise TypeError(f"body must be bytes, got {type(self.body).__name__}")
        object.__setattr__(self, "body", bytes(self.body))
        object.__setattr__(self, "headers", _as_headers("headers", self.headers))

    @property
    def final(self) -> bool:
        """Whether this is a final response (2xx-5xx...), not an interim 1xx (RFC 9110 §15)."""
        return self.status >= 200


@dataclass(frozen=True)
class Interim:
    """An interim (1xx) response the origin sent before its final answer, such as ``103
    Early Hints`` (RFC 8297) or ``102 Processing``: passed on to the client where the
    protocol allows, never stored and never merged into the final response (RFC 9110
    §15.2, RFC 9111 §3)."""

    status: int
    headers: Headers = field(default_factory=Headers)

    def __post_init__(self):
        _check.integer("status", self.status, low=100, high=199)
        object.__setattr__(self, "headers", _as_headers("headers", self.headers))


class OriginUnreachable(ConnectionError):
    """Raised by an origin callable when the origin server cannot be reached."""
