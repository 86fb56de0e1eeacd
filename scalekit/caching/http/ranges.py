"""Byte ranges: the ``Range`` a client asks for, the ``206 Partial Content`` that answers it,
and the pieces of a representation a cache holds (RFC 9110 §14, RFC 9111 §3.3–3.4).

* :func:`parse_range` reads ``Range: bytes=0-99, 500-, -20`` (first-last, open-ended and
  suffix ranges, RFC 9110 §14.1.1) — None when the field is absent, not bytes or malformed,
  which a recipient ignores (§14.2);
* :func:`resolve` turns those specs into first/last byte positions for a representation of
  a known length, dropping the unsatisfiable ones (§14.1.1);
* :func:`parse_content_range` reads ``Content-Range: bytes 0-99/1234`` (§14.4);
* :class:`Pieces` is what a cache holds of one representation: disjoint byte runs, merged as
  new parts arrive with the same strong validator (RFC 9111 §3.4), complete when they cover
  every byte.

Units: byte positions (0-based, inclusive ``last`` as on the wire) and lengths in bytes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from scalekit import _check

__all__ = ["parse_range", "resolve", "parse_content_range", "content_range", "Pieces",
           "MAX_RANGES"]

#: More ranges than this in one Range field and the field is ignored (a whole response is
#: sent instead): many small or overlapping ranges are a known denial of service
#: (RFC 9110 §14.2 lets a server ignore or reject them).
MAX_RANGES = 16

_SPEC = re.compile(r"\s*(?:(\d+)-(\d*)|-(\d+))\s*")
_CONTENT_RANGE = re.compile(r"\s*bytes (\d+)-(\d+)/(\d+|\*)\s*", re.I)


def parse_range(value: str | None) -> list[tuple[int | None, int | None]] | None:
    """The byte-range specs of a Range field value as ``(first, last)`` pairs: ``(a, b)``
    for ``a-b``, ``(a, None)`` for ``a-`` (to the end), ``(None, n)`` for the suffix ``-n``
    (the last n bytes). None when there is no field, the unit is not ``bytes`` (compared
    case-insensitively), a spec is malformed or has ``last < first``, or there are more
    than :data:`MAX_RANGES` specs: a recipient ignores such a field (RFC 9110 §14.2)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"value must be a string or None, got {type(value).__name__}")
    unit, eq, rest = value.partition("=")
    if not eq or unit.strip().lower() != "bytes":
        return None
    specs: list[tuple[int | None, int | None]] = []
    for part in rest.split(","):
        if not part.strip():
            continue  # empty list members are allowed (RFC 9110 §5.6.1)
        m = _SPEC.fullmatch(part)
        if m is None:
            return None
        if m[3] is not None:
            specs.append((None, int(m[3])))
        else:
            first, last = int(m[1]), (int(m[2]) if m[2] else None)
            if last is not None and last < first:
                return None
            specs.append((first, last))
    if not specs or len(specs) > MAX_RANGES:
        return None
    return specs


def resolve(specs: list[tuple[int | None, int | None]], length: int) -> list[tuple[int, int]]:
    """The satisfiable ranges of ``specs`` for a representation of ``length`` bytes, as
    inclusive ``(first, last)`` positions (RFC 9110 §14.1.1): a first position at or past the
    end is unsatisfiable, a last one past the end is cut to it, a suffix longer than the
    representation is all of it, a suffix of 0 bytes is unsatisfiable. An empty list means
    nothing is satisfiable: answer ``416`` (§15.5.17)."""
    if isinstance(specs, str | bytes) or not isinstance(specs, list | tuple):
        raise TypeError(f"specs must be a list of (first, last) pairs (parse_range's), got "
                        f"{type(specs).__name__}")
    if not specs:
        raise ValueError("specs must hold at least one (first, last) pair (parse_range "
                         "gives None, not [], for a field to ignore)")
    for spec in specs:
        if (not isinstance(spec, tuple) or len(spec) != 2
                or not all(p is None or (isinstance(p, int) and not isinstance(p, bool)
                                         and p >= 0) for p in spec)
                or spec == (None, None)):
            raise ValueError(f"specs must hold (first, last) pairs of byte positions >= 0 "
                             f"or None, got {spec!r}")
    length = _check.integer("length", length, low=0)
    out = []
    for first, last in specs:
        if first is None:
            if last == 0 or length == 0:
                continue
            out.append((max(0, length - last), length - 1))
        elif first < length:
            out.append((first, length - 1 if last is None else min(last, length - 1)))
    return out


