"""The order in which the two xdist workers take the files (conftest.py, ``pytest_collection_modifyitems``).

The browser test first; the notebooks with lesson 07 first and lesson 08 last (lesson 07 fills the model cache that
lesson 08, and the browser test's lesson 08, read); the longest unit-test files before the many short ones. Stand-in
items and config, as in tests/test_opt_in.py: no pytest of its own.
"""

from types import SimpleNamespace

from test_opt_in import ROOT, TESTS, Item, conftest

SOLUTIONS = ROOT / "solutions"


def worker_config():
    return SimpleNamespace(option=SimpleNamespace(markexpr=""), invocation_params=SimpleNamespace(dir=ROOT),
                           args=["tests", "solutions"], workerinput={"workerid": "gw0"})


def ordered(items, config=None):
    items = list(items)
    conftest.pytest_collection_modifyitems(config or worker_config(), items)
    return [item.path.name for item in items]


def test_the_browser_then_the_notebooks_07_first_08_last_then_the_longest_unit_files():
    items = [Item(TESTS / "test_checks_core.py"), Item(SOLUTIONS / "08-exploring-the-latent-space.ipynb"),
             Item(TESTS / "test_resume.py"), Item(SOLUTIONS / "03-the-model-and-the-elbo.ipynb"),
             Item(SOLUTIONS / "07-the-complete-vae.ipynb"), Item(TESTS / "test_bench.py"),
             Item(TESTS / "test_browser.py", "browser"), Item(TESTS / "test_answers.py")]
    assert ordered(items) == [
        "test_browser.py",
        "07-the-complete-vae.ipynb", "03-the-model-and-the-elbo.ipynb", "08-exploring-the-latent-space.ipynb",
        "test_bench.py", "test_resume.py", "test_checks_core.py", "test_answers.py",  # unlisted: as collected
    ]


def test_the_order_inside_a_file_is_kept():
    first, second = Item(TESTS / "test_cli.py"), Item(TESTS / "test_cli.py")
    items = [Item(TESTS / "test_answers.py"), first, second]
    conftest.pytest_collection_modifyitems(worker_config(), items)
    assert items[:2] == [first, second]  # test_cli.py is one of the longest: before test_answers.py


def test_outside_a_worker_the_collected_order_stays():
    items = [Item(TESTS / "test_answers.py"), Item(TESTS / "test_bench.py")]
    config = worker_config()
    del config.workerinput
    assert ordered(items, config) == ["test_answers.py", "test_bench.py"]


def test_the_listed_unit_files_exist():
    assert all((TESTS / name).is_file() for name in conftest.UNIT_FILE_SECONDS)
