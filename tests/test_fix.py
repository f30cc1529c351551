"""`%codegen --fix` and `--explain` below the magics: the failure read from a real traceback, the fix prompt
(the failing line as a hole, the error said in a comment above it), and the explanation slot."""

import linecache

import pytest

from jupyter_codegen import assistant
from jupyter_codegen.context import Cell
from jupyter_codegen.engine import GenerationOptions
from jupyter_codegen.fix import Failure, failure_of, split_at_failure, suggestion
from jupyter_codegen.model_store import EngineSettings, load_engine


def run_cell(source: str, namespace: dict, name: str = "<cell-7>") -> BaseException:
    """Runs `source` as IPython does (compiled under a file name of its own, kept in linecache); returns what it raised."""
    linecache.cache[name] = (len(source), None, source.splitlines(keepends=True), name)
    try:
        exec(compile(source, name, "exec"), namespace)
    except Exception as exc:  # noqa: BLE001
        return exc
    pytest.fail("the cell did not fail")


def test_the_failing_line_and_a_near_name_come_from_the_traceback():
    namespace = {"sales": [1, 2, 3]}
    source = "total = 0\nfor x in salse:\n    total += x\nprint(total)\n"
    failure = failure_of(run_cell(source, namespace), source, namespace, "cell-7")
    assert (failure.ename, failure.line, failure.cell_id) == ("NameError", 1, "cell-7")
    assert failure.message == "NameError: name 'salse' is not defined Did you mean: 'sales'?"
    assert split_at_failure(failure) == ("total = 0\n", "for x in salse:", "\n    total += x\nprint(total)\n")


def test_an_error_raised_deeper_points_at_the_cells_own_line():
    namespace: dict = {}
    source = "def ratio(a, b):\n    return a / b\n\nratio(1, 0)\n"
    failure = failure_of(run_cell(source, namespace, "<cell-8>"), source, namespace)
    assert failure.ename == "ZeroDivisionError" and failure.line == 1  # the innermost line of this cell


def test_attribute_hints_syntax_errors_and_unknown_lines():
    exc = run_cell("values = [3, 1]\nvalues.sortt()\n", {}, "<cell-9>")
    assert suggestion(exc, {}) == "Did you mean: 'sort'?"
    bad = "x = 1\ny = (2\n"
    try:
        compile(bad, "<cell-10>", "exec")
    except SyntaxError as exc:
        assert failure_of(exc, bad, {}).ename == "SyntaxError"
    assert split_at_failure(Failure("a = b\n", "NameError", "x")) == ("", "a = b\n", "")


@pytest.fixture(scope="module")
def infiller(tiny_model):
    return load_engine(str(tiny_model("xglm")), EngineSettings(threads=1))


@pytest.fixture(scope="module")
def writer(tiny_model):
    return load_engine(str(tiny_model("codegen")), EngineSettings(threads=1))


FAILURE = Failure(
    source="import math\nprint(squre(2))\nprint('done')\n", ename="NameError", evalue="name 'squre' is not defined",
    line=1, hint="Did you mean: 'square'?",
)
BEFORE = [Cell("code", "def square(x):\n    return x * x")]


def test_a_model_that_infills_rewrites_only_the_failing_line_told_what_went_wrong(infiller):
    answer = assistant.fix(infiller, FAILURE, BEFORE, GenerationOptions(max_new_tokens=8))
    assert answer.code.startswith("import math\n") and answer.code.endswith("\nprint('done')")
    assert "squre(2)" not in answer.code.split("\n")[0]
    p = answer.prompt
    assert "def square(x)" in p and "# Fixed: NameError: name 'squre' is not defined Did you mean: 'square'?" in p
    assert "print('done')" in p  # the code after the failing line is in view
    assert "print(squre(2))" not in p  # the failing line is the hole, not shown
    assert answer.method.startswith("line 2 rewritten")


def test_a_model_that_cannot_infill_rewrites_the_whole_cell_from_a_request(writer):
    answer = assistant.fix(writer, FAILURE, BEFORE, GenerationOptions(max_new_tokens=8))
    assert "Fix this cell, which failed with NameError" in answer.prompt and "print(squre(2))" in answer.prompt
    assert answer.method.startswith("whole cell rewritten")


def test_an_explanation_is_one_sentence_from_the_comment_slot_above_the_code(infiller, writer):
    code = "df.groupby('region')['revenue'].sum()"
    for engine in (infiller, writer):
        answer = assistant.explain(engine, code, BEFORE, GenerationOptions(max_new_tokens=12), candidates=3)
        assert "def square(x)" in answer.prompt and answer.prompt.rstrip().endswith("#") == (engine is writer)
        assert "\n" not in answer.code
        assert answer.code == "" or answer.code[0].isupper() or not answer.code[0].isalpha()
        assert answer.code == "" or answer.code.endswith((".", "!", "?"))
    with pytest.raises(Exception, match="no code to explain"):
        assistant.explain(infiller, "  ", [], GenerationOptions())
