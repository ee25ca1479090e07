"""The welcome lesson's environment report."""

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
