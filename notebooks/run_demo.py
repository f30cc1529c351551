"""`make demo`: runs notebooks/demo.ipynb headless in a real kernel, as an analyst would use it.

Each `%%codegen` / `%%infill` cell runs through the real magics; the cell the model proposes (the
`set_next_input` payload JupyterLab would insert) is then added below it and run, as a user who accepts it would,
so later requests ("plot it", "now only for 2023") see the earlier answers. Prints every request, the generated
cell and what running it showed. Uses the embedded default model; `--model` runs the same session on another.
`--save PATH` keeps the executed notebook.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
RULE = "-" * 72
MAGICS = ("%%codegen", "%%infill")


def _payload(reply: dict | None) -> str | None:
    for payload in (reply or {}).get("content", {}).get("payload", []):
        if payload.get("source") == "set_next_input":
            return payload["text"]
    return None


def _shown(cell) -> str:
    """What a person would see under a cell, in text: streams, values, errors, and figures as a placeholder."""
    parts: list[str] = []
    for out in cell.get("outputs", []):
        kind = out.get("output_type")
        if kind == "stream":
            parts.append(out.get("text", "").rstrip())
        elif kind in ("execute_result", "display_data"):
            data = out.get("data", {})
            if "image/png" in data:
                parts.append("[figure]")
            elif "text/plain" in data:
                parts.append(data["text/plain"].rstrip())
        elif kind == "error":
            parts.append(f"{out.get('ename')}: {out.get('evalue')}")
    return "\n".join(p for p in parts if p)


def run(model: str | None, save: Path | None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from jupyter_codegen.model_store import DEFAULT_MODEL_DIR, is_onnx_folder

    if model is None and not is_onnx_folder(DEFAULT_MODEL_DIR):
        print("The embedded default model is missing from this install; reinstall jupyter-codegen or pass --model.")
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        nb = nbformat.read(HERE / "demo.ipynb", as_version=4)
        setup = [f"%config CodeGen.conversation_dir = {str(Path(tmp) / 'conv')!r}"]
        if model is not None:
            setup.append(f"%config CodeGen.model = {model!r}")
        load = next(i for i, c in enumerate(nb.cells) if c.source.startswith("%load_ext jupyter_codegen"))
        nb.cells[load].source += "\n" + "\n".join(setup)
        client = NotebookClient(
            nb, kernel_name="python3", timeout=600, allow_errors=True, resources={"metadata": {"path": str(HERE)}}
        )
        replies: dict[int, dict] = {}
        client.on_cell_executed = lambda cell, cell_index, execute_reply: replies.__setitem__(cell_index, execute_reply)
        with client.setup_kernel():
            inserted = 0
            for position, cell in enumerate(list(nb.cells)):
                index = position + inserted
                if cell.cell_type != "code":
                    continue
                client.execute_cell(cell, index, store_history=True)
                if not cell.source.startswith(MAGICS):
                    continue
                generated = _payload(replies.get(index))
                print("=" * 72)
                print(cell.source.rstrip())
                print(RULE + " generated cell:")
                print(generated.rstrip() if generated else "(nothing generated)")
                notes = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream").strip()
                if notes:
                    print(RULE + " notes:")
                    print(notes)
                if generated:
                    accepted = nbformat.v4.new_code_cell(generated)
                    nb.cells.insert(index + 1, accepted)
                    inserted += 1
                    # allow_errors: an answer that raises keeps its error in the outputs, shown below.
                    client.execute_cell(accepted, index + 1, store_history=True)
                    print(RULE + " running it shows:")
                    print(_shown(accepted) or "(no output)")
        if save is not None:
            nbformat.write(nb, save)
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="any CodeGen.model value (default: the embedded model)")
    ap.add_argument("--save", type=Path, help="write the executed notebook here")
    args = ap.parse_args(argv)
    return run(args.model, args.save)


if __name__ == "__main__":
    sys.exit(main())
