"""User-guide pages (Sphinx reStructuredText) as training notebooks, and the Debian source they come from."""

from __future__ import annotations

import json

import pytest

from jupyter_codegen.context import NOTEBOOK_HEADER
from model.corpus import build as corpus_build
from model.corpus import debian_docs, sources, tutorials

PAGE = """\
.. _tut_subset:

{{ header }}

.. ipython:: python

    import pandas as pd
    titanic = pd.read_csv("data/titanic.csv")

.. raw:: html

    <div class="card">Data used for this tutorial</div>

Selecting data
==============

How do I filter specific rows?
------------------------------

.. image:: ../_static/rows.svg

I'm interested in the passengers older than 35 years.

.. ipython:: python

    above_35 = titanic[titanic["Age"] > 35]
    above_35.head()

To select rows, put a condition inside the brackets ``[]``; see
:meth:`~pandas.DataFrame.query` and :ref:`the guide <indexing>`.

.. ipython:: python
   :suppress:

    import matplotlib
    matplotlib.use("Agg")

.. note::
    A long aside that no code follows.

The output looks like this::

    PassengerId  Survived
    2            1

How do I plot a column?
-----------------------

Plot the ages as a histogram:

.. ipython:: python

    @savefig ages.png
    titanic["Age"].plot.hist()

.. code-block:: ipython

    In [1]: titanic.shape
    Out[1]: (891, 12)

.. code-block:: bash

    pip install pandas
"""

SETUP = '<cell>\nimport pandas as pd\ntitanic = pd.read_csv("data/titanic.csv")\n</cell>\n'


def test_a_page_becomes_one_notebook_per_section_with_the_pages_setup_first():
    nbs = list(tutorials.convert(PAGE))
    assert [nb.section for nb in nbs] == ["How do I filter specific rows?", "How do I plot a column?"]
    assert nbs[0].text == (
        NOTEBOOK_HEADER
        + SETUP
        + "<text>\nHow do I filter specific rows?\n</text>\n"
        + "<text>\nI'm interested in the passengers older than 35 years.\n</text>\n"
        + '<cell>\nabove_35 = titanic[titanic["Age"] > 35]\nabove_35.head()\n</cell>\n'
        + "<|/ file |>"
    )
    # The decorator and the IPython prompts are the directive's, not Python; the output line and the shell
    # block are not code; two blocks with nothing between them are one cell.
    assert nbs[1].text == (
        NOTEBOOK_HEADER
        + SETUP
        + "<text>\nHow do I plot a column?\n</text>\n"
        + "<text>\nPlot the ages as a histogram:\n</text>\n"
        + '<cell>\ntitanic["Age"].plot.hist()\ntitanic.shape\n</cell>\n'
        + "<|/ file |>"
    )
    assert [nb.code_cells for nb in nbs] == [2, 2]


def test_prose_that_no_code_follows_is_left_out_and_a_long_lead_in_keeps_its_last_paragraph():
    long = "Words. " * 100
    page = f"Title\n=====\n\n{long}\n\nSort by price:\n\n.. ipython:: python\n\n    df.sort_values('price')\n\nAfter.\n"
    (nb,) = tutorials.convert(page)
    assert nb.text == (NOTEBOOK_HEADER + "<text>\nTitle\n</text>\n<text>\nSort by price:\n</text>\n"
                       + "<cell>\ndf.sort_values('price')\n</cell>\n<|/ file |>")


@pytest.mark.parametrize("rst, text", [
    ("Use :func:`pandas.merge` or :meth:`~DataFrame.join`.", "Use `pandas.merge` or `join`."),
    ("See :ref:`the user guide <groupby>` and `the docs <https://x.org>`__.", "See the user guide and the docs."),
    ("The ``Age`` column |br|", "The `Age` column"),
])
def test_inline_markup_becomes_markdown(rst, text):
    assert tutorials.inline_text(rst) == text


@pytest.mark.parametrize("said, licence", [
    ("BSD-3", "BSD-3-Clause"),
    ("Expat", "MIT"),
    ("BSD-3 and Expat", "BSD-3-Clause AND MIT"),
    ("GPL-2+", None),
    ("BSD-3 or GPL-2+", None),  # a choice is not read: unclear is skipped
])
def test_the_licence_of_files_star_is_read_from_the_debian_copyright_file(said, licence):
    text = (f"Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\nUpstream-Name: x\n\n"
            f"Files: *\nCopyright: 2008 Someone\nLicense: {said}\n\nFiles: vendor/*\nCopyright: Other\nLicense: GPL-3\n")
    assert debian_docs.licence_of_copyright(text) == (licence, said)
    assert debian_docs.licence_of_copyright("Files: vendor/*\nLicense: MIT\n")[0] is None


def test_unknown_documentation_packages_are_refused_before_anything_is_fetched(tmp_path):
    with pytest.raises(RuntimeError, match="not a known documentation package"):
        debian_docs.fetch("python-unknown-doc", tmp_path)
    assert not (tmp_path / "debian").exists()


def test_the_build_reads_only_the_included_pages_of_a_documentation_source(tmp_path):
    root = tmp_path / "_sources"
    (root / "user_guide").mkdir(parents=True)
    (root / "whatsnew").mkdir()
    (root / "user_guide" / "subset.rst.txt").write_text(PAGE)
    (root / "user_guide" / "cookbook.rst.txt").write_text(PAGE.replace("35", "40"))
    (root / "user_guide" / "style.ipynb.txt").write_text("{}")
    (root / "whatsnew" / "v1.rst.txt").write_text(PAGE.replace("35", "50"))
    src = sources.Source("guide-docs", "1.0", "BSD-3-Clause", "Debian copyright (Files: *)", "test", root=root,
                         suffixes=(".rst.txt",), include=("user_guide",), exclude=("user_guide/cookbook.rst.txt",))
    out = tmp_path / "out"
    stats = corpus_build.build(out, include_stdlib=False, packages=[], extra_sources=[src], log=lambda *_: None)
    docs = [json.loads(line) for line in (out / "corpus.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [d["path"] for d in docs] == ["user_guide/subset.rst.txt::How do I filter specific rows?",
                                         "user_guide/subset.rst.txt::How do I plot a column?"]
    assert {d["kind"] for d in docs} == {"tutorial-notebook"} and {d["source"] for d in docs} == {"guide-docs"}
    assert stats["by_source"]["guide-docs"]["files_seen"] == 1
    assert "guide-docs" in (out / "NOTICE.md").read_text()


def test_a_page_without_sections_is_one_notebook_with_the_code_before_its_title():
    page = ('.. ipython:: python\n\n    import pandas as pd\n    df = pd.read_csv("x.csv")\n\n'
            "How do I add a column?\n======================\n\nI want the price in euros.\n\n"
            '.. ipython:: python\n\n    df["eur"] = df["usd"] * 0.9\n')
    (nb,) = tutorials.convert(page)
    assert nb.text == (NOTEBOOK_HEADER + '<cell>\nimport pandas as pd\ndf = pd.read_csv("x.csv")\n</cell>\n'
                       + "<text>\nHow do I add a column?\n</text>\n<text>\nI want the price in euros.\n</text>\n"
                       + '<cell>\ndf["eur"] = df["usd"] * 0.9\n</cell>\n<|/ file |>')
    (alone,) = tutorials.convert('Plain words.\n\n.. code-block:: python\n\n    x = 1\n')
    assert alone.text == NOTEBOOK_HEADER + "<text>\nPlain words.\n</text>\n<cell>\nx = 1\n</cell>\n<|/ file |>"
