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
