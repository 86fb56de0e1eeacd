"""Vertical partitioning, measured: one wide table against flights + locations — a view of
:func:`scalekit.partitioning.compare_layouts`."""

from __future__ import annotations

from scalekit.partitioning.vertical import VerticalResult
from scalekit.views._common import expect
from scalekit.views.style import CYCLE, figure, styled

__all__ = ["plot_layouts"]

_LAYOUTS = ("wide", "normalized")


def _times(ratio: float) -> str:
    """'2.1× slower' / '1.4× faster' / 'about the same' for normalized ÷ wide."""
    if 0.9 <= ratio <= 1.1:
        return "about the same"
    return f"{ratio:.1f}× slower" if ratio > 1 else f"{1 / ratio:.1f}× faster"


def _verdict(r: VerticalResult) -> str:
    scan = r.scan_normalized_ms / r.scan_wide_ms if r.scan_wide_ms > 0 else 1.0
    look = r.lookup_normalized_ms / r.lookup_wide_ms if r.lookup_wide_ms > 0 else 1.0
    return (f"Normalized: {r.size_ratio:.0%} of the file size; narrow scan {_times(scan)};\n"
            f"the lookup that needs the join {_times(look)}")


@styled
def plot_layouts(result: VerticalResult):
    """File size, the narrow scan and the lookup (medians of real SQLite runs) for the wide
    and the normalized layout side by side; the title states what the split bought and what
    the join costs."""
    expect("result", result, VerticalResult)
    fig, axes = figure(3, width=7.0, height=3.8, top=0.68, bottom=0.08, left=0.09,
                       wspace=0.45)
    panels = (
        ("file size", "MB", (result.wide_bytes / 1e6, result.normalized_bytes / 1e6)),
        ("narrow scan\n(no location column)", "median time (ms)",
         (result.scan_wide_ms, result.scan_normalized_ms)),
        ("lookup\nneeding the join", "median time (ms)",
         (result.lookup_wide_ms, result.lookup_normalized_ms)),
    )
    for ax, (title, unit, values) in zip(axes, panels, strict=True):
        bars = ax.bar([0, 1], values, color=CYCLE[:2], width=0.6)
        ax.bar_label(bars, labels=[f"{v:,.3g}" for v in values], fontsize=8.5, padding=2)
        ax.set_xticks([0, 1], _LAYOUTS)
        ax.set(ylabel=unit, title=title, ylim=(0, max(values) * 1.2 or 1), xlim=(-0.6, 1.6))
    fig.suptitle(_verdict(result), x=0.02, y=0.985, ha="left", fontsize=10.5,
                 fontweight="bold")
    fig.text(0.02, 0.8, f"{result.flights:,} flights on real SQLite; medians of "
             f"{result.repeats} runs; lookup: flights from {result.city}\nto "
             f"{result.country} ({result.lookup_rows:,} rows)",
             fontsize=8.5, color="#555555")
    return fig
