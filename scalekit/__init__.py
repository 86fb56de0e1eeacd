"""scalekit: runnable models that teach how web applications scale.

Importing scalekit imports nothing heavy and configures nothing: the models live in
``scalekit.sim``, ``scalekit.servers`` ... and the plots and widgets in ``scalekit.views``.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
