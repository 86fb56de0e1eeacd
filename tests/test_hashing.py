"""Hashing keys to servers: nginx ip_hash, the ketama ring, jump consistent hash.

Sources: nginx src/http/modules/ngx_http_upstream_ip_hash_module.c (hash 89, fold
``(hash · 113 + octet) mod 6271`` over three octets, then mod the number of servers; rehash
on a down server); libketama / nginx ``hash ... consistent`` (160 points per server, MD5);
Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm" (2014);
Karger et al. 1997 (consistent hashing moves about 1/(n+1) of the keys when a server joins).
"""

import hashlib
import math

import numpy as np
import pytest

from scalekit import hashing

Z = 4.0


def fold(octets, n):
    """The nginx fold written out from the C source, independently of scalekit."""
    h = 89
    for o in octets:
        h = (h * 113 + o) % 6271
    return h % n


# ------------------------------------------------------------------ nginx ip_hash


def test_ip_hash_follows_the_nginx_fold():
    gen = np.random.default_rng(1)
    for a, b, c, d in gen.integers(0, 256, (500, 4)).tolist():
        for n in (2, 3, 7, 16):
            assert hashing.nginx_ip_hash(f"{a}.{b}.{c}.{d}", n) == fold((a, b, c), n)


def test_ip_hash_ignores_the_last_octet():
    """One /24 network (a NAT, an office) is one client to ip_hash."""
    servers = {hashing.nginx_ip_hash(f"198.51.100.{d}", 8) for d in range(256)}
    assert len(servers) == 1


def test_ip_hash_rehashes_past_a_down_server():
    """nginx keeps folding the same three octets until it lands on a live server."""
    address, n = "203.0.113.9", 5
    first = hashing.nginx_ip_hash(address, n)
    h = 89
    for o in (203, 0, 113):
        h = (h * 113 + o) % 6271
    while True:  # the second fold, as the C loop continues it
        for o in (203, 0, 113):
            h = (h * 113 + o) % 6271
        if h % n != first:
            break
    assert hashing.nginx_ip_hash(address, n, down=[first]) == h % n


def test_ip_hash_errors_name_the_problem():
    with pytest.raises(ValueError, match="address"):
        hashing.nginx_ip_hash("300.1.1.1", 4)
    with pytest.raises(ValueError, match="address"):
        hashing.nginx_ip_hash("::1", 4)
    with pytest.raises(ValueError, match="servers"):
        hashing.nginx_ip_hash("10.0.0.1", 0)
    with pytest.raises(ValueError, match="down"):
        hashing.nginx_ip_hash("10.0.0.1", 2, down=[0, 1])
    with pytest.raises(TypeError, match="address"):
        hashing.nginx_ip_hash(True, 4)  # ipaddress would take it as 0.0.0.1
    with pytest.raises(TypeError, match="address"):
        hashing.nginx_ip_hash(167772161, 4)


# ------------------------------------------------------------------ the ring


def test_key_hash_is_md5_little_endian():
    digest = hashlib.md5(b"user-42").digest()
    assert hashing.key_hash("user-42") == int.from_bytes(digest[:4], "little")
    assert hashing.key_hash(b"user-42") == hashing.key_hash("user-42")


def test_every_key_goes_to_the_first_point_at_or_after_its_hash():
    """The ring rule itself, checked against a brute-force walk of the sorted points."""
    ring = hashing.HashRing(["a", "b", "c"], vnodes=8)
    points = sorted(
        (int.from_bytes(hashlib.md5(f"{s}-{i}".encode()).digest()[4 * p: 4 * p + 4], "little"),
         idx)
        for idx, s in enumerate("abc") for i in range(2) for p in range(4)
    )
    for key in (f"k{j}" for j in range(300)):
        h = hashing.key_hash(key)
        owner = next((idx for pt, idx in points if pt >= h), points[0][1])
        assert ring.index_for(key) == owner
    many = ring.indices_for([f"k{j}" for j in range(300)])
    assert [ring.index_for(f"k{j}") for j in range(300)] == many.tolist()


def test_adding_a_server_moves_about_one_in_n_plus_one_keys_and_only_to_it():
    """Consistent hashing (Karger et al. 1997): going from n to n+1 servers, a key either
    stays or moves to the new server, and the new server takes about 1/(n+1) of the keys.
    The new server's share is itself random (a sum of arcs): with v points its relative
    standard deviation is about 1/√v, so allow 1/(n+1) × (1 ± Z/√v)."""
    n, v = 10, 160
    keys = [f"session-{j}" for j in range(20_000)]
    before = hashing.HashRing([f"s{i}" for i in range(n)], v).indices_for(keys)
    after = hashing.HashRing([f"s{i}" for i in range(n + 1)], v).indices_for(keys)
    moved = before != after
    assert np.all(after[moved] == n), "a key moved between two old servers"
    share = moved.mean()
    assert abs(share - 1 / (n + 1)) <= (1 / (n + 1)) * Z / math.sqrt(v), share


