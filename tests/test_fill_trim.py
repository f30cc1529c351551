"""A fill that runs on past its hole is cut where the line compiles again."""

from __future__ import annotations

import pytest

from jupyter_codegen.fill_trim import top_level_commas, trim_fill
from jupyter_codegen.postprocess import compiles


def test_a_fill_that_repeats_the_code_after_the_hole_is_cut():
    left, right = "top = df.sort_values(", ", ascending=False).head()\ntop"
    assert trim_fill(left, '"revenue", ascending=False', right) == '"revenue"'
    # two arguments of its own, then the repeat: only the repeat goes
    assert trim_fill("x = f(", "a, b=1, c=2", ", c=3)") == "a, b=1"


@pytest.mark.parametrize("left, fill, right", [
    ("top = df.sort_values(", '"revenue"', ", ascending=False)"),  # compiles: left alone
    ("top = df.sort_values(", '"revenue", ascending=True', ")"),  # compiles: the model's own argument stays
    ("x = ", "f(a, b", "\ny = 2"),  # no cut compiles: as the model wrote it
    ("", "a, b = 1, 2, 3", ""),  # a fill that starts a line is not this rule's
    ("x = f(", "a,\nb, b=1", ", b=2)"),  # several lines
])
def test_fills_that_compile_or_cannot_be_mended_stay(left, fill, right):
    assert trim_fill(left, fill, right) == fill


def test_commas_inside_brackets_and_strings_are_not_cut_points():
    assert top_level_commas('"a, b", f(1, 2), [3, 4], c') == [6, 15, 23]
    assert top_level_commas("a), b") == []  # past the hole's own bracket


def test_compiling_is_stricter_than_parsing_and_allows_magics():
    assert not compiles("f(a=1, a=2)")
    assert compiles("%matplotlib inline\nf(a=1)")
