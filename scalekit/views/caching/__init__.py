"""Plots and widget panels for notebook 06 (caching).

* :mod:`~scalekit.views.caching.browser` — a browser cache's visits (hits, 304s, full pages,
  outdated pages) and the max-age trade-off;
* :mod:`~scalekit.views.caching.aside` — hit ratio against cache size per eviction policy;
* :mod:`~scalekit.views.caching.ttl` — database load against stale reads, per TTL;
* :mod:`~scalekit.views.caching.stampede` — the thundering herd, coalescing and leases;
* :mod:`~scalekit.views.caching.timeline` — stale-while-revalidate on a timeline.

Every public name is re-exported here: ``from scalekit.views import caching as view``.
"""

from scalekit.views.caching.aside import explore_cache, plot_hit_ratio
from scalekit.views.caching.browser import explore_browse, plot_browse, plot_max_age
from scalekit.views.caching.stampede import plot_herd
from scalekit.views.caching.timeline import plot_revalidation
from scalekit.views.caching.ttl import explore_ttl, plot_ttl

__all__ = ["plot_browse", "plot_max_age", "explore_browse", "plot_hit_ratio", "explore_cache",
           "plot_ttl", "explore_ttl", "plot_herd", "plot_revalidation"]
