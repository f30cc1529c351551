"""A chat question as a turn of the notebook's conversation (`chat.ask`), without a server."""

import threading

import pytest

from jupyter_codegen import chat
from jupyter_codegen.context import Cell
from jupyter_codegen.conversation import Conversation, Turn
from jupyter_codegen.engine import GenerationOptions
from jupyter_codegen.frontend_protocol import Snapshot
from jupyter_codegen.model_store import EngineSettings, load_engine


@pytest.fixture(scope="module")
def engine(tiny_model):
    return load_engine(str(tiny_model("xglm")), EngineSettings(threads=1))


def test_a_chat_turn_records_the_notebook_cells_the_conversation_has_not_seen(engine, tmp_path):
    path = tmp_path / "nb.json"
    kernel = Conversation.load(path)
    kernel.add(Turn(request="load the data", answer="df = load()", cells_before=[Cell("code", "import pandas as pd")]))
    snapshot = Snapshot.model_validate({"cell_id": "b", "cells": [
        {"id": "i", "cell_type": "code", "source": "import pandas as pd", "execution_count": 1},
        {"id": "r", "cell_type": "code", "source": "%%codegen\nload the data", "execution_count": 2},
        {"id": "a", "cell_type": "code", "source": "df = load()", "execution_count": 3},
        {"id": "m", "cell_type": "markdown", "source": "Totals by region"},
        {"id": "b", "cell_type": "code", "source": "df.groupby('region').sum()", "execution_count": None},
        {"id": "c", "cell_type": "code", "source": "below()"},
    ]})
    result = chat.ask(engine, Conversation.load(path), "now as a bar chart", GenerationOptions(max_new_tokens=8),
                      snapshot=snapshot)
    assert result.turn_number == 2
    p = result.answer.prompt
    assert p.index("load the data") < p.index("Totals by region") < p.index("df.groupby") < p.index("now as a bar chart")
    assert "below()" not in p
    turn = kernel.turns[-1] if kernel.refresh() else pytest.fail("the kernel did not see the chat turn")
    assert (turn.kind, turn.request, turn.cell_id) == ("chat", "now as a bar chart", "b")
    # The answer of the kernel's turn (run as cell "a") stays for as_cells to place; what was recorded already is not.
    assert [(c.kind, c.source) for c in turn.cells_before] == [
        ("code", "df = load()"), ("markdown", "Totals by region"), ("code", "df.groupby('region').sum()"),
    ]
    assert [c.source for c in kernel.as_cells()] == [
        "import pandas as pd", "load the data", "df = load()", "Totals by region", "df.groupby('region').sum()",
        "now as a bar chart", turn.answer,
    ]


def test_without_a_snapshot_the_chat_reads_the_saved_conversation(engine, tmp_path):
    conversation = Conversation.load(tmp_path / "nb.json")
    conversation.add(Turn(request="load the data", answer="df = load()"))
    result = chat.ask(engine, conversation, "and the columns?", GenerationOptions(max_new_tokens=8))
    assert result.answer.prompt.index("load the data") < result.answer.prompt.index("and the columns?")
    assert [t.kind for t in Conversation.load(tmp_path / "nb.json").turns] == ["codegen", "chat"]


def test_a_stopped_chat_answer_is_not_recorded(engine, tmp_path):
    conversation = Conversation.load(tmp_path / "nb.json")
    stop = threading.Event()
    stop.set()
    result = chat.ask(engine, conversation, "anything", GenerationOptions(max_new_tokens=8), cancel=stop)
    assert result.answer.cancelled and result.turn_number is None
    assert Conversation.load(tmp_path / "nb.json").turns == []


def test_the_server_finds_the_file_the_kernel_uses(tmp_path):
    from jupyter_codegen.conversation import conversation_path, notebook_key

    root = tmp_path / "root"
    key = notebook_key({"JPY_SESSION_NAME": str(root / "reports" / "q3.ipynb")}, cwd=str(root / "reports"))
    Conversation(path=conversation_path(key, tmp_path / "conv")).add(Turn(request="from the kernel", answer="x"))
    server_side = chat.notebook_conversation("reports/q3.ipynb", str(root), str(tmp_path / "conv"))
    assert [t.request for t in server_side.turns] == ["from the kernel"]


def test_a_filled_selection_sees_both_sides_and_the_notebook_and_is_recorded_as_an_infill_turn(engine, tmp_path):
    path = tmp_path / "nb.json"
    snapshot = Snapshot.model_validate({"cell_id": "b", "cells": [
        {"id": "a", "cell_type": "markdown", "source": "Prices by region"},
        {"id": "b", "cell_type": "code", "source": "def total(rows):\n    return sum(rows)\n"},
        {"id": "c", "cell_type": "code", "source": "print(total([1, 2]))"},
    ]})
    before, after = "def total(rows):\n    return ", "\n# <FILL> stays text\n"
    result = chat.fill(engine, Conversation.load(path), before, after, GenerationOptions(max_new_tokens=6),
                       snapshot=snapshot)
    answer = result.answer
    assert answer.code.startswith(before) and answer.code.endswith(after)
    assert answer.code == before + answer.fills[0] + after
    assert "\x00" not in answer.prompt and "Prices by region" in answer.prompt
    assert "print(total([1, 2]))" in answer.prompt  # the cell below is the right-hand context
    [turn] = Conversation.load(path).turns
    assert (turn.kind, turn.request, turn.answer, turn.cell_id) == ("infill", before + "<FILL>" + after, answer.code, "b")
    assert [c.source for c in turn.cells_before] == ["Prices by region"]


def test_a_fill_offered_while_typing_is_not_recorded_and_streams_only_the_fill(engine, tmp_path):
    seen: list[str] = []
    result = chat.fill(engine, Conversation.load(tmp_path / "nb.json"), "x = ", "\ny = x\n",
                       GenerationOptions(max_new_tokens=6), method="infill", record=False, on_update=seen.append)
    assert result.turn_number is None and Conversation.load(tmp_path / "nb.json").turns == []
    assert seen and all("x = " not in s and "y = x" not in s for s in seen)
    assert result.answer.fills[0].startswith(seen[-1].rstrip()[:4])


def test_a_fill_at_the_end_of_a_cell_continues_the_text_left_to_right(engine, tmp_path):
    result = chat.fill(engine, Conversation.load(tmp_path / "nb.json"), "total = sum(", "\n\n",
                       GenerationOptions(max_new_tokens=6), record=False)
    assert result.answer.method == "left-to-right single"
    assert "\n" not in result.answer.fills[0]  # an inline hole ends with its line


def test_the_kernels_variables_summary_reaches_the_chat_prompt_as_the_magics_send_it(engine, tmp_path):
    summary = "sales: DataFrame 4 rows x 2 columns\n  region: object\n  revenue: float64"
    result = chat.ask(engine, Conversation.load(tmp_path / "nb.json"), "average revenue by region",
                      GenerationOptions(max_new_tokens=4), variables=summary)
    p = result.answer.prompt
    assert "revenue: float64" in p and p.index("revenue: float64") < p.index("average revenue by region")

