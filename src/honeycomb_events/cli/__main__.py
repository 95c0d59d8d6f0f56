"""``python -m honeycomb_events.cli``, as the single module it replaced allowed."""

from . import main

raise SystemExit(main())
