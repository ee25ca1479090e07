"""``python -m vae_course cache [--where] [--clear] [--fill]``: the trained models ``fit_cached`` keeps.

Lists each entry with its size, when it trained, how long it took and its settings in one line (no TensorFlow),
removes them, or, with ``--fill``, trains the models lessons 07, 08 and 09 load (Binder's postBuild runs it, so a
learner there meets those lessons with the models ready).
"""

import os

from ..vae import cache_store


def add_arguments(parser):
    parser.add_argument("--where", action="store_true", help="print the cache folder and nothing else")
    parser.add_argument("--clear", action="store_true", help="remove every cached model")
    parser.add_argument("--fill", action="store_true",
                        help="train the models lessons 07-09 load (lesson 07's make_vae, lesson 09's four), if missing")


def run(args):
    folder = cache_store.cache_folder()
    if folder is None:
        print(f"The model cache is off ({cache_store.ENVIRONMENT}={os.environ[cache_store.ENVIRONMENT]}).")
        return 0
    if args.where:
        print(folder)
        return 0
    if args.clear:
        removed, freed = cache_store.clear(folder)
        print(f"Removed {removed} file(s), {human_size(freed)}, from {folder}.")
        return 0
    if args.fill:
        fill()
    print(listing(folder))
    return 0


def fill():
    """Train (or find) the cached models of lessons 07-09 exactly as the lessons do, so their keys match."""
    from ..lessons import further
    from ..vae.data import load_dataset

    (x_train, _), _ = load_dataset()
    fill_lesson_07(x_train)
    for beta, free_bits in further.LESSON_MODELS:
        further.train_vae(x_train, beta=beta, free_bits=free_bits, progress=False)


def fill_lesson_07(x_train):
    """Lesson 07's make_vae, trained into the cache as lesson 07 does (cache=True); lesson 08 loads this model."""
    from ..lessons import complete

    complete.train_vae(complete.reference_vae(), x_train, epochs=complete.EPOCHS, cache=True, progress=False)


def listing(folder):
    """One paragraph per entry: file, size, when and how long it trained, and its settings."""
    found = cache_store.entries(folder)
    if not found:
        return f"No cached models in {folder}."
    lines = [f"{len(found)} cached model(s) in {folder}, {human_size(sum(size for _, _, size in found))} in all:"]
    for path, record, size in found:
        if record is None:
            lines.append(f"  {path.name}  {human_size(size)}  unreadable (the next fit_cached with its settings "
                         "trains again and replaces it)")
            continue
        lines.append(f"  {path.stem}  {human_size(size)}  trained {record.get('trained_at', '?')} in "
                     f"{record.get('seconds', '?')} s")
        lines.append(f"      {record.get('summary', '(no summary)')}")
    return "\n".join(lines)


def human_size(size):
    """12 B, 3.4 KB, 5.6 MB."""
    for unit in ("B", "KB", "MB"):
        if size < 1000 or unit == "MB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} MB"
