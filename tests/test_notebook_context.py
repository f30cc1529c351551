"""The frontend protocol's plain parts: a notebook snapshot as the model's cells, freshness, who inserts, the comm's
messages (without a comm)."""

import pytest

from jupyter_codegen import __version__
from jupyter_codegen.context import Cell, build_request_context
from jupyter_codegen.conversation import Turn
from jupyter_codegen.frontend_protocol import (
    CELLS_MIME,
    INSERT_CELLS,
    REPLACE_SOURCE,
    CellsBundle,
    Snapshot,
    cells_bundle,
)
from jupyter_codegen.kernel_comm import FrontendLink
from jupyter_codegen.notebook_context import SnapshotStore, is_fresh, live_context, output_text, snapshot_cell

RUNNING = "%%codegen\nplot revenue by month"


def snap(cell_id="run", **extra) -> Snapshot:
    """A notebook: a title, loading code that ran, a request and its inserted answer, a cell never run, the cell
    being run, and a cell below."""
    cells = [
        {"id": "md", "cell_type": "markdown", "source": "# Sales\nRevenue per **month**."},
        {"id": "load", "cell_type": "code", "source": "%matplotlib inline\nimport pandas as pd\ndf = pd.read_csv('s.csv')",
         "execution_count": 1, "outputs": []},
        {"id": "shape", "cell_type": "code", "source": "df.shape", "execution_count": 2,
         "outputs": [{"output_type": "execute_result", "data": {"text/plain": "(240, 3)", "image/png": "..."}}]},
        {"id": "ask", "cell_type": "code", "source": "%%codegen -n 2\nkeep 2023 only", "execution_count": 3},
        {"id": "ans", "cell_type": "code", "source": "df = df[df.year == 2023]", "execution_count": None},
        {"id": "raw", "cell_type": "raw", "source": "not for the model"},
        {"id": "run", "cell_type": "code", "source": RUNNING},
        {"id": "below", "cell_type": "code", "source": "df.plot()"},
    ]
    return Snapshot.model_validate({"cell_id": cell_id, "cells": cells, "notebook_path": "sales.ipynb", **extra})


def kinds(cells):
    return [(c.kind, c.source) for c in cells]


def test_a_snapshot_reads_as_the_notebook_on_screen():
    live = live_context(snap(), [], include_current=False)
    assert kinds(live.before) == [
        ("markdown", "# Sales\nRevenue per **month**."),
        ("code", "import pandas as pd\ndf = pd.read_csv('s.csv')"),  # IPython-only lines left out
        ("code", "df.shape"),
        ("request", "keep 2023 only"),
        ("code", "df = df[df.year == 2023]"),  # never run, and still there
    ]
    assert live.before[2].output == "(240, 3)"
    assert kinds(live.after) == [("code", "df.plot()")]
    # The prompt layout above is the one the model was trained on.
    prompt = build_request_context(live.before, "plot revenue by month", "notebook", len, 10_000).text
    assert prompt.endswith("<text>\nplot revenue by month\n</text>\n<cell>\n")
    assert "<text>\nSales\nRevenue per month.\n</text>\n" in prompt
    assert "<cell>\ndf.shape\n</cell>\n<output>\n(240, 3)\n</output>\n" in prompt


def test_outputs_are_text_only_and_trimmed():
    cell = Snapshot.model_validate({"cells": [{"cell_type": "code", "source": "run()", "outputs": [
        {"output_type": "stream", "name": "stdout", "text": ["loading\n", "done\n"]},
        {"output_type": "stream", "name": "stderr", "text": "DeprecationWarning: noise\n"},
        {"output_type": "display_data", "data": {"image/png": "iVBOR..."}},
        {"output_type": "error", "ename": "KeyError", "evalue": "'year'", "traceback": ["..."]},
    ]}]}).cells[0]
    assert snapshot_cell(cell).output == "loading\ndone\nKeyError: 'year'"
    long = [{"output_type": "stream", "name": "stdout", "text": "\n".join(map(str, range(100)))}]
    assert output_text(Snapshot.model_validate({"cells": [{"cell_type": "code", "source": "x", "outputs": long}]}).cells[0].outputs).endswith("(90 more lines)")


