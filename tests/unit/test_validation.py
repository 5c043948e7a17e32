from __future__ import annotations

import pytest

from atrium.api.validation import error_from_validation, param_path
from atrium.errors import MalformedBodyError, MissingParameterError, UnknownParameterError


@pytest.mark.parametrize(
    ("loc", "expected"),
    [
        (("body", "messages"), "messages"),
        (("body", "messages", 0, "content", "str"), "messages[0].content"),
        (("body", "messages", 2, "content", "list[ContentPart]", 1, "type"), "messages[2].content"),
        (("body", "stop", "list[constrained-str]", 0), "stop"),
        (("body",), ""),
        (("query", "since"), "since"),
    ],
)
def test_param_path(loc: tuple[int | str, ...], expected: str) -> None:
    assert param_path(loc) == expected


def test_error_kinds() -> None:
    missing = error_from_validation([{"type": "missing", "loc": ("body", "model"), "msg": "x"}])
    assert isinstance(missing, MissingParameterError) and missing.param == "model"
    extra = error_from_validation([{"type": "extra_forbidden", "loc": ("body", "m", 0, "x")}])
    assert isinstance(extra, UnknownParameterError) and extra.param == "m[0].x"
    bad_json = error_from_validation([{"type": "json_invalid", "loc": ("body", 3)}])
    assert isinstance(bad_json, MalformedBodyError)
