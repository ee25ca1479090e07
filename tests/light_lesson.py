"""Lesson 00 without TensorFlow, for tests that run many copies of it in kernels of their own.

Lesson 00's exercises need NumPy only, and its checks load no Keras (tests/test_checks_core.py), so a copy whose
set-up cell drops its Keras lines (NumPy sets the seed instead) and which leaves out the environment report (it
imports TensorFlow to test it) runs in a kernel that starts in about a second instead of six. The grader's tests
(tests/test_grade.py) and nbgrader's (tests/test_nbgrader_export.py) keep one copy whole, as a learner gets it.
"""

SETUP, ENVIRONMENT_REPORT = "cell-03", "cell-05"
# the set-up cell's lines that load TensorFlow, and what stands in for them where the copy does without
WITHOUT_KERAS = {
    "import keras": None, "from keras import ops": None, "keras.utils.set_random_seed(0)": "np.random.seed(0)",
}


def without_tensorflow(nb):
    """``nb`` (lesson 00, or a copy of some of its cells) with a set-up cell that loads no Keras and without the
    environment report; changed in place and returned."""
    setup = next(cell for cell in nb.cells if cell.id == SETUP)
    lines = setup.source.splitlines()
    assert set(WITHOUT_KERAS) <= set(lines), "lesson 00's set-up cell changed: update tests/light_lesson.py"
    lines = [WITHOUT_KERAS.get(line, line) for line in lines]
    setup.source = "\n".join(line for line in lines if line is not None)
    nb.cells = [cell for cell in nb.cells if cell.id != ENVIRONMENT_REPORT]
    return nb
