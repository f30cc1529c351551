"""The frontend protocol against a real kernel: a client opens the comm as the JupyterLab extension will, sends a
snapshot before a %%codegen cell's execute request, and the cell's prompt, output and reply show it was used."""

from __future__ import annotations

import os
import uuid

import pytest

from jupyter_codegen.frontend_protocol import CELLS_MIME, COMM_TARGET, INSERT_CELLS, REPLACE_SOURCE

pytestmark = pytest.mark.slow
TIMEOUT = 120


@pytest.fixture
def kernel(tiny_model, tmp_path):
    from jupyter_client.manager import start_new_kernel

    env = {k: v for k, v in os.environ.items() if not k.startswith("JPY_")}
    env["JPY_SESSION_NAME"] = str(tmp_path / "sales.ipynb")
    km, kc = start_new_kernel(kernel_name="python3", startup_timeout=TIMEOUT, env=env, cwd=str(tmp_path))
    try:
        setup = "\n".join([
            "%load_ext jupyter_codegen",
            f"%config CodeGen.model = {str(tiny_model('xglm'))!r}",
            f"%config CodeGen.conversation_dir = {str(tmp_path / 'conversations')!r}",
            "%config CodeGen.use_server = False",
            "%config CodeGen.max_new_tokens = 16",
        ])
        run = execute(kc, setup, "setup")
        assert run["status"] == "ok", run
        yield kc
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)


def send(kc, msg_type: str, content: dict, metadata: dict | None = None, session: str | None = None) -> str:
    """Sends a shell message; `session` makes it come from another client than `kc` (as a second frontend's)."""
    msg = kc.session.msg(msg_type, content, metadata=metadata or {})
    if session is not None:
        msg["header"]["session"] = session
    kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def execute(kc, code: str, cell_id: str, session: str | None = None) -> dict:
    """Runs `code` as the notebook cell `cell_id` (JupyterLab puts the id in the request's metadata); returns what
    the kernel sent for it: text, displayed bundles, comm messages, and the reply."""
    content = {"code": code, "silent": False, "store_history": True, "user_expressions": {}, "allow_stdin": False,
               "stop_on_error": True}
    msg_id = send(kc, "execute_request", content, {"cellId": cell_id}, session)
    return collect(kc, msg_id)


def set_next_input(run: dict) -> list[dict]:
    return [p for p in run["payload"] if p.get("source") == "set_next_input"]


def collect(kc, msg_id: str) -> dict:
    out = {"text": "", "bundles": [], "comm": []}
    while True:
        msg = kc.get_iopub_msg(timeout=TIMEOUT)
        kind, content = msg["msg_type"], msg["content"]
        if kind == "comm_msg":
            out["comm"].append(content["data"])
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if kind == "stream":
            out["text"] += content["text"]
        elif kind in ("display_data", "update_display_data", "execute_result"):
            out["bundles"].append(content["data"])
        elif kind == "error":
            out["text"] += "\n".join(content["traceback"])
        elif kind == "status" and content["execution_state"] == "idle":
            break
    while True:
        reply = kc.get_shell_msg(timeout=TIMEOUT)
        if reply["parent_header"].get("msg_id") == msg_id:
            out["status"] = reply["content"]["status"]
            out["payload"] = reply["content"].get("payload", [])
            return out


def snapshot_for(cell: str) -> dict:
    return {
        "type": "snapshot", "protocol": 1, "notebook_path": "sales.ipynb", "cell_id": "run", "cell_index": 3,
        "cells": [
            {"id": "setup", "cell_type": "code", "source": "%load_ext jupyter_codegen", "execution_count": 1},
            {"id": "title", "cell_type": "markdown", "source": "# Revenue review\nOne bar per *region*."},
            {"id": "draft", "cell_type": "code", "source": "regions = ['north', 'south']", "execution_count": None},
            {"id": "run", "cell_type": "code", "source": cell},
            {"id": "later", "cell_type": "code", "source": "print('below')"},
        ],
    }


def final_bundle(run: dict) -> dict:
    bundles = [b[CELLS_MIME] for b in run["bundles"] if CELLS_MIME in b]
    assert bundles, run["bundles"]
    return bundles[-1]


def test_a_snapshot_sent_over_the_comm_is_the_context_and_the_extension_inserts(kernel, tmp_path):
    kc = kernel
    comm_id = uuid.uuid4().hex
    hello = {"type": "hello", "protocol": 1, "frontend": "test", "capabilities": [INSERT_CELLS, REPLACE_SOURCE]}
    send(kc, "comm_open", {"comm_id": comm_id, "target_name": COMM_TARGET, "data": hello})
    comm_messages = []
    # A tiny random model answers some prompts with nothing (then nobody inserts); ask until it answers.
    for request in ("load sales.csv into a DataFrame", "plot the revenue of each region", "sum the revenue", "list the regions",
                    "write a function that returns the squares of a list", "count the rows"):
        cell = f"%%codegen --show-prompt --temperature 1.0 --seed 1\n{request}"
        # Sent before the execute request, as the extension must: comm messages wait behind a running cell.
        send(kc, "comm_msg", {"comm_id": comm_id, "data": snapshot_for(cell)})
        run = execute(kc, cell, "run")
        assert run["status"] == "ok", run
        comm_messages += run["comm"]
        assert not set_next_input(run)  # never inserted twice
        final = final_bundle(run)
        if final["cells"]:
            break
        assert final["insert"] == "none"
    assert final["insert"] == "frontend", "the tiny model answered none of the requests"
    assert final["kind"] == "codegen" and final["source_cell_id"] == "run"
    assert final["cells"][0]["source"].strip() in run["bundles"][-1]["text/plain"]  # visible without the extension

    welcome = [m for m in comm_messages if m.get("type") == "welcome"]
    assert welcome and welcome[0]["cells_mime"] == CELLS_MIME
    assert welcome[0]["notebook_key"] == str(tmp_path / "sales.ipynb")
    prompt = run["text"]
    assert "<text>\nRevenue review\nOne bar per region.\n</text>\n" in prompt  # a markdown cell
    assert "<cell>\nregions = ['north', 'south']\n</cell>\n" in prompt  # a cell never run
    assert prompt.index("Revenue review") < prompt.index("regions = [") < prompt.index(request)
    assert "print('below')" not in prompt  # a request's prompt ends where its answer goes

    # Run again without a new snapshot (one that did not arrive, a line magic): kernel history is the context, and
    # the extension of the client that sent the run still inserts, so it replaces its marked cells of the first run
    # instead of IPython putting an unmarked copy beside them.
    again = execute(kc, cell, "run")
    assert "Revenue review" not in again["text"]
    assert not set_next_input(again)
    assert final_bundle(again)["insert"] == ("frontend" if final_bundle(again)["cells"] else "none")
    # The same cell from a client without the comm (nbclient, a console on this kernel): IPython's own insertion.
    other = execute(kc, cell, "run", session="another-client")
    assert (final_bundle(other)["insert"], len(set_next_input(other))) in (("kernel", 1), ("none", 0))
