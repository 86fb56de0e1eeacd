"""Widget refresh times: model + figure + SVG for each panel at its default settings.

A refresh is what a student waits for after releasing a slider; the budget is 150 ms
(DESIGN.md). Each panel is refreshed several times after a warm-up and the median printed.
The first column is what the student waits for when the panel first appears: building it
and its first refresh — for the first panel that runs the compiled loop in a fresh process,
that includes importing numba and loading its cached kernels (``--only widgets`` runs in a
fresh process, so the figure is the cold one).
"""

from __future__ import annotations

import statistics
import time

BUDGET_MS = 150.0


def measure(repeats: int = 7) -> dict[str, tuple[float, float]]:
    """{topic.panel: (first display ms, median refresh ms)}."""
    from scalekit.views import (
        balancing,
        caching,
        design,
        partitioning,
        replication,
        servers,
        sessions,
    )

    times = {}
    for topic, view in (("servers", servers), ("balancing", balancing),
                        ("sessions", sessions), ("partitioning", partitioning),
                        ("replication", replication), ("caching", caching),
                        ("design", design)):
        for name in view.__all__:
            if not name.startswith("explore_"):
                continue
            start = time.perf_counter()
            panel = getattr(view, name)()
            first_ms = (time.perf_counter() - start) * 1e3
            panel.refresh()  # warm-up: first-use caches (fonts, imports)
            # Each refresh is a real change: the first slider steps back and forth, as when a
            # student nudges it, so the model reruns and the figure's numbers change.
            control = next(c for c in panel.controls.values() if hasattr(c, "max"))
            values = [control.value, _nudge(control)]
            samples = []
            for k in range(repeats):
                control.value = values[(k + 1) % 2]  # the panel refreshes itself
                samples.append(panel.refresh_ms)
            times[f"{topic}.{name}"] = (first_ms, statistics.median(samples))
    return times


def _nudge(control):
    step = getattr(control, "step", 1)
    up = control.value + step
    return up if up <= control.max else control.value - step


def main() -> dict[str, tuple[float, float]]:
    start = time.perf_counter()
    times = measure()
    print(f"\nWidget refresh at default settings (median of 7; budget {BUDGET_MS:.0f} ms)")
    print(f"  {'panel':<32}{'first display':>14}{'refresh':>11}")
    for name, (first, ms) in times.items():
        flag = "" if ms <= BUDGET_MS else "  over budget"
        print(f"  {name:<32}{first:11.0f} ms{ms:8.1f} ms{flag}")
    print(f"  ({time.perf_counter() - start:.1f} s)")
    return times
