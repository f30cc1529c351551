"""`make demo`: runs notebooks/demo.ipynb headless in a real kernel and prints the cells the model generated.

Uses the embedded default model. While that model is not built yet (it comes with the embedded-model work),
the demo says so and runs on a tiny random-weight model made on the spot: the plumbing is real, the code it
prints is gibberish.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from nbclient import NotebookClient

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def model_spec(work: Path) -> str | None:
    """None when the embedded model is installed; otherwise a tiny model's folder, said out loud."""
    from jupyter_codegen.model_store import DEFAULT_MODEL_DIR, is_onnx_folder

    if is_onnx_folder(DEFAULT_MODEL_DIR):
        return None
    print(
        "NOTE: the embedded default model is not built yet, so this demo runs on a tiny random-weight model made\n"
        "on the spot. The cells below show the whole path (context, prompt, ONNX Runtime, insertion), not the\n"
        "quality of the answers: a random model writes gibberish.\n"
    )
    sys.path.insert(0, str(ROOT / "tests"))
    import tiny_models

    return str(tiny_models.make_tiny_model("xglm", work / "tiny"))


def main() -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        nb = nbformat.read(HERE / "demo.ipynb", as_version=4)
        spec = model_spec(work)
        if spec is not None:
            load = next(i for i, c in enumerate(nb.cells) if c.source.startswith("%load_ext jupyter_codegen"))
            tiny = f"%config CodeGen.model = {spec!r}\n%config CodeGen.max_new_tokens = 32  # the tiny model reads 256 tokens"
            nb.cells.insert(load + 1, nbformat.v4.new_code_cell(tiny))
        nb.cells.insert(0, nbformat.v4.new_code_cell(f"%config CodeGen.conversation_dir = {str(work / 'conv')!r}"))
        payloads: dict[int, str] = {}

        def on_cell_executed(cell, cell_index, execute_reply):
            for payload in execute_reply["content"].get("payload", []):
                if payload.get("source") == "set_next_input":
                    payloads[cell_index] = payload["text"]

        client = NotebookClient(nb, kernel_name="python3", timeout=600, resources={"metadata": {"path": str(HERE)}})
        client.on_cell_executed = on_cell_executed
        client.execute()
        for index, cell in enumerate(nb.cells):
            if not cell.source.startswith(("%%codegen", "%%infill")):
                continue
            print("=" * 72)
            print(cell.source)
            print("-" * 72 + " generated cell:")
            print(payloads.get(index, "(nothing inserted)"))
            notes = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
            if notes.strip():
                print("-" * 72 + " notes:")
                print(notes.rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
