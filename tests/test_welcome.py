"""The welcome lesson's environment report."""

import sys

from vae_course.lessons.welcome import EnvironmentReport, Item, environment_report


def test_report_lists_packages_data_and_widgets():
    report = environment_report()
    names = [item.name for item in report.items]
    for expected in ("Python", "keras", "tensorflow", "ipywidgets", "Keras backend", "Data set (digits)", "Widgets"):
        assert expected in names
    data = next(i for i in report.items if i.name == "Data set (digits)")
    assert data.ok and "1500 training and 297 test" in data.detail
    widgets = next(i for i in report.items if i.name == "Widgets")
    assert not widgets.ok and "not running in a Jupyter kernel" in widgets.detail  # pytest has no kernel


def test_a_problem_is_shown_with_what_to_do():
    report = EnvironmentReport([Item("numpy", True, "2.0"), Item("ipywidgets", False, "missing", "pip install it")])
    assert not report.ok and [p.name for p in report.problems] == ["ipywidgets"]
    assert "Something needs attention: ipywidgets" in repr(report)
    assert "pip install it" in repr(report) and "pip install it" in report._repr_html_()
    assert "✘" in report._repr_html_()


def test_all_fine_says_ready():
    report = EnvironmentReport([Item("numpy", True, "2.0")])
    assert report.ok and "ready for lesson 01" in report.summary() and "✔" in report._repr_html_()


def test_place_is_found_from_what_each_service_sets():
    """Is Colab recognised by its module, Binder before JupyterHub (Binder sets both), and a plain kernel as local?"""
    from vae_course.lessons.welcome import where_running

    colab = {"google.colab": object()}
    assert where_running({}, colab) == "Colab"
    assert where_running({"BINDER_REPO_URL": "https://github.com/o/r", "JUPYTERHUB_USER": "jovyan"}, {}) == "Binder"
    assert where_running({"JUPYTERHUB_USER": "ada"}, {}) == "JupyterHub"
    assert where_running({"BINDER_REPO_URL": "", "PATH": "/usr/bin"}, {}) == "your computer"


def test_report_says_how_to_keep_work_on_binder(monkeypatch):
    """Does the report name Binder and say to download the notebook, without counting it as a problem?"""
    monkeypatch.setenv("BINDER_REPO_URL", "https://github.com/vae-course/vae-course")
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    report = environment_report()
    place = next(item for item in report.items if item.name == "Where you work")
    assert place.ok and place.detail.startswith("Binder.") and "10 idle minutes" in place.detail
    assert "close a lesson's tab" in place.detail  # Binder's 2 GB hold about three kernels
    assert "File > Download" in place.detail and "Where you work" in report._repr_html_()


def test_report_says_how_to_keep_work_on_colab_and_at_home(monkeypatch):
    """Does the report point Colab users to Drive, and say nothing of services on one's own computer?"""
    import types

    from vae_course.lessons.welcome import _place_item

    monkeypatch.delenv("BINDER_REPO_URL", raising=False)
    monkeypatch.delenv("JUPYTERHUB_USER", raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    place = _place_item()
    assert place.ok and place.detail.startswith("your computer.") and "Drive" not in place.detail
    monkeypatch.setitem(sys.modules, "google.colab", types.ModuleType("google.colab"))
    place = _place_item()
    assert place.ok and place.detail.startswith("Colab.") and "Save a copy in Drive" in place.detail
