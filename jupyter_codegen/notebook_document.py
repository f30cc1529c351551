"""A whole .ipynb notebook as one document in the layout the model reads (the context builder's notebook style):
for training on notebooks, the project's corpus and a user's own (the fine-tuning notebook) alike.

Markdown cells go through the context builder's renderer (formatting stripped as at inference), code cells keep
their source, and a code cell's outputs become one ``<output>`` block: only text (streams, ``text/plain`` results,
the error line), trimmed with `context.trim_output` exactly as a live output is. Images, HTML and widgets are left
out. Raw cells and notebooks in other languages are skipped.
"""

from __future__ import annotations

from .context import NOTEBOOK_HEADER, Cell, markdown_to_text, render_cell, trim_output

FILE_CLOSE = "<|/ file |>"
"""Closes a document, as InCoder's file metadata does."""


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


def is_python(nb: dict) -> bool:
    meta = nb.get("metadata") or {}
    lang = (meta.get("kernelspec") or {}).get("language") or (meta.get("language_info") or {}).get("name")
    return lang is None or str(lang).lower().startswith("python")


def cells_of(nb: dict) -> list[Cell]:
    """The markdown and code cells of a parsed notebook (nbformat 4), outputs as trimmed text."""
    cells: list[Cell] = []
    for cell in nb.get("cells", []):
        source = _join(cell.get("source"))
        if not source.strip():
            continue
        if cell.get("cell_type") == "markdown":
            cells.append(Cell("markdown", source))
        elif cell.get("cell_type") == "code":
            cells.append(Cell("code", source, _output_text(cell.get("outputs"))))
    return cells


def notebook_cells(raw: str) -> list[Cell] | None:
    """The notebook's cells, or None when it is not a readable Python notebook with code in it."""
    import nbformat

    try:
        nb = nbformat.reads(raw, as_version=4)
    except Exception:  # nbformat raises several kinds on malformed JSON or schemas
        return None
    if not is_python(nb):
        return None
    cells = cells_of(nb)
    return cells if any(c.kind == "code" for c in cells) else None


def render_notebook(cells: list[Cell]) -> str:
    """Cells as one notebook document, exactly as the context builder lays a notebook out, closed like a file.

    Cells with nothing to say (blank code, markdown that is only an image) are left out, as the context builder
    leaves them out."""
    kept = [c for c in cells if (markdown_to_text(c.source) if c.kind == "markdown" else c.source).strip()]
    return NOTEBOOK_HEADER + "".join(render_cell(c, "notebook") for c in kept) + FILE_CLOSE


def convert(raw: str) -> str | None:
    """The notebook as one document (header, ``<text>``/``<cell>``/``<output>`` blocks, closing tag), or None."""
    cells = notebook_cells(raw)
    if cells is None:
        return None
    text = render_notebook(cells)
    return text if "<cell>" in text else None
