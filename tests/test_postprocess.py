import ast

import pytest

from jupyter_codegen.postprocess import cut_at_stop, split_cells, tidy_code


# --- cut_at_stop -------------------------------------------------------------------------------------------


def test_cut_at_earliest_stop_not_first_listed():
    text = "x = 1\n</cell>\n<cell>\ny = 2<|endofmask|>"
    assert cut_at_stop(text, ["<|endofmask|>", "</cell>"]) == ("x = 1\n", True)


def test_cut_without_stop_keeps_text():
    assert cut_at_stop("print('hi')\n", ["<|endoftext|>"]) == ("print('hi')\n", False)
    assert cut_at_stop("abc", []) == ("abc", False)


def test_cut_ignores_empty_stop_string():
    assert cut_at_stop("abc<eom>", ["", "<eom>"]) == ("abc", True)


def test_cut_at_position_zero_and_unicode():
    assert cut_at_stop("<|endoftext|>rest", ["<|endoftext|>"]) == ("", True)
    text = "naïve = 'héllo'  # ünïcode ✓<｜fim▁end｜>junk"
    assert cut_at_stop(text, ["<｜fim▁end｜>"]) == ("naïve = 'héllo'  # ünïcode ✓", True)


def test_cut_on_empty_text():
    assert cut_at_stop("", ["</cell>"]) == ("", False)


# --- tidy_code ---------------------------------------------------------------------------------------------


def test_tidy_strips_leading_blank_lines_and_trailing_whitespace():
    assert tidy_code("\n  \n\nx = 1\ny = 2   \n\n\t\n") == "x = 1\ny = 2"


def test_tidy_keeps_complete_code_unchanged():
    code = 'd = {"a": 1, "b": {"c": [1, 2]}}\nprint(f"{d[\'a\']:>5} costs $3 and 50% off")'
    assert tidy_code(code) == code


def test_tidy_cuts_truncated_call():
    code = "import pandas as pd\ndf = pd.read_csv('data.csv')\ndf.groupby('city').agg({'price': 'mean',"
    assert tidy_code(code) == "import pandas as pd\ndf = pd.read_csv('data.csv')"


def test_tidy_cuts_truncated_function_body_keeping_the_complete_part():
    code = "def area(r):\n    pi = 3.14159\n    return pi * r **"
    assert tidy_code(code) == "def area(r):\n    pi = 3.14159"
    ast.parse(tidy_code(code))


def test_tidy_cuts_unclosed_multiline_brackets():
    code = "x = 1\nconfig = {\n    'lr': 0.1,\n    'epochs': 10,\n"
    assert tidy_code(code) == "x = 1"


def test_tidy_does_not_end_on_a_dangling_comment():
    code = "data = [3, 1, 2]\n# now sort and plot it\nplt.plot(sorted(data),"
    assert tidy_code(code) == "data = [3, 1, 2]"


def test_tidy_never_returns_less_than_first_statement():
    # Only a comment parses before the truncation: keep the text so the user sees it.
    code = "# load the data\ndf = pd.read_csv(\n    'x.csv',"
    assert tidy_code(code) == code


def test_tidy_returns_unparseable_text_unchanged():
    code = "\n\nthis is not python at all (\n"
    assert tidy_code(code) == "this is not python at all ("


def test_tidy_ignores_ipython_magics_and_shell_lines():
    complete = "%matplotlib inline\n!pip install -q seaborn\nfiles = !ls $HOME\nimport seaborn as sns"
    assert tidy_code(complete + "\nsns.histplot(df['x'],") == complete


def test_tidy_magic_inside_block_and_complete_magic_code_kept():
    code = "for name in ['a', 'b']:\n    !echo {name}\n    %time f(name)"
    assert tidy_code(code) == code


def test_tidy_modulo_on_continuation_line_is_python_not_a_magic():
    code = "total = (a\n         % b)"
    assert tidy_code(code) == code


def test_tidy_leaves_cell_magic_bodies_alone():
    code = "%%bash\nls -la\necho done &&"
    assert tidy_code(code) == code


def test_tidy_indented_infill_is_repaired():
    code = "    total = 0\n    for x in items:\n        total += x\n    return total /"
    assert tidy_code(code) == "    total = 0\n    for x in items:\n        total += x"


