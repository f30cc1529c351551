import pytest
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from jupyter_codegen.context import Cell
from jupyter_codegen.history import history_cells, python_lines


@pytest.fixture
def shell():
    """A real IPython shell with its history kept in memory."""
    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    sh = InteractiveShell(config=config)

    def run(*cells: str) -> None:
        for source in cells:
            sh.run_cell(source, store_history=True, silent=False)

    sh.run = run
    yield sh
    sh.history_manager.end_session()


def test_cells_with_outputs_oldest_first(shell):
    shell.run("x = 1", "x + 1", "print('printed')", "[x] * 3")
    assert history_cells(shell) == [
        Cell("code", "x = 1"),
        Cell("code", "x + 1", output="2"),
        Cell("code", "print('printed')"),  # stdout is not kept in IPython's history
        Cell("code", "[x] * 3", output="[1, 1, 1]"),
    ]


def test_since_keeps_only_later_cells(shell):
    shell.run("a = 1", "b = 2", "c = 3")
    assert history_cells(shell, since=2) == [Cell("code", "c = 3")]
    assert history_cells(shell, since=3) == []


def test_assistant_turns_and_magic_only_cells_are_skipped(shell):
    shell.run(
        "%%codegen\nplot sales by month",
        "%%infill\ndef f(x):\n    <hole>",
        "%codegen plot it",
        "%infill",
        "%load_ext jupyter_codegen",
        "%reload_ext jupyter_codegen",
        "%config Completer.use_jedi = False",
        "!echo hi",
        "%%bash\necho not python",
        "y = 2",
    )
    assert history_cells(shell) == [Cell("code", "y = 2")]


def test_ipython_only_lines_are_dropped_inside_kept_cells(shell):
    shell.run("import os\n!echo hi\n%time z = 3\nfiles = !echo a\nos?\nz = 3\nz")
    assert history_cells(shell) == [Cell("code", "import os\nz = 3\nz", output="3")]


def test_magic_like_text_inside_strings_is_kept(shell):
    shell.run("s = '''\n%d items\n!done\n'''\nlen(s)")
    assert history_cells(shell) == [Cell("code", "s = '''\n%d items\n!done\n'''\nlen(s)", output="16")]


def test_python_cell_magics_keep_their_body_and_markdown_becomes_text(shell):
    shell.run("%%time\nw = 4\nw", "%%capture\nq = 5", "%%markdown\n# Results")
    assert history_cells(shell) == [
        Cell("code", "w = 4\nw", output="4"),
        Cell("code", "q = 5"),
        Cell("markdown", "# Results"),
    ]


def test_failed_cells_are_kept_without_output(shell):
    shell.run("1 / 0")
    assert history_cells(shell) == [Cell("code", "1 / 0")]


def test_long_results_are_trimmed(shell):
    shell.run("list(range(1000))", "'x' * 5000")
    first, second = history_cells(shell)
    assert first.output.startswith("[0,\n 1,\n 2,") and first.output.endswith("more lines)")
    assert len(first.output.split("\n")) == 11
    assert second.output.endswith("more characters)") and len(second.output) < 700


def test_hostile_result_does_not_break_it(shell):
    shell.run("class H:\n    def __repr__(self):\n        raise RuntimeError('no')\n", "H()")
    cells = history_cells(shell)
    assert cells[-1].source == "H()"
    assert cells[-1].output is None or isinstance(cells[-1].output, str)


def test_results_read_from_out_when_output_hist_is_missing(shell):
    shell.run("41 + 1")
    shell.history_manager.output_hist = {}
    assert history_cells(shell) == [Cell("code", "41 + 1", output="42")]


def test_python_lines_without_a_shell_handles_continuations():
    assert python_lines("x = 1\n%matplotlib \\\n    inline\ny = 2") == "x = 1\ny = 2"
    assert python_lines("x = 1\n!pip install pandas\ndf?\ny = 2") == "x = 1\ny = 2"
