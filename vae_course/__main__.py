"""``python -m vae_course``: see vae_course.cli."""

from .cli import main

raise SystemExit(main())
