"""Plots, panels and HTML views for notebook 03 (sessions and signed cookies).

* :mod:`~scalekit.views.sessions.sessions` — every session strategy on the same users,
  around a server failure;
* :mod:`~scalekit.views.sessions.journeys` — one logged-in user through the failure under
  each strategy, still and animated;
* :mod:`~scalekit.views.sessions.cookies` — a signed cookie taken apart: what anyone can
  read, what the signature protects.

Every public name is re-exported here: ``from scalekit.views import sessions as view``.
"""

from scalekit.views.sessions.cookies import CookieView, show_cookie
from scalekit.views.sessions.journeys import animate_journeys, plot_journeys
from scalekit.views.sessions.sessions import explore_sessions, plot_sessions

__all__ = ["plot_sessions", "explore_sessions", "plot_journeys", "animate_journeys",
           "show_cookie", "CookieView"]
