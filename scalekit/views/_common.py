"""What every topic's views share."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from scalekit.views.style import MEASURED, SIMULATED, plain_numbers, twinx


def expect(name: str, value, cls) -> None:
    """Plots take model results: say so plainly when handed something else."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {_public_name(cls)}, got {type(value).__name__}")


def results_list(name: str, value, cls) -> list:
    """Plots of several runs take one result, a list of them, or a mapping name → result
    (its values, in order); anything else, an empty collection or a stray element gets a
    clear error."""
    if isinstance(value, cls):
        items = [value]
    elif isinstance(value, Mapping):
        items = list(value.values())
    elif isinstance(value, list | tuple):
        items = list(value)
    else:
        expect(name, value, cls)
    if not items:
        raise ValueError(f"{name} must hold at least one {cls.__name__}, got none")
    for item in items:
        expect(f"each of {name}", item, cls)
    return items


def readable(name: str) -> str:
    """A model's identifier as a reader sees it: ``fewest_connections`` → fewest connections."""
    return name.replace("_", " ")


def _public_name(cls) -> str:
    """``scalekit.sim.Results`` rather than ``scalekit.sim.results.Results``: the name a
    student imports, when the parent package re-exports the class."""
    module = cls.__module__
    parent = module.rpartition(".")[0]
    if parent and getattr(sys.modules.get(parent), cls.__name__, None) is cls:
        module = parent
    return f"{module}.{cls.__qualname__}"


def draw_tradeoff(left, x, cost, cost_label: str, alarms, alarms_label: str, *,
                  xlabel: str, cost_axis: str, alarms_axis: str, linthresh: float):
    """A timeout's two prices on one x axis: what a real failure costs (``cost``, left
    axis, linear, simulated colour) and how often a healthy node is wrongly declared dead
    (``alarms``, right axis, symlog from ``linthresh``, measured colour). Returns the right
    axis; the legend entries of both are the caller's to place."""
    left.plot(x, cost, "-", color=SIMULATED, lw=2, label=cost_label)
    left.set(xlabel=xlabel, ylabel=cost_axis, ylim=(0, None))
    right = twinx(left)
    right.plot(x, alarms, "-", color=MEASURED, lw=2, label=alarms_label)
    right.set_yscale("symlog", linthresh=linthresh)
    plain_numbers(right.yaxis)
    right.set_ylabel(alarms_axis, color=MEASURED)
    right.grid(False)
    return right
