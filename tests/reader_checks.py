"""Assertions the dataset-reader tests share."""

from __future__ import annotations

import pytest

from mer_bench.errors import DataError


def assert_one_line(error: pytest.ExceptionInfo[DataError], *fragments: str) -> None:
    """The error is one line and names every fragment (file, row, what to do)."""
    message = str(error.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in {message!r}"


def assert_excluded(loaded, *fragments: str) -> None:
    """Exactly one row was excluded on loading (not the dataset), its reason one line naming every
    fragment (file, row, what is wrong)."""
    assert len(loaded.excluded) == 1, [str(e) for e in loaded.excluded]
    reason = str(loaded.excluded[0])
    assert "\n" not in reason
    for fragment in fragments:
        assert fragment in reason, f"{fragment!r} not in {reason!r}"
