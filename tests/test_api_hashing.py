"""Issue 18: every public callable of scalekit.hashing, given one bad value at a time,
refuses it clearly (TypeError/ValueError naming the parameter) or accepts it for a reason
listed here. The machinery and its rules: tests/_walk.py.
"""

from __future__ import annotations

import _walk

PACKAGE = "scalekit.hashing"

H = "scalekit.hashing"
SERVERS = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"]


def _ring():
    from scalekit.hashing import HashRing
    return HashRing(SERVERS, vnodes=8)


EXAMPLES = {
    f"{H}.network_octets": lambda: {"address": "192.0.2.7"},
    f"{H}.nginx_ip_hash": lambda: {"address": "192.0.2.7", "servers": 4, "down": [1]},
    f"{H}.HashRing": lambda: {"servers": SERVERS, "vnodes": 8},
    f"{H}.HashRing.index_for": lambda: {"key": "user-1", "down": [0]},
    f"{H}.HashRing.server_for": lambda: {"key": "user-1", "down": [0]},
    f"{H}.HashRing.indices_for": lambda: {"keys": ["user-1", "user-2"]},
    f"{H}.jump_hash": lambda: {"key": 123456789, "buckets": 10},
}

INSTANCES = {f"{H}.HashRing": _ring}

ANY_KEY = {"string": "any text is a key (hashed by its UTF-8 bytes)",
           "negative": "an int key is hashed by its decimal text (any int)"}

ACCEPTED = {
    (f"{H}.key_hash", "key"): ANY_KEY,
    (f"{H}.HashRing.index_for", "key"): ANY_KEY,
    (f"{H}.HashRing.server_for", "key"): ANY_KEY,
    (f"{H}.jump_hash", "key"): {
        "negative": "a 64-bit key: a negative int is taken modulo 2**64, as the paper's "
                    "uint64 (documented)"},
    (f"{H}.nginx_ip_hash", "down"): {
        "empty list": "no server down (the default, as a list)"},
    (f"{H}.HashRing.index_for", "down"): {
        "empty list": "no server down (the default, as a list)"},
    (f"{H}.HashRing.server_for", "down"): {
        "empty list": "no server down (the default, as a list)"},
    (f"{H}.HashRing.indices_for", "keys"): {
        "empty list": "no keys: an empty array of owners"},
}

SKIP: dict[str, str] = {}


def test_walk_api():
    _walk.assert_clean(__file__)
