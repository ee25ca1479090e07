"""``python -m vae_course``: see vae_course.tools.cli."""

from .tools.cli import main

raise SystemExit(main())
