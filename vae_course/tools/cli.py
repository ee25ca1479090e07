"""The command line: ``python -m vae_course {train,lessons,grade,links,bench,cache}``.

Each subcommand lives in its own module and adds its arguments through
``add_arguments(parser)``; ``run(args)`` does the work and returns an exit code.
Imports are lazy so ``--help`` answers without loading TensorFlow, and a command imports only its own module
(``train`` never loads nbformat and its JSON-schema checks, which cost about 2 s of CPU at every start).
"""

import argparse
import importlib
import sys

SUBCOMMANDS = {
    "train": ("vae_course.tools.train", "train a complete VAE and write the model, metrics and figures"),
    "lessons": ("vae_course.tools.lessons_command", "generate lessons/ from solutions/ (or --check that they match)"),
    "grade": ("vae_course.tools.grade", "grade a class's submitted lesson notebooks into a CSV of exercise statuses"),
    "links": ("vae_course.tools.links",
              "write docs/colab.md's Colab links from lessons/ (--hub URL: nbgitpuller links)"),
    "bench": ("vae_course.tools.bench",
              "benchmark training speed and quality against the textbook's recipe, and the course"),
    "cache": ("vae_course.tools.cache_command", "list (or --clear) the trained models that fit_cached keeps"),
}


def build_parser(argv=None):
    """The parser of every subcommand; given ``argv``, only the subcommand it names gets its arguments (and its
    module imported): the others are never parsed. Without a subcommand in ``argv``, none is imported."""
    if argv is None:
        wanted = set(SUBCOMMANDS)
    else:  # the top level has no options that take a value: its first other word is the subcommand
        wanted = {next((word for word in argv if not word.startswith("-")), None)}
    parser = argparse.ArgumentParser(prog="python -m vae_course", description="The vae-course command line.")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (module, help_text) in SUBCOMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name in wanted:
            importlib.import_module(module).add_arguments(sub)
    return parser


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    args = build_parser(argv).parse_args(argv)
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    return module.run(args) or 0
