"""The lessons' version check: silent when the package is new enough, one plain paragraph when it is not."""

import pytest

import vae_course
from vae_course.repository import pip_requirement, repository_slug
from vae_course.version_check import CourseTooOld, release, require


def test_new_enough_passes_silently(capsys):
    """Does require() return without a word for the same version, a newer one, and an equal one written shorter?"""
    assert require("0.1.0", installed="0.1.0") is None
    assert require("0.1.0", installed="0.10.0") is None  # compared as numbers, not as text
    assert require("0.2.0", installed="0.2") is None
    assert require(vae_course.__version__) is None  # the installed package against itself
    assert capsys.readouterr() == ("", "")


def test_too_old_says_what_to_do():
    """Does an older package stop the lesson with both versions and the exact pip command for this repository?"""
    with pytest.raises(CourseTooOld) as caught:
        require("0.3.0", installed="0.2.9")
    message = str(caught.value)
    assert message.startswith("This lesson needs vae-course 0.3.0 or newer, but this kernel has 0.2.9.")
    assert f'%pip install -U "{pip_requirement(repository_slug())}"' in message
    assert "restart" in message and "instructor" in message


def test_jupyter_shows_the_message_without_a_traceback():
    """Does IPython's hook get just the message (in red), not a stack of frames?"""
    error = CourseTooOld("This lesson needs vae-course 9.0.0 or newer")
    assert error._render_traceback_() == ["\x1b[1;31mThis lesson needs vae-course 9.0.0 or newer\x1b[0m"]


def test_release_numbers():
    assert release("1.2.3") == (1, 2, 3) and release("1.2") == release("1.2.0") == (1, 2)
    assert release("0.2.0.dev1") == (0, 2) and release("10") > release("9.9.9")


@pytest.mark.parametrize("bad", ["", "v1.0", "latest", None, 1.0])
def test_a_version_that_is_not_one_is_refused(bad):
    with pytest.raises(ValueError, match="is not a version number like 0.2.0"):
        require(bad, installed="0.1.0")
