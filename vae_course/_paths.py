"""The folder that holds the ``vae_course`` package: the course's repository in a checkout (one definition)."""

from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent
