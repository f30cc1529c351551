"""A folder of the user's notebooks as training documents for the fine-tuning notebook (notebooks/finetune.ipynb).

Each notebook becomes one document in exactly the layout the magics send (`notebook_document`), so the model
learns the user's libraries, tables and habits in the form it will read them. The held-out share is split by
notebook, never inside one, so held-out loss measures notebooks the model has not seen. A notebook that cannot be
read is skipped and listed with the reason, never fatal.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Literal

from .errors import CodeGenError
from .notebook_document import cells_of, is_python, render_notebook

Split = Literal["train", "heldout"]


class FinetuneError(CodeGenError):
    """A problem with the user's fine-tuning setup, in one sentence that says what to do."""


@dataclass(frozen=True)
class NotebookDocument:
    path: Path
    text: str
    split: Split


@dataclass
class NotebookSet:
    folder: Path
    documents: list[NotebookDocument] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    """Notebooks left out, with why (not JSON, not Python, no code)."""

    def split(self, name: Split) -> list[NotebookDocument]:
        return [d for d in self.documents if d.split == name]

    def summary(self, count_tokens: Callable[[str], int] | None = None) -> dict:
        """Counts per split (notebooks, characters, and tokens when a counter is given), and what was skipped."""
        rows = {}
        for name in ("train", "heldout"):
            docs = self.split(name)  # type: ignore[arg-type]
            rows[name] = {"notebooks": len(docs), "characters": sum(len(d.text) for d in docs)}
            if count_tokens is not None:
                rows[name]["tokens"] = sum(count_tokens(d.text) for d in docs)
        rows["skipped"] = [{"notebook": str(p), "why": why} for p, why in self.skipped]
        return rows


def _heldout_rank(relative: str, seed: int) -> str:
    return hashlib.sha256(f"{seed}:{relative}".encode()).hexdigest()


def notebooks_in(folder: Path) -> list[Path]:
    """The .ipynb files under `folder`, in a stable order, without Jupyter's checkpoint copies."""
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts and p.is_file())


def read_notebook(path: Path) -> tuple[str | None, str]:
    """(document, "") for a usable notebook, else (None, why it was skipped)."""
    try:
        raw = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return None, f"cannot be read ({exc.__class__.__name__}: {exc})"
    try:
        nb = json.loads(raw)
    except json.JSONDecodeError as exc:
        return None, f"is not valid JSON (line {exc.lineno}: {exc.msg})"
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return None, "is JSON but not a notebook (no list of cells)"
    if not is_python(nb):
        return None, "is not a Python notebook"
    cells = cells_of(nb)
    if not any(c.kind == "code" for c in cells):
        return None, "has no code cells"
    return render_notebook(cells), ""


def collect(folder: str | Path, heldout_share: float = 0.2, seed: int = 0) -> NotebookSet:
    """Every usable notebook under `folder`, serialized, with a held-out share of whole notebooks (at least one
    when there are two or more, so held-out loss can be measured)."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise FinetuneError(f"The folder {root} does not exist; set notebooks_folder to a folder of .ipynb files.")
    paths = notebooks_in(root)
    if not paths:
        raise FinetuneError(f"The folder {root} holds no .ipynb notebooks; set notebooks_folder to a folder that does.")
    result = NotebookSet(root)
    usable: list[tuple[Path, str]] = []
    for path in paths:
        text, why = read_notebook(path)
        if text is None:
            result.skipped.append((path, why))
        else:
            usable.append((path, text))
    if not usable:
        raise FinetuneError(
            f"None of the {len(paths)} notebooks in {root} could be used (the first {result.skipped[0][1]}); "
            "point notebooks_folder at Python notebooks with code cells."
        )
    order = sorted(usable, key=lambda pt: _heldout_rank(pt[0].relative_to(root).as_posix(), seed))
    n_heldout = 0 if len(usable) < 2 else max(1, round(heldout_share * len(usable)))
    heldout = {p for p, _ in order[:n_heldout]}
    result.documents = [NotebookDocument(p, t, "heldout" if p in heldout else "train") for p, t in usable]
    return result


def write_jsonl(documents: list[NotebookDocument], path: str | Path) -> Path:
    """The documents as the training code reads them: one {"text", "source"} object per line."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as fh:
        for doc in documents:
            fh.write(json.dumps({"text": doc.text, "source": "user", "path": str(doc.path)}, ensure_ascii=False) + "\n")
    return out