def test_infill_cells_and_blank_cells_are_left_out():
    cells = [{"cell_type": "code", "source": "%%infill\nx = <FILL>"}, {"cell_type": "markdown", "source": "  "},
             {"cell_type": "code", "source": "%%codegen\n"}]
    assert [snapshot_cell(c) for c in Snapshot.model_validate({"cells": cells}).cells] == [None, None, None]


def test_a_snapshot_is_fresh_only_for_the_cell_it_was_sent_for():
    s = snap()
    assert is_fresh(s, "run", RUNNING) and is_fresh(s, None, RUNNING + "\n")
    assert not is_fresh(s, "other", RUNNING)  # another cell runs
    assert not is_fresh(s, "run", RUNNING + " and by region")  # edited since: not this run's snapshot
    assert not is_fresh(snap(cell_id="gone"), None, RUNNING)
    by_index = snap(cell_id=None, cell_index=6)
    assert is_fresh(by_index, "run", RUNNING) and not is_fresh(snap(cell_id=None), "run", RUNNING)


def test_the_store_gives_each_snapshot_once_to_its_own_cell():
    store = SnapshotStore(keep=2)
    first = snap()
    other = Snapshot.model_validate({"cell_id": "b", "cells": [{"id": "b", "cell_type": "code", "source": "%%codegen\nb"}]})
    store.put(first)
    store.put(other)
    assert store.take("run", RUNNING) is first
    assert store.take("run", RUNNING) is None  # used once: a re-run without a new snapshot uses kernel history
    store.put(snap())
    store.put(snap())
    assert len(store) == 2 and store.take("b", "%%codegen\nb") is None  # the oldest was dropped


def test_chat_turns_are_placed_after_the_cell_they_were_asked_at():
    turns = [
        Turn(request="what is in df?", answer="df.info()", kind="chat", cell_id="load"),
        Turn(request="keep 2023 only", answer="df = df[df.year == 2023]", kind="codegen", cell_id="ask"),
        Turn(request="about the request", answer="x = 1", kind="chat", cell_id="ask"),
        Turn(request="anything else?", answer="df.describe()", kind="chat", cell_id=""),
        Turn(request="asked below", answer="df.tail()", kind="chat", cell_id="below"),
        Turn(request="already inserted", answer="df = df[df.year == 2023]", kind="chat", cell_id="shape"),
    ]
    live = live_context(snap(), turns, include_current=False)
    assert kinds(live.before) == [
        ("markdown", "# Sales\nRevenue per **month**."),
        ("code", "import pandas as pd\ndf = pd.read_csv('s.csv')"),
        ("request", "what is in df?"),
        ("code", "df.info()"),
        ("code", "df.shape"),
        ("request", "already inserted"),  # its answer is a cell of the notebook already: shown there, once
        ("request", "about the request"),  # before the request it was asked at, so request and answer stay together
        ("code", "x = 1"),
        ("request", "keep 2023 only"),
        ("code", "df = df[df.year == 2023]"),
        ("request", "anything else?"),  # not anchored above: the latest discussion, just before the current cell
        ("code", "df.describe()"),
        ("request", "asked below"),
        ("code", "df.tail()"),
    ]


def test_a_chat_question_sees_the_active_cell_and_records_only_notebook_cells():
    live = live_context(snap(cell_id="shape"), [], include_current=True)
    assert kinds(live.before)[-1] == ("code", "df.shape")
    assert [c.kind for c in live.above] == ["markdown", "code", "code"]
    everything = live_context(snap(cell_id=None), [], include_current=True)
    assert kinds(everything.before)[-1] == ("code", "df.plot()") and everything.after == []


# --- who inserts -----------------------------------------------------------------------------------------------


def bundle(**kw) -> CellsBundle:
    args = dict(generation_id="g", kind="codegen", code="a = 1\n# %%\nb = 2", cells=["a = 1", "b = 2"],
                insert_enabled=True, capabilities=frozenset({INSERT_CELLS, REPLACE_SOURCE}), source_cell_id="c1")
    return cells_bundle(**{**args, **kw})


