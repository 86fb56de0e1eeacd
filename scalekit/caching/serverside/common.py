"""What the server-side caching models share: the write strategies, and two small checks."""

from __future__ import annotations

import numpy as np

__all__ = ["INVALIDATIONS", "frozen", "checked_progress"]

#: What a write does to the cached copy: delete it, update it, or write through under a lock.
INVALIDATIONS = ("delete", "update", "write-through")


def frozen(a) -> np.ndarray:
    """``a`` as a read-only numpy array (results are values)."""
    a = np.asarray(a)
    a.setflags(write=False)
    return a


def checked_progress(progress):
    """``progress`` if it is None or a callable(done, total); TypeError otherwise."""
    if progress is not None and not callable(progress):
        raise TypeError(f"progress must be None or a callable(done, total), got {progress!r}")
    return progress
