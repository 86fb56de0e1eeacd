"""A widget panel: controls → model → figure, refreshed when a control is released.

Every ``explore_*`` view returns a :class:`Panel`. It shows the controls, a status line and
the figure — an SVG image widget, so it renders the same in JupyterLab, Voilà and tests.
The controls sit in a grid of ``columns`` (two by default: two fit JupyterLab at 1024×768
with the file browser open, where three — or a slider's own 300 px — clip), each control
filling its column, readout included.
Sliders use ``continuous_update=False``: the model runs when the student lets go. Each
refresh redraws into the panel's previous figure (:func:`~scalekit.views.style.drawing_into`)
rather than building a new one.

For tests and for measuring: ``panel.controls`` maps names to widgets (set ``.value`` from
Python), ``panel.result`` is the last model result, ``panel.picture`` the last image (SVG
bytes), ``panel.refresh_ms`` how long the last refresh took (model + plot + SVG), and
``panel.error`` the message shown when the model refused the input.
"""

from __future__ import annotations

import gc
import html
import time
from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from scalekit import _check
from scalekit.views.style import drawing_into, to_svg


class Panel(widgets.VBox):
    def __init__(
        self,
        controls: dict[str, widgets.ValueWidget],
        compute: Callable[..., Any],
        draw: Callable[[Any], Any],
        *,
        title: str = "",
        describe: Callable[[Any], str] | None = None,
        columns: int = 2,
    ):
        if not isinstance(controls, dict) or not controls:
            raise TypeError(f"controls must be a non-empty dict of name → ipywidgets control, "
                            f"got {controls!r}")
        for name, control in controls.items():
            _check.text("each name in controls", name)
            _check.instance(f"controls[{name!r}]", control, widgets.ValueWidget)
        _check.function("compute", compute)
        _check.function("draw", draw)
        title = _check.text("title", title, min_len=0)
        if describe is not None:
            _check.function("describe", describe)
        columns = _check.integer("columns", columns, low=1, high=12)
        self.controls = controls
        self._compute, self._draw, self._describe = compute, draw, describe
        self.result: Any = None
        self.picture: bytes = b""
        self.figure = None
        self.refresh_ms = float("nan")
        self.error = ""
        self.status = widgets.HTML()
        self.image = widgets.Image(format="svg+xml", layout=widgets.Layout(max_width="100%"))
        for control in controls.values():
            if hasattr(control, "continuous_update"):
                control.continuous_update = False
            control.style = {"description_width": "initial"}
            if not control.layout.width:  # fills its column and shrinks with the window
                control.layout.width = "98%"
            control.observe(self._on_change, names="value")
        grid = widgets.GridBox(
            list(controls.values()),
            layout=widgets.Layout(grid_template_columns=f"repeat({columns}, 1fr)",
                                  grid_gap="4px 16px"),
        )
        head = [widgets.HTML(f"<b>{html.escape(title)}</b>")] if title else []
        super().__init__(head + [grid, self.status, self.image])
        self.refresh()

    @property
    def values(self) -> dict[str, Any]:
        return {name: c.value for name, c in self.controls.items()}

    def _on_change(self, change) -> None:
        self.refresh()

    def refresh(self) -> None:
        """Run the model with the current control values and redraw.

        Python's cyclic garbage collector is paused while it runs: a redraw allocates
        thousands of small matplotlib objects, and a collection in the middle of it costs
        the student a visible pause; the collector catches up afterwards."""
        paused = gc.isenabled()
        gc.disable()
        try:
            self._refresh()
        finally:
            if paused:
                gc.enable()

    def _refresh(self) -> None:
        start = time.perf_counter()
        try:
            result = self._compute(**self.values)
        except (ValueError, TypeError) as exc:
            self.error = str(exc)
            self.status.value = (f"<span style='color:#D55E00'>⚠ {html.escape(self.error)}"
                                 "</span>")
            return
        self.error = ""
        self.result = result
        with drawing_into(self.figure):
            self.figure = self._draw(result)
        self.picture = to_svg(self.figure)
        self.image.value = self.picture
        self.refresh_ms = (time.perf_counter() - start) * 1e3
        text = self._describe(result) if self._describe else ""
        self.status.value = html.escape(text)


class Progress:
    """A progress bar for slow runs: ``progress(done, total, message)``.

    Shows an ipywidgets bar in a notebook and prints a line elsewhere.
    """

    def __init__(self, description: str = "running"):
        description = _check.text("description", description, min_len=0)
        self.bar = widgets.IntProgress(value=0, min=0, max=1, description=description,
                                       style={"description_width": "initial"})
        self.label = widgets.Label()
        self.box = widgets.HBox([self.bar, self.label])

    def show(self) -> Progress:
        from IPython.display import display

        display(self.box)
        return self

    def __call__(self, done: int, total: int, message: str = "") -> None:
        self.bar.max = max(total, 1)
        self.bar.value = done
        self.label.value = f"{done}/{total} {message}"
