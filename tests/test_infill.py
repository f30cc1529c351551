"""Hole handling that needs no model: splitting, merging, and where a left-to-right fill ends."""

import pytest

from jupyter_codegen.errors import RequestError
from jupyter_codegen.infill import cut_left_to_right, is_inline, merge, split_holes


def test_split_and_merge_round_trip():
    parts = split_holes("a = <FILL>\nb = <FILL>\n", "<FILL>")
    assert parts == ["a = ", "\nb = ", "\n"]
    assert merge(parts, ["1", "2"]) == "a = 1\nb = 2\n"
    assert merge(parts, ["1"]) == "a = 1\nb = "


def test_empty_marker_is_a_clear_error():
    with pytest.raises(RequestError, match="infill_marker is empty"):
        split_holes("x", "")


def test_inline_hole_takes_the_rest_of_its_line():
    assert is_inline("x = ") and not is_inline("x = 1\n") and not is_inline("")
    assert cut_left_to_right("len(xs)\nprint(1)", "n = ", "\nprint(n)") == "len(xs)"


def test_block_hole_stops_where_the_right_side_resumes():
    left = "def f(xs):\n"
    right = "\n    return total\n"
    text = "    total = 0\n    for x in xs:\n        total += x\n    return total\n\nprint(f([1]))"
    assert cut_left_to_right(text, left, right) == "    total = 0\n    for x in xs:\n        total += x"


def test_block_hole_stops_at_a_dedent_past_the_right_side():
    left = "def f(xs):\n    if xs:\n"
    right = "    return 0\n"
    text = "        return xs[0]\ndef g():\n    pass"
    assert cut_left_to_right(text, left, right) == "        return xs[0]\n"


def test_max_lines_for_single_line_infilling():
    left = "def f(x):\n"
    text = "    y = x + 1\n    z = y * 2\n"
    assert cut_left_to_right(text, left, "    return z\n", max_lines=1) == "    y = x + 1\n"


def test_a_hole_that_opens_the_block_the_right_side_continues_is_kept():
    # HumanEval line infilling: the middle is `for x in xs:`, the right side its indented body.
    left = "def total(xs):\n    s = 0\n"
    right = "        s += x\n    return s\n"
    text = "    for x in xs:\n        s += x\n    return s\n"
    assert cut_left_to_right(text, left, right, max_lines=1) == "    for x in xs:\n"
    assert cut_left_to_right(text, left, right) == "    for x in xs:\n"


class _RecordingEngine:
    """Records the stop strings each generate call gets; answers with a fixed text."""

    def __init__(self, fmt):
        self.format, self.name, self.context_window, self.device = fmt, "recording", 1024, "cpu"
        self.stops: list[tuple[str, ...]] = []

    def generate(self, prompt, options, on_text=None, cancel=None):
        from jupyter_codegen.engine import Completion

        self.stops.append(options.stop)
        return [Completion(text="    y = 1\n", finish_reason="stop") for _ in range(options.n)]

    def score(self, prompt, continuations):
        return [0.0] * len(continuations)


@pytest.mark.parametrize("method", ["left-to-right", "rerank"])
def test_left_to_right_fills_stop_at_end_of_text_and_cell_tags(method):
    from jupyter_codegen.engine import GenerationOptions
    from jupyter_codegen.formats import NOTEBOOK_STOP, format_by_name
    from jupyter_codegen.infill import fill_holes

    engine = _RecordingEngine(format_by_name("causal-masking"))
    fill_holes(engine, ["def f():\n", "    return y\n"], GenerationOptions(max_new_tokens=8), method=method, candidates=2)
    [stop] = engine.stops
    assert "<|endoftext|>" in stop and all(tag in stop for tag in NOTEBOOK_STOP)


def test_a_causal_masking_fill_of_a_hole_inside_a_line_ends_with_that_line():
    from jupyter_codegen.engine import GenerationOptions
    from jupyter_codegen.formats import format_by_name
    from jupyter_codegen.infill import fill_holes

    engine = _RecordingEngine(format_by_name("causal-masking"))
    fill_holes(engine, ["top = df.sort_values(", ", ascending=False)\n", "\n"], GenerationOptions(max_new_tokens=8),
               method="infill")
    inline, line_start = engine.stops
    assert "\n" in inline and "\n" not in line_start


def test_first_lines_keeps_whole_non_blank_lines():
    from jupyter_codegen.infill import first_lines

    assert first_lines("    a = 1\n    b = 2\n", 1) == "    a = 1\n"
    assert first_lines("\n    a = 1\nb", 1) == "\n    a = 1\n"
    assert first_lines("a\n\nb\nc", 2) == "a\n\nb\n"
    assert first_lines("    a = 1", 1) == "    a = 1" and first_lines("", 1) == ""


class _FixedFill(_RecordingEngine):
    def __init__(self, fmt, text):
        super().__init__(fmt)
        self.text = text

    def generate(self, prompt, options, on_text=None, cancel=None):
        from jupyter_codegen.engine import Completion

        return [Completion(text=self.text, finish_reason="stop") for _ in range(options.n)]


@pytest.mark.parametrize("method", ["infill", "left-to-right"])
def test_fills_are_moved_to_a_depth_that_parses_unless_asked_not_to(method):
    from jupyter_codegen.engine import GenerationOptions
    from jupyter_codegen.formats import format_by_name
    from jupyter_codegen.infill import fill_holes

    engine = _FixedFill(format_by_name("causal-masking"), "    return 0\n    x = 1\n")
    parts = ["def f(n):\n    if n < 0:\n", "    return n\n"]
    options = GenerationOptions(max_new_tokens=8)
    fitted = fill_holes(engine, parts, options, method=method, max_lines=1)
    assert fitted.fills == ["        return 0\n"]
    assert fill_holes(engine, parts, options, method=method, max_lines=1, fit=False).fills == ["    return 0\n"]
    # The parts the model sees may carry more than the cell; the depth is judged on the cell's own code.
    context = ["<cell>\nimport os\n</cell>\n<cell>\n" + parts[0], parts[1] + "</cell>\n"]
    assert fill_holes(engine, context, options, method=method, max_lines=1, code_parts=parts).fills == fitted.fills


def test_an_inline_fill_that_repeats_the_code_after_its_hole_is_cut_unless_asked_not_to():
    from jupyter_codegen.engine import GenerationOptions
    from jupyter_codegen.formats import format_by_name
    from jupyter_codegen.infill import fill_holes

    engine = _FixedFill(format_by_name("causal-masking"), '"revenue", ascending=False')
    parts = ["top = df.sort_values(", ", ascending=False).head()\ntop\n"]
    options = GenerationOptions(max_new_tokens=8)
    assert fill_holes(engine, parts, options, method="infill").fills == ['"revenue"']
    assert fill_holes(engine, parts, options, method="infill", trim=False).fills == ['"revenue", ascending=False']
