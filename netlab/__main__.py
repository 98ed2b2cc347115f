"""``python -m netlab ...``: see :mod:`netlab.cli`."""

from .cli import main

raise SystemExit(main())
