"""What a child process runs in tests/test_cache.py's race: write one cache entry over and over (no TensorFlow)."""

import shutil

from vae_course.vae import cache_store


def write_repeatedly(folder, stem, entries, times, started, barrier):
    """Write each ``(weights file to copy, record)`` of ``entries`` in turn, ``times`` writes in all."""
    barrier.wait()  # every writer starts at once
    for i in range(times):
        source, record = entries[i % len(entries)]
        cache_store.write_entry(folder, stem, lambda temporary: shutil.copyfile(source, temporary), record, started)
