"""What every topic's views share."""

from __future__ import annotations

import sys


def expect(name: str, value, cls) -> None:
    """Plots take model results: say so plainly when handed something else."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {_public_name(cls)}, got {type(value).__name__}")


def _public_name(cls) -> str:
    """``scalekit.sim.Results`` rather than ``scalekit.sim.results.Results``: the name a
    student imports, when the parent package re-exports the class."""
    module = cls.__module__
    parent = module.rpartition(".")[0]
    if parent and getattr(sys.modules.get(parent), cls.__name__, None) is cls:
        module = parent
    return f"{module}.{cls.__qualname__}"
