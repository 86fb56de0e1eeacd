"""One look for every figure: colour-blind-safe colours, labelled axes, readable sizes.

The palette is Okabe & Ito's (2008), distinguishable under the common colour-vision
deficiencies. The look is applied to each figure's own axes — never to matplotlib's global
settings, so importing a view changes nothing. Layout uses fixed margins rather than
matplotlib's constrained layout: it is several times cheaper, which keeps a widget refresh
within its 150 ms budget.
"""

from __future__ import annotations

import contextlib
import contextvars
import io

import matplotlib as mpl
from matplotlib.axes import Axes
from matplotlib.axis import Axis
from matplotlib.figure import Figure as _MplFigure
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, NullLocator

from scalekit import _check

#: Okabe–Ito colours by name.
COLORS = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
    "grey": "#999999",
}
#: Colours by role, so the same idea has the same colour in every notebook.
SIMULATED = COLORS["blue"]
THEORY = COLORS["black"]
MEASURED = COLORS["vermillion"]
LIMIT = COLORS["grey"]
CYCLE = [COLORS[k] for k in ("blue", "orange", "green", "vermillion", "sky", "purple",
                             "black", "yellow")]

DPI = 80  # figure units; a panel's SVG scales to the notebook's width
PNG_DPI = 100  # static figures: 950 px wide at the default 9.5 in, text legible


