"""The bounded JSON loader: size, depth, finite numbers, real text; one line per refusal."""

from __future__ import annotations

import pytest

from bizagent.bounded_json import (
    InputRefused,
    file_read_bounded,
    json_depth,
    json_loads_bounded,
    text_checked,
)


def test_brackets_inside_strings_do_not_count_as_nesting():
    assert json_depth('{"a": "[[[[\\"[[{{", "b": [[1]]}') == 3
    assert json_loads_bounded('{"a": "' + "[" * 1000 + '"}', what="x") == {"a": "[" * 1000}


def test_depth_64_is_read_and_65_refused():
    assert json_loads_bounded("[" * 64 + "]" * 64, what="x") is not None
    with pytest.raises(InputRefused, match=r"^x: JSON nested deeper than 64 levels$"):
        json_loads_bounded("[" * 65 + "]" * 65, what="x")


@pytest.mark.parametrize("depth", [1_000, 100_000, 1_000_000 // 2 - 1])
def test_deep_nesting_is_refused_without_a_recursion_error(depth):
    with pytest.raises(InputRefused, match="nested deeper"):
        json_loads_bounded("[" * depth + "]" * depth, what="--args")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("NaN", "x: NaN is not a JSON number"),
        ("[-Infinity]", "x: -Infinity is not a JSON number"),
        ("[1e400]", "x: a number is too large to store"),
        ('{"\\udc80": 1}', "x: key '\\udc80': contains an invalid character"),
        ('"ok"  junk', "x: not valid JSON (line 1, column 7"),
    ],
)
def test_what_no_database_stores_is_refused(text, message):
    with pytest.raises(InputRefused) as caught:
        json_loads_bounded(text, what="x")
    assert str(caught.value).startswith(message)


def test_size_is_bounded_for_text_and_bytes():
    with pytest.raises(InputRefused, match="larger than 10 bytes"):
        json_loads_bounded('"' + "é" * 6 + '"', what="x", max_bytes=10)
    with pytest.raises(InputRefused, match="larger than 10 bytes"):
        json_loads_bounded(b"[" + b"1," * 10 + b"1]", what="x", max_bytes=10)


def test_a_file_is_read_up_to_the_cap_only(tmp_path):
    with pytest.raises(InputRefused, match=r"^config: /dev/zero is larger than 1,000 bytes$"):
        file_read_bounded("/dev/zero", what="config", max_bytes=1000)
    with pytest.raises(InputRefused, match=r"^config: cannot read .*missing.json"):
        file_read_bounded(tmp_path / "missing.json", what="config")


def test_text_checked_names_the_flag_and_the_position():
    assert text_checked("もちうさ ok", what="--title") == "もちうさ ok"
    with pytest.raises(
        InputRefused, match=r"^--title: contains an invalid character .* position 3$"
    ):
        text_checked("abc\udcff", what="--title")
