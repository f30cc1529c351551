"""Moving a fill to a depth at which the code around it parses (indentation.fit_indentation)."""

import pytest

from jupyter_codegen.indentation import fit_indentation, layout, shift

IS_PRIME_LEFT = 'def is_prime(n):\n    """True for a prime.\n        >>> is_prime(7)\n    """\n    if n < 2:\n'
IS_PRIME_RIGHT = "    for k in range(2, n):\n        if n % k == 0:\n            return False\n    return True\n"


def test_a_header_needs_a_deeper_body():
    # The small model's typical slip: the right line at the function's depth under a header with no body.
    assert fit_indentation(IS_PRIME_LEFT, "    return False\n", IS_PRIME_RIGHT) == "        return False\n"


def test_a_fill_that_parses_is_left_alone():
    fill = "        return False\n"
    assert fit_indentation(IS_PRIME_LEFT, fill, IS_PRIME_RIGHT) is fill
    # A dedent to an open block parses too, whatever it means: the model's choice, not the fit's.
    left = "for a in b:\n    if a:\n        c()\n"
    assert fit_indentation(left, "    d()\n", "") == "    d()\n"


def test_an_unexpected_indent_moves_to_the_nearest_open_block():
    left = "total = 0\nfor x in xs:\n    total += x\n"
    assert fit_indentation(left, "        print(total)\n", "") == "    print(total)\n"
    assert fit_indentation("x = 1\n", "    y = 2\n", "z = 3\n") == "y = 2\n"


def test_every_line_of_a_fill_moves_together():
    left = "def f(xs):\n    if xs:\n"
    fill = "    for x in xs:\n        print(x)\n"
    assert fit_indentation(left, fill, "    return xs\n") == "        for x in xs:\n            print(x)\n"


@pytest.mark.parametrize("left, fill, right", [
    ("x = (1,\n", "    2)\n", ""),  # inside a bracket a depth means nothing
    ("x = 1\ny = ", "    2\n", ""),  # a hole inside a line
    ("if a:\n", "\tb()\n", ""),  # tabs: not guessed at
    ("if a:\n", "    b(\n", ""),  # no depth makes it parse
    ("if a:\n", "\n", ""),  # nothing written
])
def test_left_as_written_where_no_depth_can_help(left, fill, right):
    assert fit_indentation(left, fill, right) == fill


def test_layout_reads_the_open_blocks_and_the_step():
    where = layout("def f():\n  if a:\n    b()\n  # note\n")
    assert where is not None and where.open_blocks == (0, 2, 4) and not where.opens_block and where.unit == 2
    assert layout("if a:  # why\n").depths() == [0, 4]
    assert layout('s = """open\n') is None


def test_shift_refuses_to_cut_code():
    assert shift("  a\n    b\n", -2) == "a\n  b\n"
    assert shift("  a\nb\n", -2) is None
