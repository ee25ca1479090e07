"""Start a notebook kernel under a memory limit: ``python -m vae_course.tools.grade_kernel MB -- KERNEL ARGV``.

The grader launches every kernel through this module, which caps the kernel's address space
(``RLIMIT_AS``) and then replaces itself with the kernel. A learner's allocation past the limit then fails
inside the kernel (``MemoryError``, or the kernel dies) instead of exhausting the machine.
"""

import os
import resource
import sys


def limit_memory(megabytes):
    """Cap this process's (and its children's) address space at ``megabytes`` MiB."""
    limit = int(megabytes) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main(argv):
    if len(argv) < 3 or argv[1] != "--":
        print("usage: python -m vae_course.tools.grade_kernel MEGABYTES -- KERNEL ARGV...", file=sys.stderr)
        return 2
    limit_memory(argv[0])
    os.execvp(argv[2], argv[2:])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
