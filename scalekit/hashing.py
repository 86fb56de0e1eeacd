"""Hashing a key to one of n servers: the rules real balancers and sharded stores use.

Three rules, each as its real system computes it:

* :func:`nginx_ip_hash` — nginx ``ip_hash``: the first three octets of the client's IPv4
  address, folded as ``hash = (hash · 113 + octet) mod 6271`` starting from 89, then
  ``hash mod n``. Every client of one /24 network lands on one server — by design (a NAT or a
  corporate proxy is one "client"), and with only 6271 hash values, by accident too.
* :class:`HashRing` — consistent hashing on a ring of 2³² points, ketama style (libketama's
  MD5 points; nginx ``hash $key consistent`` builds the same kind of ring from CRC32, also
  160 points per server): every server owns ``vnodes`` points, a key goes to the first
  point at or after its own hash, wrapping round. Adding
  a server moves only the keys the new server's points capture: about 1/(n+1) of them.
* :func:`jump_hash` — Lamping and Veach's jump consistent hash (2014): no ring, no memory,
  perfectly balanced; growing n → n+1 moves exactly the keys that go to the new bucket.

Keys are strings (or bytes); hashes come from MD5 (libketama's choice), which is stable
across runs and machines — unlike Python's own ``hash`` of a string.
"""

from __future__ import annotations

import bisect
import hashlib
import ipaddress
from collections.abc import Iterable, Sequence

import numpy as np

from scalekit import _check

__all__ = ["nginx_ip_hash", "network_octets", "HashRing", "jump_hash", "key_hash",
           "DEFAULT_VNODES", "MAX_VNODES"]

#: Points per server on a ring; 160 is libketama's and nginx's default.
DEFAULT_VNODES = 160
MAX_VNODES = 10_000
#: Most points one ring holds (servers × vnodes): each is an MD5 digest to compute.
MAX_RING_POINTS = 1_000_000


def _bytes(name: str, key) -> bytes:
    if isinstance(key, bytes):
        return key
    if isinstance(key, str):
        return key.encode()
    if isinstance(key, int) and not isinstance(key, bool):
        return str(key).encode()
    raise TypeError(f"{name} must be a str, bytes or int, got {type(key).__name__}")


def key_hash(key) -> int:
    """A key's position on the ring, 0 .. 2³²−1: the first four bytes of its MD5 digest,
    little-endian (libketama's ``ketama_hashi``)."""
    return int.from_bytes(hashlib.md5(_bytes("key", key)).digest()[:4], "little")


# --------------------------------------------------------------------------- nginx ip_hash


def network_octets(address: str) -> tuple[int, int, int]:
    """The first three octets of an IPv4 ``address`` — its /24 network, all that nginx
    ``ip_hash`` reads. Raises TypeError for a non-string and ValueError, quoting the
    address, for a string that is not an IPv4 address."""
    if not isinstance(address, str):
        raise TypeError(f"address must be an IPv4 address string such as '192.0.2.7', "
                        f"got {type(address).__name__}")
    try:
        ip = ipaddress.IPv4Address(address)
    except (ipaddress.AddressValueError, ValueError, TypeError) as exc:
        raise ValueError(f"address must be an IPv4 address such as '192.0.2.7', "
                         f"got {address!r}") from exc
    return tuple(ip.packed[:3])


def nginx_ip_hash(address: str, servers: int, *, down: Iterable[int] = ()) -> int:
    """The server nginx ``ip_hash`` picks for a client ``address`` among ``servers`` equal
    servers (ngx_http_upstream_ip_hash_module.c).

    Only the first three octets count. If the server hashed to is in ``down``, nginx hashes
    again (the fold continues over the same three octets) — up to 20 tries, then it falls
    back to round robin; here, after 20 tries, the first server that is up.
    """
    n = _check.integer("servers", servers, low=1, high=1_000_000)
    dead = {_check.integer("down", i, low=0, high=n - 1)
            for i in _check.sequence("down", down, what="server indices")}
    if len(dead) >= n:
        raise ValueError(f"every one of the {n} servers is down: no server to hash to")
    octets = network_octets(address)
    h = 89
    for _ in range(21):
        for o in octets:
            h = (h * 113 + o) % 6271
        if h % n not in dead:
            return h % n
    return next(i for i in range(n) if i not in dead)


# --------------------------------------------------------------------------- the ring


