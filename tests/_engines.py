"""What the real-engine tests share: whose process it is, and what a wheel's RECORD says."""

from __future__ import annotations

import base64
import importlib.metadata


def uid(pid: int) -> int:
    """The real user id of process ``pid`` (proc(5): the ``Uid:`` line of its status)."""
    with open(f"/proc/{pid}/status") as f:
        return int(next(line for line in f if line.startswith("Uid:")).split()[1])


def record_digest(distribution: str, path: str) -> str:
    """The SHA-256 (hex) the installed wheel's RECORD gives for ``path`` (PEP 376: urlsafe
    base64 without padding)."""
    dist = importlib.metadata.distribution(distribution)
    for line in dist.read_text("RECORD").splitlines():
        name, digest, _size = line.rsplit(",", 2)
        if name.endswith(path):
            algo, b64 = digest.split("=", 1)
            assert algo == "sha256"
            return base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
    raise AssertionError(f"{path} not in {distribution}'s RECORD")