def test_the_extension_inserts_the_cells_when_it_spoke_for_this_run():
    b = bundle()
    assert b.insert == "frontend" and [c.source for c in b.cells] == ["a = 1", "b = 2"] and b.source_cell_id == "c1"
    infill = bundle(kind="infill", code="x = 1", cells=["x = 1"], replace_cell=True, fills=["1"], marker="<FILL>")
    assert infill.insert == "frontend" and infill.replace_source == "x = 1" and infill.cells == []
    assert infill.fills == ["1"] and infill.marker == "<FILL>"
    older = bundle(kind="infill", code="x = 1", cells=["x = 1"], replace_cell=True, capabilities=frozenset({INSERT_CELLS}))
    assert older.replace_source is None and [c.source for c in older.cells] == ["x = 1"]


def test_the_kernel_inserts_as_before_without_the_extension():
    for capabilities in (None, frozenset(), frozenset({"something-else"})):
        b = bundle(capabilities=capabilities)
        assert b.insert == "kernel" and [c.source for c in b.cells] == ["a = 1\n# %%\nb = 2"]  # one next cell
    assert bundle(insert_enabled=False).insert == "none" and bundle(code="  ", cells=[""]).insert == "none"


def test_the_bundle_is_json_under_a_versioned_mime_type():
    assert CELLS_MIME == "application/vnd.jupyter-codegen.cells.v1+json"
    data = bundle().model_dump(mode="json")
    assert data["version"] == 1 and data["cells"][0] == {"cell_type": "code", "source": "a = 1"}
    assert CellsBundle.model_validate({**data, "added_later": True}) == bundle()


# --- the comm's messages -----------------------------------------------------------------------------------------


def test_hello_is_welcomed_and_its_capabilities_count_until_the_comm_closes():
    link = FrontendLink(lambda: "/root/sales.ipynb")
    reply = link.receive("c1", {"type": "hello", "protocol": 1, "capabilities": [INSERT_CELLS, "future-thing"]})
    assert reply == {"type": "welcome", "protocol": 1, "version": __version__, "cells_mime": CELLS_MIME,
                     "notebook_key": "/root/sales.ipynb"}
    assert INSERT_CELLS in link.capabilities()
    link.closed("c1")
    assert link.capabilities() == frozenset()


def test_capabilities_can_be_asked_for_the_client_session_that_opened_the_comm():
    link = FrontendLink()
    link.receive("lab", {"type": "hello", "capabilities": [INSERT_CELLS]}, session="lab-client")
    link.receive("other", {"type": "hello", "capabilities": [REPLACE_SOURCE]}, session="other-client")
    assert link.capabilities("lab-client") == {INSERT_CELLS}
    assert link.capabilities("nbclient") == frozenset()  # a client that never opened the comm: no extension there
    assert link.capabilities() == {INSERT_CELLS, REPLACE_SOURCE}
    link.closed("lab")
    assert link.capabilities("lab-client") == frozenset()


def test_a_snapshot_message_is_kept_for_its_cell_and_a_bad_one_is_answered_in_one_sentence():
    link = FrontendLink()
    assert link.receive("c1", snap().model_dump(mode="json")) is None
    assert link.take_snapshot("run", RUNNING) is not None
    bad = link.receive("c1", {"type": "snapshot", "cells": [{"cell_type": "poem", "source": ""}]})
    assert bad["type"] == "error" and "cells.0.cell_type" in bad["message"] and bad["message"].count(". ") == 0
    assert link.receive("c1", "not a dict")["type"] == "error"


@pytest.mark.parametrize("message", [{"type": "hello", "protocol": 2, "extra": 1}, {"type": "snapshot", "protocol": 9, "cells": []}])
def test_newer_protocol_versions_are_read_for_what_both_know(message):
    assert FrontendLink().receive("c", message) is None or FrontendLink().receive("c", message)["type"] == "welcome"
