"""`json_bodies.check` on its own: the depth bound around `MAX_DEPTH`, where the walk is
skipped for bodies with too few brackets to be that deep."""

import pytest

from tradebridge.api.json_bodies import MAX_DEPTH, _Refused, check


def nested(depth: int) -> bytes:
    return ("[" * (depth - 1) + '{"a": 1}' + "]" * (depth - 1)).encode()


def test_a_body_as_deep_as_allowed_is_decoded() -> None:
    assert check(nested(MAX_DEPTH)) is not None


@pytest.mark.parametrize("depth", [MAX_DEPTH + 1, 3 * MAX_DEPTH])
def test_a_body_deeper_than_allowed_is_refused(depth: int) -> None:
    with pytest.raises(_Refused, match="nested more than"):
        check(nested(depth))


def test_brackets_inside_strings_do_not_make_a_body_deep() -> None:
    body = ('{"note": "' + "[" * 100 + '"}').encode()
    assert check(body) == {"note": "[" * 100}


def test_a_utf16_body_is_read_as_json_loads_reads_it() -> None:
    assert check('{"symbol": "600519.SH"}'.encode("utf-16")) == {"symbol": "600519.SH"}
