"""One source for each answer: the checker's `solution=` text passes its own check, and it is the code the solution
notebook has between `# BEGIN SOLUTION` and `# END SOLUTION` (compared as syntax trees: comments, blank lines and
line breaks may differ). Every registered exercise is covered."""

import ast
import json
import math
import re
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf
from keras import layers, ops

import vae_course
from vae_course.checks import REGISTRY, ____, check

SOLUTIONS = Path(__file__).resolve().parents[1] / "solutions"
CHECK_CALL = re.compile(r"(?<![\w.])check\.([A-Za-z_]\w*)\s*\(")
MARKERS = ("# BEGIN SOLUTION", "# END SOLUTION")


def _code_cells(path):
    cells = json.loads(path.read_text())["cells"]
    return [("".join(c["source"]) if isinstance(c["source"], list) else c["source"]) for c in cells
            if c["cell_type"] == "code"]


def _without_markers(source):
    """A solution cell as the notebook runs it: marker and ``# STUB:`` lines dropped."""
    kept = [line for line in source.splitlines()
            if line.strip() not in MARKERS and not line.strip().startswith("# STUB:")]
    return "\n".join(kept)


def notebook_answers():
    """{exercise: [(notebook, the solution cells before its first check, that check call's arguments)]}."""
    found = {}
    for path in sorted(SOLUTIONS.glob("*.ipynb")):
        pending = []
        for source in _code_cells(path):
            if MARKERS[0] in source:
                pending.append(_without_markers(source))
            calls = [node for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Call)
                     and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)
                     and node.func.value.id == "check"]
            if calls and pending:
                for call in sorted(calls, key=lambda node: node.lineno):
                    args = [ast.get_source_segment(source, arg) for arg in call.args]
                    found.setdefault(call.func.attr, []).append((path.name, "\n".join(pending), args))
                pending = []
    return found


ANSWERS = notebook_answers()


def _statements(source):
    return [ast.dump(node) for node in ast.parse(source).body]


# ---- the solution text is the notebook's answer


def test_every_exercise_has_an_answer_in_a_solution_notebook():
    assert sorted(set(REGISTRY) - set(ANSWERS)) == []


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_the_solution_text_is_the_notebooks_answer(name):
    """Each top-level statement of `solution=` appears, as a syntax tree, in every notebook cell that answers it."""
    wanted = _statements(REGISTRY[name].solution)
    assert wanted, f"{name} has no solution text"
    for notebook, cells, _ in ANSWERS[name]:
        have = _statements(cells)
        missing = [ast.unparse(ast.parse(REGISTRY[name].solution).body[i]).splitlines()[0]
                   for i, statement in enumerate(wanted) if statement not in have]
        assert missing == [], f"{notebook}: the solution text of {name} differs from the notebook at {missing}"


# ---- the solution text passes its own check


def _codes():
    rng = np.random.default_rng(0)
    spread = np.array([1.0, 0.5, 0.001, 0.0])  # two active dimensions, two collapsed ones
    return {beta: (rng.standard_normal((200, 4)) * spread * beta, rng.standard_normal((200, 4)) - 3)
            for beta in (0.5, 1.0)}


def _given(name):
    """Names the lesson defines before the exercise and its check uses (the rest comes from the solution text)."""
    if name == "welcome_sigma":
        return {"log_var": np.array([-2.0, 0.0, 2.0])}
    if name == "sampling_any_batch":
        return {"seed_generator": keras.random.SeedGenerator(2016)}
    if name == "sample_normal":  # lesson 02 samples with the learner's own reparameterize
        namespace = _namespace()
        exec(REGISTRY["reparameterize"].solution, namespace)
        return {"reparameterize": namespace["reparameterize"]}
    if name == "active_units":
        return {"codes": _codes()}
    if name == "vae_loss":  # lesson 07's loss uses the KL function chosen earlier in the lesson
        return {"kl_function": vae_course.kl_log_var, "complete": vae_course.complete}
    # predict, then check: the measurements a lesson makes after the guess (values of the stored runs)
    if name == "predict_kl_ratio":
        return {"terms_2016": {"true_kl": np.array([1.6]), "reported_kl": np.array([1.0])}}
    if name == "predicted_kl":
        return {"results": {"mean over pixels (β = 64)": {"KL": 0.003}}, "yours": {"KL": 6.8}}
    if name == "predicted_gap":
        return {"bounds": [116.40, 111.79, 109.84, 108.73]}
    return {}


def _namespace():
    return {"np": np, "math": math, "keras": keras, "layers": layers, "ops": ops, "tf": tf, "____": ____,
            "vae_course": vae_course}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_the_solution_text_passes_its_own_check(name):
    namespace = {**_namespace(), **_given(name)}
    exec(REGISTRY[name].solution, namespace)
    _, _, args = ANSWERS[name][0]
    result = getattr(check, name)(*[eval(arg, namespace) for arg in args])
    assert result.passed, f"{name}: {result.message}"