def parse_content_range(value: str | None) -> tuple[int, int, int | None] | None:
    """``(first, last, complete length or None for "*")`` of a Content-Range field value
    ``bytes first-last/length`` (RFC 9110 §14.4), or None if absent or invalid (last before
    first, or past the complete length)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"value must be a string or None, got {type(value).__name__}")
    m = _CONTENT_RANGE.fullmatch(value)
    if m is None:
        return None
    first, last = int(m[1]), int(m[2])
    length = None if m[3] == "*" else int(m[3])
    if last < first or (length is not None and last >= length):
        return None
    return first, last, length


def content_range(first: int, last: int, length: int | None) -> str:
    """The Content-Range field value for bytes ``first..last`` of ``length`` (None: ``*``)."""
    first = _check.integer("first", first, low=0)
    last = _check.integer("last", last, low=0)
    if last < first:
        raise ValueError(f"last ({last}) must be >= first ({first})")
    _check.optional(_check.integer, "length", length, low=0, meaning="unknown: *")
    if length is not None and length <= last:
        raise ValueError(f"length ({length}) must be > last ({last})")
    return f"bytes {first}-{last}/{'*' if length is None else length}"


@dataclass(frozen=True)
class Pieces:
    """Disjoint, sorted byte runs ``(first, data)`` of one representation of ``length`` bytes
    (None if unknown) — the parts of it a cache has seen in 206 responses."""

    length: int | None
    runs: tuple[tuple[int, bytes], ...]

    def __post_init__(self):
        _check.optional(_check.integer, "length", self.length, low=0, meaning="unknown")
        if not isinstance(self.runs, tuple) or not all(
                isinstance(r, tuple) and len(r) == 2 and isinstance(r[0], int)
                and not isinstance(r[0], bool) and r[0] >= 0 and isinstance(r[1], bytes)
                for r in self.runs):
            raise TypeError(f"runs must be a tuple of (first, bytes) runs, got "
                            f"{self.runs!r:.80}")

    def add(self, first: int, data: bytes) -> Pieces:
        """These pieces with ``data`` at ``first`` merged in (adjacent and overlapping runs
        become one; the newer bytes win where they overlap)."""
        _check.integer("first", first, low=0)
        if not isinstance(data, bytes):
            raise TypeError(f"data must be bytes, got {type(data).__name__}")
        runs = sorted(self.runs + ((first, data),), key=lambda run: run[0])
        merged: list[tuple[int, bytearray]] = []
        for start, chunk in runs:
            if merged and start <= merged[-1][0] + len(merged[-1][1]):
                base, buf = merged[-1]
                offset = start - base
                end = offset + len(chunk)
                if start == first and chunk is data:   # the new run wins its overlap
                    buf[offset:end] = chunk
                elif end > len(buf):
                    buf.extend(chunk[len(buf) - offset:])
            else:
                merged.append((start, bytearray(chunk)))
        return Pieces(self.length, tuple((s, bytes(b)) for s, b in merged))

    def covering(self, first: int, last: int) -> bytes | None:
        """Bytes ``first..last`` (inclusive) if one run holds them all, else None."""
        first = _check.integer("first", first, low=0)
        last = _check.integer("last", last, low=0)
        if last < first:
            raise ValueError(f"last ({last}) must be >= first ({first})")
        for start, data in self.runs:
            if start <= first and last < start + len(data):
                return data[first - start:last - start + 1]
        return None

    @property
    def complete(self) -> bytes | None:
        """The whole representation, if the runs cover all ``length`` bytes; else None."""
        if self.length is not None and len(self.runs) == 1:
            start, data = self.runs[0]
            if start == 0 and len(data) == self.length:
                return data
        return None

    @property
    def end(self) -> int:
        """One past the last byte held (0 if nothing)."""
        return max((s + len(d) for s, d in self.runs), default=0)
