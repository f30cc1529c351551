"""Jupyter notebooks (.ipynb) turned into documents in the product's notebook layout: the package's own
conversion (`jupyter_codegen.notebook_document`), which the fine-tuning notebook uses on a user's notebooks too."""

from __future__ import annotations

from jupyter_codegen.notebook_document import convert, notebook_cells

__all__ = ["convert", "notebook_cells"]
