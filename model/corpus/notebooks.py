"""Jupyter notebooks (.ipynb) turned into documents in the product's notebook layout.

Markdown cells go through the product's own renderer (formatting stripped as at inference), code cells keep their
source, and a code cell's outputs become one ``<output>`` block: only text (streams, ``text/plain`` results, the
error line), trimmed with `jupyter_codegen.context.trim_output` exactly as the context builder trims a live output.
Images, HTML and widgets are left out. Raw cells and non-Python notebooks are skipped.
"""

from __future__ import annotations

import nbformat

from jupyter_codegen.context import Cell, trim_output

from .doctests import render_notebook


def _join(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value or "")


def _output_text(outputs) -> str | None:
    pieces: list[str] = []
    for out in outputs or []:
        kind = out.get("output_type")
        if kind == "stream":
            pieces.append(_join(out.get("text")))
        elif kind in ("execute_result", "display_data"):
            plain = (out.get("data") or {}).get("text/plain")
            if plain is not None:
                pieces.append(_join(plain))
        elif kind == "error":
            pieces.append(f"{out.get('ename', 'Error')}: {out.get('evalue', '')}")
    text = "\n".join(p.rstrip("\n") for p in pieces if p.strip())
    return trim_output(text) if text.strip() else None


def _is_python(nb) -> bool:
    meta = nb.get("metadata") or {}
    lang = (meta.get("kernelspec") or {}).get("language") or (meta.get("language_info") or {}).get("name")
    return lang is None or str(lang).lower().startswith("python")


def notebook_cells(raw: str) -> list[Cell] | None:
    """The notebook's cells, or None when it is not a readable Python notebook with code in it."""
    try:
        nb = nbformat.reads(raw, as_version=4)
    except Exception:  # nbformat raises several kinds on malformed JSON or schemas
        return None
    if not _is_python(nb):
        return None
    cells: list[Cell] = []
    for cell in nb.get("cells", []):
        source = _join(cell.get("source"))
        if not source.strip():
            continue
        if cell.get("cell_type") == "markdown":
            cells.append(Cell("markdown", source))
        elif cell.get("cell_type") == "code":
            cells.append(Cell("code", source, _output_text(cell.get("outputs"))))
    if not any(c.kind == "code" for c in cells):
        return None
    return cells


def convert(raw: str) -> str | None:
    """The notebook as one document (header, ``<text>``/``<cell>``/``<output>`` blocks, closing tag), or None."""
    cells = notebook_cells(raw)
    if cells is None:
        return None
    text = render_notebook(cells)
    return text if "<cell>" in text else None
