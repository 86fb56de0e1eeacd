"""Independent random streams from one seed, the way numpy recommends.

A model that needs randomness for several purposes — network jitter, arrival instants, a
client's choices — should not seed one generator with ``seed`` and another with ``seed + 1``:
then seed 0's second stream *is* seed 1's first, and two runs that a student believes are
independent share their draws. numpy's answer is :class:`numpy.random.SeedSequence`: it
hashes the seed into a high-quality entropy pool, and ``spawn(n)`` derives ``n`` children that
are statistically independent of each other and of every other seed's children (numpy,
*Parallel random number generation*:
https://numpy.org/doc/stable/reference/random/parallel.html).

Child ``i`` depends only on ``seed`` and ``i`` (its spawn key is ``(i,)``), not on how many
children were asked for: ``streams(seed, 3)[0]`` draws exactly what ``streams(seed, 1)[0]``
draws, so a model may give its streams fixed positions (its network at 0, its arrivals at 1)
and add a stream at the end later without changing the earlier ones.
"""

from __future__ import annotations

import numpy as np

from scalekit import _check

__all__ = ["MAX_STREAMS", "streams", "generator"]

#: Most streams one call derives (each is a generator object; a model needs a handful).
MAX_STREAMS = 1024


def streams(seed: int | None, n: int) -> list[np.random.Generator]:
    """``n`` independent generators derived from ``seed`` with ``SeedSequence(seed).spawn(n)``.

    ``seed`` — a non-negative int, or None for fresh entropy from the operating system (then
    two calls differ). ``n`` — how many streams, 1 to :data:`MAX_STREAMS`. Stream ``i`` is the
    same for every ``n > i``.
    """
    seed = _check.seed(seed)
    n = _check.integer("n", n, low=1, high=MAX_STREAMS)
    return [np.random.default_rng(child) for child in np.random.SeedSequence(seed).spawn(n)]


def generator(seed: int | None | np.random.Generator) -> np.random.Generator:
    """A generator for a model that takes either a seed or a stream someone else derived:
    a :class:`numpy.random.Generator` is used as it is, an int or None seeds a new one."""
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(_check.seed(seed))
