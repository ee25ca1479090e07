"""assert_passes / assert_fails: one-line checker tests, as quick to write as learntools' notebook cells."""

import re


def assert_passes(result):
    assert result.passed, f"expected a pass, got {result!r}"
    assert result.status == "correct"


def assert_fails(result, match, status="incorrect"):
    assert result.status == status, f"expected {status}, got {result!r}"
    assert not result.passed
    assert re.search(match, result.message), f"message does not match {match!r}: {result.message}"


def assert_not_attempted(result):
    assert_fails(result, r"placeholder|____", status="not_attempted")
