"""Argument checks shared by every model.

Each check names the parameter, quotes the value it got and says what it accepts, so a
student who passes ``rate=-1`` reads ``rate must be a finite number > 0, got -1`` rather than a
NumPy traceback. Wrong types raise TypeError; wrong values raise ValueError.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def number(
    name: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return ``value`` as a float after checking it is a finite real within the bounds.

    ``low``/``high`` are inclusive unless ``low_open``/``high_open`` make them strict.
    """
    if not _is_real(value):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    try:
        x = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be a finite number, got {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    too_low = low is not None and (x <= low if low_open else x < low)
    too_high = high is not None and (x >= high if high_open else x > high)
    if too_low or too_high:
        bounds = _describe(low, high, low_open, high_open)
        raise ValueError(f"{name} must be {bounds}, got {value!r}")
    return x


def positive(name: str, value: Any) -> float:
    """A finite number > 0 (rates, durations, speeds)."""
    return number(name, value, low=0.0, low_open=True)


def non_negative(name: str, value: Any) -> float:
    """A finite number >= 0 (delays, jitter, warm-up)."""
    return number(name, value, low=0.0)


def boolean(name: str, value: Any) -> bool:
    """Return ``value`` as a bool if it is True or False (numpy's too; not 0/1, not "yes")."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def probability(name: str, value: Any) -> float:
    """A number in [0, 1]."""
    return number(name, value, low=0.0, high=1.0)


def integer(name: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """An int (not a bool, not a float) within the inclusive bounds."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r} ({type(value).__name__})")
    n = int(value)
    if (low is not None and n < low) or (high is not None and n > high):
        raise ValueError(f"{name} must be {_describe(low, high, noun='an integer')}, "
                         f"got {value!r}")
    return n


def choice(name: str, value: Any, options: Iterable[str]) -> str:
    """One of a fixed set of names (policies, distributions, modes)."""
    options = tuple(options)
    if not isinstance(value, str):
        raise TypeError(f"{name} must be one of {_quoted(options)}, got {value!r}")
    if value not in options:
        raise ValueError(f"unknown {name} {value!r}; choose one of {_quoted(options)}")
    return value


def seed(value: Any) -> int | None:
    """A seed for ``numpy.random.default_rng``: None or a non-negative int."""
    if value is None:
        return None
    return integer("seed", value, low=0)


def text(name: str, value: Any, *, min_len: int = 1, max_len: int | None = None) -> str:
    """A str of ``min_len`` (default 1: not empty) to ``max_len`` characters — a name, a key,
    a value — never a number or None turned into one by ``str()``."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {_shown(value)} ({type(value).__name__})")
    if len(value) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} character(s), "
                         f"got {_shown(value)}")
    if max_len is not None and len(value) > max_len:
        raise ValueError(f"{name} must hold at most {max_len:,} characters, got "
                         f"{len(value):,}")
    return value


def function(name: str, value: Any) -> Any:
    """A callable (a callback, a clock), returned as it is."""
    if not callable(value):
        raise TypeError(f"{name} must be callable (a function), got {_shown(value)} "
                        f"({type(value).__name__})")
    return value


def instance(name: str, value: Any, cls: type | tuple[type, ...]) -> Any:
    """``value`` if it is an instance of ``cls`` (a class or a tuple of them)."""
    if not isinstance(value, cls):
        classes = cls if isinstance(cls, tuple) else (cls,)
        wanted = " or ".join(f"{c.__module__}.{c.__qualname__}".removeprefix("builtins.")
                             for c in classes)
        raise TypeError(f"{name} must be a {wanted}, got {_shown(value)} "
                        f"({type(value).__name__})")
    return value


def sequence(name: str, value: Any, *, what: str = "values", min_len: int = 0,
             max_len: int | None = None) -> list:
    """``value``'s items as a list: a list, tuple, set, range, array or other iterable — not
    a str, bytes or mapping (whose iteration is rarely what was meant), not a lone number —
    holding ``min_len`` to ``max_len`` items (a generator is read no further than
    ``max_len`` + 1). The items themselves are the caller's to check."""
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list of {what}, got {_shown(value)} "
                        f"({type(value).__name__})")
    items = list(value if max_len is None else itertools.islice(value, max_len + 1))
    if max_len is not None and len(items) > max_len:
        raise ValueError(f"{name} must hold at most {max_len:,} {what}, got more")
    if len(items) < min_len:
        raise ValueError(f"{name} must hold at least {min_len} item(s) ({what}), got "
                         f"{len(items)}")
    return items