def test_mod_n_moves_most_keys():
    """The contrast: hash mod n, from 10 to 11 servers, moves n/(n+1) ≈ 91% of the keys."""
    hashes = np.array([hashing.key_hash(f"session-{j}") for j in range(20_000)])
    moved = (hashes % 10 != hashes % 11).mean()
    se = math.sqrt(moved * (1 - moved) / hashes.size)
    assert abs(moved - 10 / 11) <= Z * se + 1e-3


@pytest.mark.parametrize("vnodes", [10, 100, 1000])
def test_more_virtual_nodes_even_out_the_shares(vnodes):
    """Load coefficient of variation ≈ 1/√v (v=100 → ≈10%): a server's share is the sum
    of v independent arcs of the ring, each with CV ≈ 1 (Karger et al., STOC 1997, "virtual
    copies" of each cache). Over 100 servers
    the sample CV has its own spread (≈ CV/√(2·99)); allow a factor 1.6 either way."""
    ring = hashing.HashRing([f"10.0.{i // 250}.{i % 250}:80" for i in range(100)], vnodes)
    shares = ring.shares()
    assert shares.sum() == pytest.approx(1.0)
    cv = shares.std() / shares.mean()
    assert 1 / 1.6 <= cv * math.sqrt(vnodes) <= 1.6, cv


def test_a_down_server_hands_its_keys_to_the_next_point_only():
    ring = hashing.HashRing([f"s{i}" for i in range(5)])
    keys = [f"u{j}" for j in range(3000)]
    owners = ring.indices_for(keys)
    for key, owner in zip(keys, owners.tolist(), strict=True):
        moved = ring.index_for(key, down=[2])
        assert moved != 2
        if owner != 2:
            assert moved == owner
    with pytest.raises(ValueError, match="down"):
        ring.index_for("x", down=range(5))


def test_ring_errors_name_the_problem():
    with pytest.raises(ValueError, match="servers"):
        hashing.HashRing([])
    with pytest.raises(TypeError, match="servers must be a list of server names"):
        hashing.HashRing("abc")  # one name, not a list of three one-letter names
    with pytest.raises(ValueError, match="distinct"):
        hashing.HashRing(["a", "a"])
    with pytest.raises(ValueError, match="vnodes"):
        hashing.HashRing(["a"], vnodes=0)
    with pytest.raises(TypeError, match="server name"):
        hashing.HashRing([1.5])
    with pytest.raises(TypeError, match="key"):
        hashing.key_hash(None)
    ring = hashing.HashRing(["a", "b"])
    for bad in ([5], ["x"], [-1]):
        with pytest.raises((ValueError, TypeError), match="down"):
            ring.index_for("k", down=bad)
    with pytest.raises(ValueError, match="ring points"):
        hashing.HashRing([f"s{i}" for i in range(1000)], vnodes=10_000)


# ------------------------------------------------------------------ jump hash


def test_jump_hash_is_balanced_and_moves_only_to_the_new_bucket():
    """Lamping & Veach: each bucket gets 1/n of the keys (binomial SE), and n → n+1 moves
    exactly the keys that land in bucket n."""
    keys = np.random.default_rng(3).integers(0, 2**63, 30_000).tolist()
    n = 12
    before = np.array([hashing.jump_hash(k, n) for k in keys])
    after = np.array([hashing.jump_hash(k, n + 1) for k in keys])
    counts = np.bincount(before, minlength=n)
    se = math.sqrt(len(keys) * (1 / n) * (1 - 1 / n))
    assert np.abs(counts - len(keys) / n).max() <= Z * se
    moved = before != after
    assert np.all(after[moved] == n)
    assert abs(moved.mean() - 1 / (n + 1)) <= Z * math.sqrt((1 / (n + 1)) / len(keys))


def test_jump_hash_inputs():
    assert hashing.jump_hash(123, 1) == 0
    with pytest.raises(TypeError, match="key"):
        hashing.jump_hash("123", 4)
    with pytest.raises(ValueError, match="buckets"):
        hashing.jump_hash(1, 0)