def test_tidy_backslashes_and_raw_strings():
    code = 'path = r"C:\\Users\\me\\data.csv"\npattern = "\\\\d+\\n"\nlong = 1 + \\\n    2'
    assert tidy_code(code) == code
    truncated = code + "\nresult = re.findall(pattern, \\"
    assert tidy_code(truncated) == code


def test_tidy_unclosed_string_is_cut():
    code = "print('ok')\nmsg = \"\"\"Dear user,\nyour report is ready"
    assert tidy_code(code) == "print('ok')"


def test_tidy_unicode():
    code = "température = 21.5\nprint(f'{température} °C — ok ✓')\nnom = 'élève' +"
    assert tidy_code(code) == "température = 21.5\nprint(f'{température} °C — ok ✓')"


def test_tidy_crlf_and_null_bytes_do_not_crash():
    assert tidy_code("x = 1\r\ny = (\r\n") == "x = 1"
    assert tidy_code("x = 1\n\x00\x00") == "x = 1"


@pytest.mark.parametrize("empty", ["", "\n\n", "   \n\t\n"])
def test_tidy_empty(empty):
    assert tidy_code(empty) == ""


# --- split_cells -------------------------------------------------------------------------------------------


def test_split_single_cell():
    assert split_cells("x = 1\nprint(x)\n") == ["x = 1\nprint(x)"]


@pytest.mark.parametrize("empty", ["", "\n \n", "# %%\n\n# %%\n", "</cell>\n<cell>\n"])
def test_split_empty_gives_one_empty_cell(empty):
    assert split_cells(empty) == [""]


def test_split_on_percent_markers():
    code = "# %%\nimport numpy as np\n\n# %% Load the data\ndata = np.load('a.npy')\n#%%\nprint(data.shape)\n"
    assert split_cells(code) == ["import numpy as np", "data = np.load('a.npy')", "print(data.shape)"]


def test_split_markdown_marker_keeps_comment_text():
    code = "x = 1\n# %% [markdown]\n# ## Results\n# %%\nprint(x)"
    assert split_cells(code) == ["x = 1", "# ## Results", "print(x)"]


def test_split_does_not_split_on_modulo_or_percent_in_strings():
    code = "rate = 5 % 3\nprint('%% done: %d%%' % rate)\n# 100% sure"
    assert split_cells(code) == [code]


def test_split_on_notebook_tags_dropping_text_and_outputs_between():
    code = (
        "df = load()\n</cell>\n<text>\nNow we plot the prices\n</text>\n<cell>\ndf.plot()\n</cell>\n"
        "<output>\n<Axes>\n</output>\n<cell>\nplt.show()"
    )
    assert split_cells(code) == ["df = load()", "df.plot()", "plt.show()"]


def test_split_trailing_close_tag_drops_the_rest():
    assert split_cells("a = {'k': 1}\n</cell>\n<text> trailing prose") == ["a = {'k': 1}"]


def test_split_leading_open_tag_and_mixed_markers():
    code = "<cell>\nx = 1\n# %%\ny = 2\n</cell><cell>z = 3"
    assert split_cells(code) == ["x = 1", "y = 2", "z = 3"]


def test_split_keeps_indentation_and_unicode():
    code = "def f():\n    return 'π ≈ 3.14'\n# %%\n    # indented comment\nprint(f())"
    assert split_cells(code) == ["def f():\n    return 'π ≈ 3.14'", "    # indented comment\nprint(f())"]


def test_control_characters_never_reach_a_cell():
    assert tidy_code("x = 1\x14\ny = 2\x00\n") == "x = 1\ny = 2"
    assert tidy_code("df.head()\r\n") == "df.head()"


def test_conventional_imports_the_code_forgot_are_named_unless_the_notebook_has_them():
    from jupyter_codegen.postprocess import missing_imports, names_bound_by

    code = 'plt.hist(df["age"], bins=5)\nsns.despine()\nnp.log(2)'
    assert missing_imports(code, set()) == [
        "import numpy as np", "import matplotlib.pyplot as plt", "import seaborn as sns"]
    earlier = names_bound_by(["import numpy as np\nfrom matplotlib import pyplot as plt", "%matplotlib inline\nsns = 1"])
    assert missing_imports(code, earlier) == []
    assert missing_imports("import matplotlib.pyplot as plt\nplt.show()", set()) == []
    assert missing_imports("def f(pd):\n    return pd.x", set()) == []  # an argument, not the module
    assert missing_imports("plt.show(", set()) == []  # does not parse: left as it is