def optional(check, name: str, value: Any, *args: Any, meaning: str, **kwargs: Any) -> Any:
    """None (which means ``meaning``), or ``value`` checked by ``check(name, value, *args,
    **kwargs)`` — one of the helpers above — whose message then adds that None is accepted."""
    if value is None:
        return None
    try:
        return check(name, value, *args, **kwargs)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"{exc}; or None ({meaning})") from None


def array(
    name: str,
    values: Any,
    *,
    low: float | None = None,
    low_open: bool = False,
    min_len: int = 0,
    sorted_: bool = False,
) -> np.ndarray:
    """A 1-D float array of finite values, optionally bounded below and sorted."""
    if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
        raise TypeError(f"{name} must be a sequence of numbers, got {type(values).__name__}")
    try:
        raw = np.asarray(values)
    except (TypeError, ValueError) as exc:  # e.g. ragged nested lists
        raise TypeError(f"{name} must be a flat sequence of numbers") from exc
    if raw.size and raw.dtype.kind not in "iuf" and raw.dtype != object:
        # strings ("1") and booleans would silently become numbers
        raise TypeError(f"{name} must contain only numbers, got {raw.dtype} values")
    if raw.dtype == object and any(isinstance(v, (str, bytes, bool)) or
                                   not isinstance(v, numbers.Real) for v in raw.ravel()):
        raise TypeError(f"{name} must contain only numbers")
    try:
        arr = np.array(raw, dtype=float)  # a copy: never the caller's array
    except (TypeError, ValueError, OverflowError) as exc:
        raise TypeError(f"{name} must contain only numbers") from exc
    if arr.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {arr.shape}")
    if arr.size < min_len:
        raise ValueError(f"{name} must hold at least {min_len} value(s), got {arr.size}")
    if arr.size and not np.all(np.isfinite(arr)):
        bad = int(np.flatnonzero(~np.isfinite(arr))[0])
        raise ValueError(f"{name} must be finite; {name}[{bad}] is {arr[bad]!r}")
    if low is not None and arr.size:
        bad_mask = arr <= low if low_open else arr < low
        if bad_mask.any():
            bad = int(np.flatnonzero(bad_mask)[0])
            bound = f"> {low:g}" if low_open else f">= {low:g}"
            raise ValueError(f"{name} must be {bound}; {name}[{bad}] is {arr[bad]!r}")
    if sorted_ and arr.size > 1 and np.any(np.diff(arr) < 0):
        bad = int(np.flatnonzero(np.diff(arr) < 0)[0]) + 1
        raise ValueError(f"{name} must be sorted ascending; {name}[{bad}] < {name}[{bad - 1}]")
    return arr


def _describe(low, high, low_open=False, high_open=False, noun="a finite number") -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {_bound(low)}")
    if high is not None:
        parts.append(f"{'<' if high_open else '<='} {_bound(high)}")
    return " ".join([noun, " and ".join(parts)]) if parts else noun


def _bound(x: float) -> str:
    """A bound as a reader writes it: 1,000,000 rather than 1e+06 for a whole number."""
    if float(x).is_integer() and abs(x) >= 1e4:
        return f"{int(x):,}"
    return f"{x:g}"


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters: a message quotes, it does not dump."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 1] + "…"


def _quoted(options: Sequence[str]) -> str:
    return ", ".join(repr(o) for o in options)


def settings(cls: type, given: Any, overrides: dict) -> Any:
    """A runner's settings: ``given`` (an instance of the frozen dataclass ``cls``, or None
    for its defaults) with ``overrides`` (field name → value) applied by
    ``dataclasses.replace``, which validates them again in ``__post_init__``. An unknown
    name raises TypeError listing the accepted ones."""
    if given is None:
        given = cls()
    elif not isinstance(given, cls):
        raise TypeError(f"settings must be a {cls.__name__} or None, got {_shown(given)}")
    fields = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(overrides) - set(fields))
    if unknown:
        raise TypeError(f"unknown setting(s) {unknown}; accepted: {', '.join(fields)}")
    return dataclasses.replace(given, **overrides) if overrides else given
