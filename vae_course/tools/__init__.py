"""The command line, `python -m vae_course train|lessons|bench`: may import every layer; no layer imports it."""