class Figure(_MplFigure):
    """A matplotlib Figure that shows itself in a notebook as a PNG (``_repr_png_``).

    Built without pyplot, so nothing global changes and nothing piles up in pyplot's figure
    list; no matplotlib backend needs to be active for it to display.

    What :func:`figure` built is recorded on it, for a panel that redraws into it and for
    tests that read what was drawn: ``named_axes`` — the axes as :func:`figure` returned them
    (one Axes, an array, or a dict by name); ``layout`` — the layout asked for (a redraw
    reuses the figure only for the same one); ``twins`` — each Axes' second y axis made by
    :func:`twinx`, by its host.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.named_axes = None
        self.layout: tuple | None = None
        self.twins: dict = {}

    def _repr_png_(self) -> bytes:
        return to_png(self)


_REUSE: contextvars.ContextVar[_MplFigure | None] = contextvars.ContextVar("reuse", default=None)


@contextlib.contextmanager
def drawing_into(fig: _MplFigure | None):
    """Inside this block, :func:`figure` hands back ``fig`` — emptied of its data but with
    its axes, ticks and text layout kept — instead of building a new figure, when the layout
    asked for is the same. Building axes and ticks is most of what a matplotlib figure costs,
    so a widget panel that redraws into its previous figure refreshes about twice as fast."""
    token = _REUSE.set(fig)
    try:
        yield
    finally:
        _REUSE.reset(token)


def figure(ncols: int = 1, nrows: int = 1, *, width: float = 9.5, height: float = 3.6,
           mosaic: list[list[str]] | None = None, ratios: dict | None = None,
           **margins: float):
    """A new Figure and its styled axes (one Axes when 1×1, else an array). ``margins``
    override the fixed layout (``left``, ``right``, ``bottom``, ``top`` as figure fractions):
    widen ``left`` for long tick labels, narrow ``right`` for a twin axis.

    ``mosaic`` (rows of axis names; a name repeated spans cells) gives instead a dict of
    named axes, with ``ratios`` such as ``{"width_ratios": [3, 2]}``."""
    ncols = _check.integer("ncols", ncols, low=1, high=12)
    nrows = _check.integer("nrows", nrows, low=1, high=12)
    width = _check.number("width", width, low=1.0, high=30.0)
    height = _check.number("height", height, low=1.0, high=30.0)
    if mosaic is not None and (not isinstance(mosaic, list) or not mosaic or not all(
            isinstance(row, list) and row and len(row) == len(mosaic[0])
            and all(isinstance(name, str) for name in row) for row in mosaic)):
        raise TypeError(f"mosaic must be None or rows (lists of equal length) of axis "
                        f"names, got {mosaic!r:.80}")
    if ratios is not None and not isinstance(ratios, dict):
        raise TypeError(f"ratios must be None or a dict such as {{'width_ratios': [3, 2]}}, "
                        f"got {type(ratios).__name__}")
    for name, value in margins.items():
        if name not in ("left", "right", "bottom", "top", "wspace", "hspace"):
            raise TypeError(f"unknown margin {name}; accepted: left, right, bottom, top, "
                            f"wspace, hspace")
        _check.number(name, value, low=0.0, high=1.0 if name not in ("wspace", "hspace")
                      else 5.0)
    if mosaic is not None:
        nrows, ncols = len(mosaic), len(mosaic[0])
    layout = dict(left=0.08 if ncols > 1 else 0.1, right=0.98, bottom=0.15,
                  top=0.88 if nrows == 1 else 0.92, wspace=0.25, hspace=0.45) | margins
    shape = tuple(map(tuple, mosaic)) if mosaic is not None else (ncols, nrows)
    key = (shape, width, height, tuple(sorted(layout.items())),
           tuple(sorted((k, tuple(v)) for k, v in (ratios or {}).items())))
    old = _REUSE.get()
    if isinstance(old, Figure) and old.layout == key:
        _empty(old)
        return old, old.named_axes
    fig = Figure(figsize=(width, height), dpi=DPI)
    # A fixed title height: axes made while axes.titley is set never move their title to
    # dodge top tick labels (none here), a search matplotlib otherwise repeats on every draw.
    with _rc({"axes.titley": 1.0}):
        if mosaic is not None:
            axes = fig.subplot_mosaic(mosaic, gridspec_kw=ratios or None)
        else:
            axes = fig.subplots(nrows, ncols, squeeze=True)
    fig.subplots_adjust(**layout)
    for ax in fig.axes:
        ax.spines[["top", "right"]].set_visible(False)
        ax.tick_params(labelsize=9)
        ax.set_prop_cycle(color=CYCLE)
        ax.grid(True, alpha=0.3)
        for axis in (ax.xaxis, ax.yaxis):  # ≤ ~6 labelled ticks: enough to read, cheap to draw
            axis.set_major_locator(MaxNLocator(nbins=6, steps=[1, 2, 2.5, 5, 10]))
    fig.layout, fig.named_axes = key, axes
    return fig, axes


def plain_numbers(axis, *, minor_ticks: bool = True) -> None:
    """Label a log or symlog axis with plain numbers (0.1, 1, 10, 1000) rather than the
    default powers of ten: easier to read, and it skips mathtext parsing, which otherwise
    costs more than the rest of the figure. ``minor_ticks=False`` also drops the unlabelled
    2…9 marks between decades — a widget's log axes redraw about twice as fast without
    them."""
    _check.instance("axis", axis, Axis)
    _check.boolean("minor_ticks", minor_ticks)
    axis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())
    if not minor_ticks:
        axis.set_minor_locator(NullLocator())


def twinx(ax):
    """A second y axis sharing ``ax``'s x axis — the same one on every redraw (kept in the
    figure's ``twins``), so a panel that redraws into its figure keeps it (and its ticks)
    instead of stacking new ones."""
    _check.instance("ax", ax, Axes)
    fig = ax.figure
    twins = fig.twins if isinstance(fig, Figure) else {}
    twin = twins.get(ax)
    if twin is None:
        twin = ax.twinx()
        twin.spines[["top"]].set_visible(False)
        twin.tick_params(labelsize=9)
        twins[ax] = twin
    return twin


def _empty(fig: _MplFigure) -> None:
    """Remove everything a plot function drew, keep the axes themselves (and their twins)."""
    grid = _flat(fig.named_axes)
    keep = set(grid) | {fig.twins[ax] for ax in grid if ax in fig.twins}
    for ax in list(fig.axes):
        if ax not in keep:
            fig.delaxes(ax)
    for ax in keep:
        for container in list(ax.containers):  # bars, error bars: the legend reads these
            container.remove()
        for artist in [*ax.lines, *ax.collections, *ax.patches, *ax.texts, *ax.images]:
            artist.remove()
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        # Scales, tick locators and inversion stay: the panel calls the same plot function
        # again, which sets them the same way (changing a scale would rebuild every tick).
        ax.ignore_existing_data_limits = True
        ax.set_autoscale_on(True)
        ax.set_title("")
        ax.set_prop_cycle(color=CYCLE)


def _flat(axes):
    if isinstance(axes, dict):
        return list(axes.values())
    return list(axes.flat) if hasattr(axes, "flat") else [axes]


def finish(fig: _MplFigure) -> _MplFigure:
    """Apply the text look once everything is drawn: bold titles, frameless legends."""
    _check.instance("fig", fig, _MplFigure)
    for ax in fig.axes:
        ax.title.set_fontsize(10.5)
        ax.title.set_fontweight("bold")
        ax.xaxis.label.set_fontsize(9.5)
        ax.yaxis.label.set_fontsize(9.5)
        legend = ax.get_legend()
        if legend is not None:
            legend.get_frame().set_visible(False)
            for text in legend.get_texts():
                text.set_fontsize(8.5)
    return fig


def styled(fn):
    """Decorator for ``plot_*`` functions: the returned figure gets :func:`finish`."""
    _check.function("fn", fn)
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return finish(fn(*args, **kwargs))

    return wrapper


def to_png(fig: _MplFigure) -> bytes:
    """Render a figure to PNG bytes (static figures in a notebook)."""
    _check.instance("fig", fig, _MplFigure)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=PNG_DPI)
    return buf.getvalue()


def to_svg(fig: _MplFigure) -> bytes:
    """Render a figure to SVG bytes with text left as text (the browser sets it): what a
    widget panel shows. Skipping glyph rasterisation and PNG encoding makes a redraw cheaper
    than :func:`to_png`, and the picture stays sharp at any zoom."""
    _check.instance("fig", fig, _MplFigure)
    buf = io.BytesIO()
    with _rc({"svg.fonttype": "none", "svg.hashsalt": "scalekit"}):
        fig.savefig(buf, format="svg", dpi=DPI)
    return buf.getvalue()


@contextlib.contextmanager
def _rc(settings: dict):
    """Like ``matplotlib.rc_context`` for a few keys, restored afterwards — without its copy
    of every setting, which alone costs a noticeable part of a redraw."""
    saved = {key: mpl.rcParams[key] for key in settings}
    mpl.rcParams.update(settings)
    try:
        yield
    finally:
        mpl.rcParams.update(saved)
