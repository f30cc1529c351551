import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

from jupyter_codegen.context import (
    Cell,
    build_infill_context,
    build_request_context,
    markdown_to_text,
    render_cell,
    render_variables,
    trim_output,
)
from jupyter_codegen.errors import RequestError


def words(text: str) -> int:
    return len(text.split())


@pytest.fixture(scope="module")
def bpe_count():
    """A real byte-level BPE tokenizer (GPT-2 style), trained on a few notebook lines."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400, initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    lines = [
        "<| file ext=.ipynb:python |>",
        "<cell>\nimport pandas as pd\n</cell>\n<text>\nLoad the data\n</text>\n<output>\n(3, 2)\n</output>",
        "df = pd.read_csv('data.csv')\nprint(df.head())\n# plot the data",
    ]
    tok.train_from_iterator(lines * 5, trainer)
    return lambda text: len(tok.encode(text).ids)


# --- rendering -----------------------------------------------------------------------------------------------

CODE = Cell("code", "\nx = 1\nx + 1\n\n")
CODE_OUT = Cell("code", "df.head()", output="   a  b\n0  1  2\n")
CODE_OUT1 = Cell("code", "df.shape", output="(3, 2)")
MARKDOWN = Cell("markdown", "## Load the **data**\n\nSee [the docs](https://x.org).")
REQUEST = Cell("request", "plot a against b")


def test_render_notebook_style():
    assert render_cell(CODE, "notebook") == "<cell>\nx = 1\nx + 1\n</cell>\n"
    assert render_cell(CODE_OUT, "notebook") == (
        "<cell>\ndf.head()\n</cell>\n<output>\n   a  b\n0  1  2\n</output>\n"
    )
    assert render_cell(MARKDOWN, "notebook") == "<text>\nLoad the data\n\nSee the docs.\n</text>\n"
    assert render_cell(REQUEST, "notebook") == "<text>\nplot a against b\n</text>\n"


def test_render_script_style():
    assert render_cell(CODE, "script") == "x = 1\nx + 1\n\n"
    assert render_cell(CODE_OUT1, "script") == "df.shape\n# Out: (3, 2)\n\n"
    assert render_cell(CODE_OUT, "script") == "df.head()\n# Out:\n#    a  b\n# 0  1  2\n\n"
    assert render_cell(MARKDOWN, "script") == "# Load the data\n#\n# See the docs.\n\n"
    assert render_cell(REQUEST, "script") == "# plot a against b\n"


def test_output_of_a_markdown_cell_or_blank_output_is_not_rendered():
    assert render_cell(Cell("code", "f()", output="  \n"), "notebook") == "<cell>\nf()\n</cell>\n"
    assert render_cell(Cell("code", "f()", output=""), "script") == "f()\n\n"


def test_render_variables():
    summary = "df: DataFrame, 3 rows x 2 columns\nn: int = 5"
    assert render_variables(summary, "notebook") == (
        "<text>\nVariables:\ndf: DataFrame, 3 rows x 2 columns\nn: int = 5\n</text>\n"
    )
    assert render_variables(summary, "script") == "# Variables:\n# df: DataFrame, 3 rows x 2 columns\n# n: int = 5\n\n"


def test_unknown_style_is_a_programming_error():
    with pytest.raises(ValueError):
        render_cell(CODE, "python")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "markdown, text",
    [
        ("# Title", "Title"),
        ("### Closed heading ###", "Closed heading"),
        ("#hashtag is not a heading", "#hashtag is not a heading"),
        ("Title\n=====\nbody", "Title\nbody"),
        ("**bold**, __bold__, *it*, _it_ and ~~gone~~", "bold, bold, it, it and gone"),
        ("snake_case_name and a*b*c stay", "snake_case_name and a*b*c stay"),
        ("call `__init__` or `df['a_b']`", "call __init__ or df['a_b']"),
        ("![a plot](plot.png) and [pandas](https://pandas.pydata.org)", "a plot and pandas"),
        ("line<br>next <b>bold</b>, 1 < 2 > 0", "linenext bold, 1 < 2 > 0"),
        ("> quoted\n- item 1\n- item 2", "quoted\n- item 1\n- item 2"),
        ("text\n\n\n\nmore\n\n---\n", "text\n\nmore"),
        ("```python\nx = 1  # *not* emphasis\n```", "x = 1  # *not* emphasis"),
        (r"\*literal\* and 2\*3\*4", "*literal* and 2*3*4"),
        (r"**a\*b**", "a*b"),
    ],
)
def test_markdown_formatting_is_stripped(markdown, text):
    assert markdown_to_text(markdown) == text


# --- trim_output ---------------------------------------------------------------------------------------------


def test_trim_output_keeps_head_and_says_how_many_lines_were_cut():
    text = "\n".join(f"line {i}" for i in range(25))
    assert trim_output(text, max_lines=3) == "line 0\nline 1\nline 2\n... (22 more lines)"
    assert trim_output("a\nb", max_lines=1) == "a\n... (1 more line)"


def test_trim_output_cuts_long_lines_by_characters():
    assert trim_output("x" * 1000, max_chars=10) == "xxxxxxxxxx... (990 more characters)"


def test_trim_output_strips_ansi_and_progress_redraws():
    coloured = "\x1b[1;31mValueError\x1b[0m: bad \x1b]8;;http://x\x07link\x1b]8;;\x07"
    assert trim_output(coloured) == "ValueError: bad link"
    assert trim_output("10%|#  \r50%|##  \r100%|###\ndone\n\n") == "100%|###\ndone"


def test_trim_output_leaves_short_output_alone():
    assert trim_output("(3, 2)") == "(3, 2)"
    assert trim_output("") == ""


# --- request context -----------------------------------------------------------------------------------------

NOTEBOOK = [
    Cell("markdown", "# Sales"),
    Cell("code", "import pandas as pd\ndf = pd.read_csv('sales.csv')"),
    Cell("code", "df.shape", output="(3, 2)"),
    Cell("request", "plot a against b"),
    Cell("code", "df.plot('a', 'b')"),
]
VARIABLES = "df: DataFrame, 3 rows x 2 columns: a (int64), b (float64)"


def test_request_context_notebook_style_exact():
    fitted = build_request_context(NOTEBOOK, "fit a line", "notebook", words, 1000, variables=VARIABLES)
    assert fitted.text == (
        "<| file ext=.ipynb:python |>\n"
        "<text>\nSales\n</text>\n"
        "<cell>\nimport pandas as pd\ndf = pd.read_csv('sales.csv')\n</cell>\n"
        "<cell>\ndf.shape\n</cell>\n<output>\n(3, 2)\n</output>\n"
        "<text>\nplot a against b\n</text>\n"
        "<cell>\ndf.plot('a', 'b')\n</cell>\n"
        "<text>\nVariables:\ndf: DataFrame, 3 rows x 2 columns: a (int64), b (float64)\n</text>\n"
        "<text>\nfit a line\n</text>\n<cell>\n"
    )
    assert fitted.dropped_cells == 0
    assert fitted.note is None


def test_request_context_script_style_is_codegen_multi_turn():
    fitted = build_request_context(NOTEBOOK, "fit a line", "script", words, 1000, variables=VARIABLES)
    assert fitted.text == (
        "# Sales\n\n"
        "import pandas as pd\ndf = pd.read_csv('sales.csv')\n\n"
        "df.shape\n# Out: (3, 2)\n\n"
        "# plot a against b\n"
        "df.plot('a', 'b')\n\n"
        "# Variables:\n# df: DataFrame, 3 rows x 2 columns: a (int64), b (float64)\n\n"
        "# fit a line\n"
    )


def test_request_context_multiline_request():
    fitted = build_request_context([], "load data.csv\n\nthen show it", "script", words, 100)
    assert fitted.text == "# load data.csv\n#\n# then show it\n"
    fitted = build_request_context([], "load data.csv\n", "notebook", words, 100)
    assert fitted.text == "<| file ext=.ipynb:python |>\n<text>\nload data.csv\n</text>\n<cell>\n"


def test_budget_drops_the_oldest_cells_and_keeps_the_nearest_whole():
    cells = [Cell("code", f"x{i} = {i}") for i in range(10)]  # each renders to 5 words in notebook style
    full = build_request_context(cells, "print them", "notebook", words, 10_000)
    assert words(full.text) == 4 + 10 * 5 + 5  # header + cells + request and cell opening
    fitted = build_request_context(cells, "print them", "notebook", words, 4 + 3 * 5 + 5 + 4)
    assert fitted.text == (
        "<| file ext=.ipynb:python |>\n"
        "<cell>\nx7 = 7\n</cell>\n<cell>\nx8 = 8\n</cell>\n<cell>\nx9 = 9\n</cell>\n"
        "<text>\nprint them\n</text>\n<cell>\n"
    )
    assert fitted.dropped_cells == 7
    assert fitted.note == "Left out the 7 oldest of 10 cells so the prompt fits in 28 tokens."
    one = build_request_context(cells, "print them", "notebook", words, 4 + 9 * 5 + 5)
    assert one.dropped_cells == 1
    assert one.note == "Left out the oldest of 10 cells so the prompt fits in 54 tokens."
    none = build_request_context(cells, "print them", "notebook", words, 4 + 5)
    assert none.note == "Left out all 10 earlier cells so the prompt fits in 9 tokens."


def test_a_big_cell_is_never_cut_and_stops_older_ones():
    cells = [Cell("code", "a = 1"), Cell("code", "b = " + " + ".join(["1"] * 50)), Cell("code", "c = 3")]
    fitted = build_request_context(cells, "go", "script", words, 20)
    assert fitted.text == "c = 3\n\n# go\n"  # `a = 1` would fit, but it is farther than the big cell
    assert fitted.dropped_cells == 2


def test_request_and_variables_are_kept_before_any_cell():
    cells = [Cell("code", "x = 1")]
    # "# go" is 2 words, the summary 7, the cell 3: the summary wins the 9 words
    fitted = build_request_context(cells, "go", "script", words, 9, variables="x: int = 1")
    assert fitted.text == "# Variables:\n# x: int = 1\n\n# go\n"
    assert fitted.note == "Left out the one earlier cell so the prompt fits in 9 tokens."


def test_variables_summary_is_dropped_only_when_it_cannot_fit():
    fitted = build_request_context([], "go", "script", words, 3, variables="x: int = 1")
    assert fitted.text == "# go\n"
    assert fitted.note == "Left out the variables summary so the prompt fits in 3 tokens."


def test_request_too_long_for_the_budget_is_an_error():
    with pytest.raises(RequestError, match="shorten the request or choose a model with a longer context"):
        build_request_context(NOTEBOOK, "word " * 100, "notebook", words, 50)


def test_empty_request_is_an_error():
    with pytest.raises(RequestError):
        build_request_context(NOTEBOOK, "  \n", "notebook", words, 50)


def test_blank_cells_are_skipped_not_counted_as_dropped():
    cells = [Cell("code", "x = 1"), Cell("code", "\n  \n"), Cell("markdown", "---")]
    fitted = build_request_context(cells, "go", "script", words, 100)
    assert fitted.text == "x = 1\n\n# go\n"
    assert fitted.note is None


def test_each_cell_is_counted_once():
    calls: list[str] = []

    def counting(text: str) -> int:
        calls.append(text)
        return words(text)

    cells = [Cell("code", f"x{i} = {i}") for i in range(200)]
    fitted = build_request_context(cells, "go", "notebook", counting, 4 + 50 * 5 + 4)
    assert fitted.dropped_cells == 150
    # the fixed part, the 50 kept cells, the one that did not fit, and one check of the whole document
    assert len(calls) == 1 + 51 + 1
    assert sum(map(len, calls)) < 3 * len(fitted.text)


def test_real_tokenizer_budget_is_respected(bpe_count):
    full = build_request_context(NOTEBOOK, "fit a line", "notebook", bpe_count, 10_000, variables=VARIABLES)
    total = bpe_count(full.text)
    exact = build_request_context(NOTEBOOK, "fit a line", "notebook", bpe_count, total, variables=VARIABLES)
    assert exact.text == full.text and exact.note is None
    tighter = build_request_context(NOTEBOOK, "fit a line", "notebook", bpe_count, total - 1, variables=VARIABLES)
    assert tighter.dropped_cells == 1
    assert tighter.text == full.text.replace("<text>\nSales\n</text>\n", "")
    assert bpe_count(tighter.text) <= total - 1
    for budget in range(total - 1, 10, -7):
        try:
            fitted = build_request_context(NOTEBOOK, "fit a line", "notebook", bpe_count, budget, variables=VARIABLES)
        except RequestError:
            break
        assert bpe_count(fitted.text) <= budget
        assert fitted.text.endswith("<text>\nfit a line\n</text>\n<cell>\n")


# --- infill context ------------------------------------------------------------------------------------------

ABOVE = [Cell("markdown", "# Sales"), Cell("code", "import pandas as pd")]
BELOW = [Cell("code", "total(df)", output="42"), Cell("markdown", "Done.")]
HOLED = ["def total(df):\n    ", "\n    return ", "\n"]


def test_infill_parts_notebook_style():
    ctx = build_infill_context(ABOVE, HOLED, BELOW, "notebook", words, 1000, variables="df: DataFrame")
    assert ctx.parts == [
        "<| file ext=.ipynb:python |>\n"
        "<text>\nSales\n</text>\n"
        "<cell>\nimport pandas as pd\n</cell>\n"
        "<text>\nVariables:\ndf: DataFrame\n</text>\n"
        "<cell>\ndef total(df):\n    ",
        "\n    return ",
        "\n</cell>\n<cell>\ntotal(df)\n</cell>\n<output>\n42\n</output>\n<text>\nDone.\n</text>\n",
    ]
    assert ctx.dropped_cells == 0 and ctx.note is None


def test_infill_parts_script_style():
    ctx = build_infill_context(ABOVE, HOLED, BELOW, "script", words, 1000)
    assert ctx.parts == [
        "# Sales\n\nimport pandas as pd\n\ndef total(df):\n    ",
        "\n    return ",
        "\n\ntotal(df)\n# Out: 42\n\n# Done.\n\n",
    ]


def test_infill_without_holes_is_one_part():
    ctx = build_infill_context([], ["\nx = 1\n\n"], [], "notebook", words, 100)
    assert ctx.parts == ["<| file ext=.ipynb:python |>\n<cell>\nx = 1\n</cell>\n"]


def test_infill_drops_farthest_on_either_side_below_first_on_a_tie():
    above = [Cell("code", f"a{i} = {i}") for i in range(4)]  # a3 is nearest
    below = [Cell("code", f"b{i} = {i}") for i in range(2)]  # b0 is nearest
    cell = ["x = ", ""]
    fixed = words("<| file ext=.ipynb:python |>\n<cell>\nx = \n</cell>\n")
    # room for three cells of 5 words: a3 (distance 1), b0 (1), a2 (2); b1 (2) loses the tie, a1, a0 are farther
    ctx = build_infill_context(above, cell, below, "notebook", words, fixed + 15)
    assert ctx.parts == [
        "<| file ext=.ipynb:python |>\n<cell>\na2 = 2\n</cell>\n<cell>\na3 = 3\n</cell>\n<cell>\nx = ",
        "\n</cell>\n<cell>\nb0 = 0\n</cell>\n",
    ]
    assert ctx.dropped_cells == 3
    assert ctx.note == "Left out the 3 farthest of 6 cells (2 above, 1 below) so the prompt fits in 23 tokens."


def test_infill_note_when_every_other_cell_is_left_out():
    ctx = build_infill_context(ABOVE, HOLED, BELOW[:1], "script", words, 5, variables="df: DataFrame")
    assert ctx.parts == ["def total(df):\n    ", "\n    return ", "\n\n"]
    assert ctx.note == (
        "Left out all 3 other cells (2 above, 1 below) and the variables summary so the prompt fits in 5 tokens."
    )


def test_infill_with_a_too_long_cell_is_an_error():
    with pytest.raises(RequestError, match="split or shorten the cell"):
        build_infill_context(ABOVE, ["x = " + "1 + " * 100, ""], BELOW, "script", words, 50)


def test_infill_real_tokenizer_budget(bpe_count):
    full = build_infill_context(ABOVE, HOLED, BELOW, "notebook", bpe_count, 10_000)
    total = bpe_count("".join(full.parts))
    for budget in range(total, 0, -5):
        try:
            ctx = build_infill_context(ABOVE, HOLED, BELOW, "notebook", bpe_count, budget)
        except RequestError:
            break
        assert bpe_count("".join(ctx.parts)) <= budget
        assert ctx.parts[0].endswith("<cell>\ndef total(df):\n    ")
        assert ctx.parts[1] == "\n    return "
        assert ctx.parts[2].startswith("\n</cell>\n")
