"""One module per topic; each registers its exercises with ``@exercise`` on import."""
