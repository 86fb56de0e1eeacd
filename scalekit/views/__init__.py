"""Views: plots and widget panels for the notebooks, one module per topic.

``plot_*`` functions take model results and return a matplotlib ``Figure`` (built without
pyplot, so nothing global changes and nothing piles up); ``explore_*`` functions return an
ipywidgets :class:`~scalekit.views.panel.Panel`: controls → model → plot. A view holds no
model logic. Importing a view module configures nothing: the shared look is applied inside
each figure through :func:`scalekit.views.style.figure`.
"""