class HashRing:
    """A consistent-hash ring, ketama style: ``vnodes`` points per server.

    ``servers`` are names (strings, such as ``"10.0.0.1:80"`` or ``"shard-3"``); each gets
    ``vnodes`` points, four per MD5 digest of ``"<name>-<i>"`` (libketama). ``server_for(key)``
    walks clockwise from the key's hash to the first point whose server is not in ``down``.
    More points per server even out the arcs: the load per server has a coefficient of
    variation of roughly 1/√vnodes.
    """

    def __init__(self, servers: Sequence[str], vnodes: int = DEFAULT_VNODES):
        names = _check.sequence("servers", servers, what="server names",
                                max_len=MAX_RING_POINTS)
        if not names:
            raise ValueError(f"servers must be a non-empty list of server names, "
                             f"got {servers!r}")
        for name in names:
            _bytes("each server name", name)
        if len(set(names)) != len(names):
            raise ValueError(f"servers must be distinct names, got {names!r}")
        self.servers = tuple(names)
        self.vnodes = _check.integer("vnodes", vnodes, low=1, high=MAX_VNODES)
        if len(names) * self.vnodes > MAX_RING_POINTS:
            raise ValueError(f"servers × vnodes = {len(names) * self.vnodes:,} ring points, "
                             f"more than the {MAX_RING_POINTS:,} one ring allows; use fewer "
                             f"vnodes")
        points: list[tuple[int, int]] = []
        for index, name in enumerate(self.servers):
            for i in range((self.vnodes + 3) // 4):
                digest = hashlib.md5(_bytes("server", name) + b"-" + str(i).encode()).digest()
                for part in range(4):
                    if 4 * i + part < self.vnodes:
                        point = int.from_bytes(digest[4 * part: 4 * part + 4], "little")
                        points.append((point, index))
        points.sort()
        self._points = [p for p, _ in points]
        self._owners = [s for _, s in points]

    def __len__(self) -> int:
        return len(self.servers)

    def __repr__(self) -> str:
        return f"HashRing({len(self.servers)} servers, vnodes={self.vnodes})"

    def index_for(self, key, *, down: Iterable[int] = ()) -> int:
        """Index (into ``servers``) of the server that owns ``key``, skipping ``down``."""
        dead = {_check.integer("down", i, low=0, high=len(self.servers) - 1)
                for i in _check.sequence("down", down, what="server indices")}
        if dead >= set(range(len(self.servers))):
            raise ValueError("every server on the ring is down: no server for the key")
        start = bisect.bisect_left(self._points, key_hash(key))
        n = len(self._points)
        for step in range(n):
            owner = self._owners[(start + step) % n]
            if owner not in dead:
                return owner
        raise AssertionError("unreachable: some server is up")

    def server_for(self, key, *, down: Iterable[int] = ()) -> str:
        """Name of the server that owns ``key``."""
        return self.servers[self.index_for(key, down=down)]

    def indices_for(self, keys: Sequence) -> np.ndarray:
        """Owners of many keys at once (every server up), as an int array."""
        hashes = [key_hash(k) for k in _check.sequence("keys", keys, what="keys")]
        pos = np.searchsorted(np.asarray(self._points, dtype=np.int64), hashes, side="left")
        owners = np.asarray(self._owners, dtype=np.int64)
        return owners[pos % len(self._points)]

    def shares(self) -> np.ndarray:
        """Fraction of the hash space each server owns (the arc lengths; sums to 1)."""
        pts = np.asarray(self._points, dtype=np.float64)
        arcs = np.diff(np.concatenate((pts, [pts[0] + 2.0**32])))
        before = np.roll(arcs, 1)  # keys in (p_{j−1}, p_j] belong to point j's owner
        return np.bincount(self._owners, weights=before, minlength=len(self.servers)) / 2**32


# --------------------------------------------------------------------------- jump hash


def jump_hash(key: int, buckets: int) -> int:
    """Lamping and Veach's jump consistent hash: the bucket 0..buckets−1 for a 64-bit
    integer ``key`` (hash a string key with :func:`key_hash` first)."""
    if isinstance(key, bool) or not isinstance(key, int | np.integer):
        raise TypeError(f"key must be an int, got {type(key).__name__}")
    n = _check.integer("buckets", buckets, low=1, high=2**31 - 1)
    k = int(key) & 0xFFFFFFFFFFFFFFFF
    b, j = -1, 0
    while j < n:
        b = j
        k = (k * 2862933555777941757 + 1) & 0xFFFFFFFFFFFFFFFF
        j = int((b + 1) * (float(1 << 31) / float((k >> 33) + 1)))
    return b
