"""``python -m scalekit.grading``: see :mod:`scalekit.grading.cli`."""

from .cli import main

raise SystemExit(main())
