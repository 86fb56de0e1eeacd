"""What a student can read on a small screen (issue 19 §5): the size, in CSS pixels, each
text of a figure is shown at in JupyterLab at 1024×768 with the file browser open, and
whether it lies inside the figure. Shared by the view tests of every notebook."""

import matplotlib.text as mtext
from matplotlib.backends.backend_agg import FigureCanvasAgg

#: Width (CSS px) JupyterLab 4 gives an output at a 1024×768 window with the file browser
#: open, measured in Chromium: a static PNG is shown 592 px wide, a panel's SVG 588 (wider
#: images are scaled down to fit, narrower ones are shown at their own size).
SHOWN_PX = 588
#: A panel's SVG is sized in points (1 pt = 4/3 CSS px): 96 CSS px per figure inch.
SVG_PX_PER_IN = 96
SMALLEST_TEXT_PX = 9.0


def _undrawn_tick_labels(fig) -> set[int]:
    """Tick labels matplotlib keeps but does not draw (their tick lies outside the view)."""
    out = set()
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            lo, hi = sorted(axis.get_view_interval())
            pad = 1e-9 * (hi - lo)
            for tick in axis.get_major_ticks() + axis.get_minor_ticks():
                if not lo - pad <= tick.get_loc() <= hi + pad:
                    out |= {id(tick.label1), id(tick.label2)}
    return out


def shown_text(fig, dpi: float, shown_px: float = SHOWN_PX):
    """(text, size in CSS px as shown ``shown_px`` wide, inside the figure) of every visible
    text. ``dpi``: CSS px per figure inch before scaling (PNG_DPI for a still, SVG_PX_PER_IN
    for a panel's SVG)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    scale = min(1.0, shown_px / (fig.get_figwidth() * dpi))
    width, height = fig.get_figwidth() * fig.dpi, fig.get_figheight() * fig.dpi
    hidden = _undrawn_tick_labels(fig)
    for text in fig.findobj(mtext.Text):
        if not text.get_visible() or not text.get_text().strip() or id(text) in hidden:
            continue
        box = text.get_window_extent(renderer)
        inside = (box.x0 >= -1 and box.y0 >= -1 and box.x1 <= width + 1
                  and box.y1 <= height + 1)
        yield text.get_text(), text.get_fontsize() * dpi / 72 * scale, inside


def unreadable(fig, dpi: float) -> tuple[list, list]:
    """The texts shown under SMALLEST_TEXT_PX (with their size) and those cut off at the
    figure's edge; both empty for a readable figure. Asserts the figure has text at all."""
    texts = list(shown_text(fig, dpi))
    assert len(texts) > 5, "a figure with (almost) no text: nothing to measure"
    small = [(t, round(px, 1)) for t, px, _ in texts if px < SMALLEST_TEXT_PX]
    return small, [t for t, _, inside in texts if not inside]
