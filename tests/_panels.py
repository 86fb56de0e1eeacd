"""What every widget panel and every figure must do — shared by the view tests of every topic.

A test module subclasses :class:`PanelContract` with a ``panel`` fixture (parametrised over
its panels); every test here then runs on each. Panels are driven the way a student drives
them: set a control's value, and the panel must rerun the model and redraw. Each slider is
also pushed to both ends of its range.
"""

import math

import ipywidgets as widgets

from scalekit.views.style import Figure, to_png


def other_value(control):
    """A value a student would notice: another option, or the far end of the range."""
    if isinstance(control, widgets.Dropdown):
        options = [o if not isinstance(o, tuple) else o[1] for o in control.options]
        return next(o for o in options if o != control.value)
    if isinstance(control, widgets.Checkbox | widgets.ToggleButton):
        return not control.value
    if isinstance(control, widgets.SelectionSlider):  # the far end of its options
        options = list(control.options)
        i = options.index(control.value)
        return options[-1] if len(options) - 1 - i >= i else options[0]
    lo, hi = control.min, control.max
    return hi if hi - control.value >= control.value - lo else lo


def _title(ax) -> str:
    return " ".join(ax.get_title(loc) for loc in ("left", "center", "right")).strip()


def assert_labelled(fig) -> None:
    """A figure shows itself in a notebook, has a title stating its finding, and every
    titled axes has axis labels."""
    assert isinstance(fig, Figure)
    assert fig._repr_png_().startswith(b"\x89PNG")
    for ax in fig.axes:
        if not ax.get_visible() or ax.get_label() == "<colorbar>":
            continue
        if _title(ax):
            assert ax.get_xlabel() or ax.get_ylabel()
    assert any(_title(ax) for ax in fig.axes), "a figure states its finding in a title"
    assert len(to_png(fig)) > 5000


class PanelContract:
    """Every panel: draws at its defaults, every control matters, extremes give a figure or
    a clear message, sliders update on release, and a redraw leaves nothing stale."""

    def test_panel_draws_at_defaults(self, panel):
        assert panel.error == ""
        assert b"<svg" in panel.picture[:500] and len(panel.picture) > 5000
        assert panel.image.value == panel.picture
        assert math.isfinite(panel.refresh_ms)
        assert panel.status.value  # a one-line summary under the controls

    def test_controls_sit_in_two_columns_that_fill_them(self, panel):
        """Issue 19 §5: at 1024×768 with the file browser open three columns, or a slider's
        own 300 px plus its description, overflowed and were clipped."""
        grid = next(c for c in panel.children
                    if getattr(getattr(c, "layout", None), "grid_template_columns", None))
        assert grid.layout.grid_template_columns == "repeat(2, 1fr)"
        assert all(c.layout.width == "98%" for c in panel.controls.values())

    def test_every_control_changes_the_output(self, panel):
        for name, control in panel.controls.items():
            before_png, before_result, original = panel.picture, panel.result, control.value
            control.value = other_value(control)
            assert panel.error == "", f"{name}: {panel.error}"
            assert panel.result is not before_result, f"{name} did not rerun the model"
            assert panel.picture != before_png, f"{name} did not change the figure"
            control.value = original  # test each control from the defaults

    def test_sliders_survive_their_extremes(self, panel):
        for name, control in panel.controls.items():
            if isinstance(control, widgets.Dropdown | widgets.Checkbox | widgets.ToggleButton):
                options = (control.options if isinstance(control, widgets.Dropdown)
                           else [not control.value, control.value])
                for option in options:
                    control.value = option[1] if isinstance(option, tuple) else option
                    assert panel.error == "", f"{name}={option}: {panel.error}"
                continue
            original = control.value
            ends = ((control.options[0], control.options[-1])
                    if isinstance(control, widgets.SelectionSlider) else (control.min, control.max))
            for end in ends:
                control.value = end
                # either a figure for this value, or a clear message naming the parameter
                assert panel.error == "" or any(k in panel.error for k in ("must", "unknown")), \
                    f"{name}={end}: {panel.error}"
            control.value = original

    def test_sliders_only_update_on_release(self, panel):
        for control in panel.controls.values():
            if hasattr(control, "continuous_update"):
                assert control.continuous_update is False

    def test_redrawing_into_a_used_figure_leaves_nothing_stale(self, panel):
        """A panel redraws into its previous figure; after a detour to other values and
        back, the picture must be exactly the one a brand-new figure gives (no leftover
        artists, limits, legends or twin axes)."""
        fresh = to_png(panel.figure)
        for control in panel.controls.values():
            original = control.value
            control.value = other_value(control)
            control.value = original
        assert panel.error == ""
        assert to_png(panel.figure) == fresh
