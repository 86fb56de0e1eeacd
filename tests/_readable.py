"""Is a figure readable where a student sees it (issue 19 §3, §5)? Text size as shown in
JupyterLab at 1024×768 with the file browser open, text cut at the figure's edge, and legends
crossed by a drawn line."""

from __future__ import annotations

import _screen
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from scalekit.views.style import PNG_DPI

#: CSS px JupyterLab 4 gives an output at 1024×768 with the file browser open, measured in
#: Chromium (tests/test_views_replication.py): a PNG is shown 592 px wide, a panel's SVG 588;
#: wider images are scaled down to fit, narrower ones shown at their own size.
SHOWN_PX = {"figure": 592, "panel": 588}
#: CSS px per figure inch before scaling: a PNG at PNG_DPI; a panel's SVG is sized in points.
PX_PER_IN = {"figure": PNG_DPI, "panel": 96}
SMALLEST_TEXT_PX = _screen.SMALLEST_TEXT_PX


def _canvas(fig):
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def shown_text(fig, kind: str):
    """(text, CSS px as shown at 1024×768, inside the figure) of every visible text, for a
    ``kind`` of output ("figure": a PNG, "panel": a panel's SVG) — tests/_screen.py's
    measure at the width JupyterLab gives that kind."""
    return _screen.shown_text(fig, PX_PER_IN[kind], SHOWN_PX[kind])


def _drawn_points(ax, artist) -> np.ndarray:
    """Display coordinates along what ``artist`` draws inside its axes (segments sampled
    finely, so a line passing through a box is caught between its data points)."""
    if isinstance(artist, Line2D):
        pieces = [artist.get_transform().transform(artist.get_xydata())]
        linestyle = artist.get_linestyle()
        if linestyle in ("None", "", " "):  # markers only: the points themselves
            return pieces[0]
    else:
        pieces = [artist.get_transform().transform(np.asarray(seg, dtype=float))
                  for seg in artist.get_segments()]
    out = []
    for xy in pieces:
        xy = xy[np.isfinite(xy).all(axis=1)]
        for a, b in zip(xy[:-1], xy[1:], strict=True):
            out.append(a + np.linspace(0, 1, 60)[:, None] * (b - a))
        out.append(xy)
    if not out:
        return np.empty((0, 2))
    pts = np.concatenate(out)
    box = ax.get_window_extent()
    return pts[(pts[:, 0] >= box.x0) & (pts[:, 0] <= box.x1) & (pts[:, 1] >= box.y0)
               & (pts[:, 1] <= box.y1)]


def crossed_legends(fig) -> list[str]:
    """Each legend entry box a drawn line (data, or a marked timeout) passes through."""
    renderer = _canvas(fig)
    legends = [ax.get_legend() for ax in fig.axes if ax.get_legend()] + list(fig.legends)
    found = []
    for legend in legends:
        box = legend.get_window_extent(renderer)
        for ax in fig.axes:
            for artist in [*ax.lines, *(c for c in ax.collections
                                        if isinstance(c, LineCollection))]:
                if not artist.get_visible():
                    continue
                pts = _drawn_points(ax, artist)
                inside = ((pts[:, 0] > box.x0 + 1) & (pts[:, 0] < box.x1 - 1)
                          & (pts[:, 1] > box.y0 + 1) & (pts[:, 1] < box.y1 - 1))
                if inside.any():
                    found.append(f"{artist.get_label()!r} crosses the legend of "
                                 f"{ax.get_title()!r}")
    return found


def check_readable(fig, kind: str, name: str) -> None:
    texts = list(shown_text(fig, kind))
    assert len(texts) > 8
    small = [(t, round(px, 1)) for t, px, _ in texts if px < SMALLEST_TEXT_PX]
    cut = [t for t, _, inside in texts if not inside]
    assert not small, f"{name}: text under {SMALLEST_TEXT_PX} px at 1024×768: {small}"
    assert not cut, f"{name}: text cut off at the figure's edge: {cut}"
