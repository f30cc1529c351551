import json
import os
from pathlib import Path

import pytest

from jupyter_codegen.context import Cell
from jupyter_codegen.conversation import (
    SCHEMA_VERSION,
    Conversation,
    Turn,
    adopt_legacy_file,
    backup_path,
    conversation_path,
    lock_path,
    notebook_key,
    server_notebook_key,
    session_path,
)


def _turns() -> list[Turn]:
    return [
        Turn(
            request="load sales.csv into a DataFrame",
            answer="import pandas as pd\ndf = pd.read_csv('sales.csv')",
            cells_before=[Cell("markdown", "# Sales — Q3 ✓"), Cell("code", "x = 1", output="1")],
            created="2025-01-02T03:04:05+00:00",
            model="codegen-350M-mono",
        ),
        Turn(
            request="fill the holes",
            answer='total = df["price"].sum()  # 50% of $ \\ {braces}',
            kind="infill",
            model="incoder-1B",
        ),
        Turn(request="now plot it\nby month", answer="df.plot()", kind="chat", cell_id="c-7"),
    ]


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".tmp"))


def test_round_trip(tmp_path):
    path = tmp_path / "conv" / "nb.json"  # the folder is created on first save
    conversation = Conversation(path=path)
    for turn in _turns():
        conversation.add(turn)
    loaded = Conversation.load(path)
    assert loaded.warning is None
    assert loaded.path == path
    assert [t.request for t in loaded.turns] == [t.request for t in _turns()]
    assert loaded.turns[0] == _turns()[0]
    assert loaded.turns[1].answer == _turns()[1].answer
    assert loaded.turns[0].cells_before[1].output == "1"
    assert json.loads(path.read_text(encoding="utf-8"))["version"] == SCHEMA_VERSION


def test_add_stamps_created_without_touching_callers_turn(tmp_path):
    conversation = Conversation(path=tmp_path / "c.json")
    turn = Turn(request="r", answer="a")
    conversation.add(turn)
    assert turn.created == ""
    assert conversation.turns[0].created.startswith("20")
    assert Conversation.load(tmp_path / "c.json").turns[0].created == conversation.turns[0].created


def test_missing_file_loads_empty_without_warning(tmp_path):
    conversation = Conversation.load(tmp_path / "none.json")
    assert conversation.turns == [] and conversation.warning is None
    assert not (tmp_path / "none.json").exists()


def test_in_memory_conversation_does_not_save():
    conversation = Conversation()
    conversation.add(Turn(request="r", answer="a"))
    conversation.reset()
    assert conversation.turns == []
    with pytest.raises(ValueError):
        conversation.save()


def test_reset_keeps_backup_that_restores_the_turns(tmp_path):
    path = tmp_path / "nb.json"
    conversation = Conversation(path=path)
    for turn in _turns():
        conversation.add(turn)
    conversation.reset()
    assert conversation.turns == []
    assert Conversation.load(path).turns == []
    backup = backup_path(path)
    assert backup.parent == tmp_path and backup.name == "nb.json.bak"
    assert len(Conversation.load(backup).turns) == 3
    # An empty reset keeps the useful backup.
    conversation.reset()
    assert len(Conversation.load(backup).turns) == 3
    # Undo by hand: copy the backup over the file.
    path.write_bytes(backup.read_bytes())
    assert len(Conversation.load(path).turns) == 3
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize(
    "content",
    [
        "{not json",
        "",
        "[1, 2]",
        '{"turns": []}',
        '{"version": 1, "turns": {"a": 1}}',
        '{"version": 1, "turns": [{"request": "r"}]}',
        '{"version": 1, "turns": [{"request": "r", "answer": "a", "kind": "poem"}]}',
        '{"version": 1, "turns": [{"request": "r", "answer": "a", "cells_before": [{"kind": "x", "source": ""}]}]}',
        '{"version": "1", "turns": []}',
    ],
)
def test_corrupt_file_is_moved_aside_with_warning(tmp_path, content):
    path = tmp_path / "nb.json"
    path.write_text(content, encoding="utf-8")
    conversation = Conversation.load(path)
    assert conversation.turns == []
    assert conversation.path == path
    assert conversation.warning and str(tmp_path / "nb.json.corrupt") in conversation.warning
    assert not path.exists()
    assert (tmp_path / "nb.json.corrupt").read_text(encoding="utf-8") == content
    # The conversation goes on and saves a fresh file.
    conversation.add(Turn(request="r", answer="a"))
    assert len(Conversation.load(path).turns) == 1


def test_binary_garbage_is_moved_aside(tmp_path):
    path = tmp_path / "nb.json"
    path.write_bytes(b"\xff\xfe\x00garbage")
    conversation = Conversation.load(path)
    assert conversation.turns == [] and conversation.warning
    assert (tmp_path / "nb.json.corrupt").exists()


def test_second_corrupt_file_does_not_overwrite_the_first(tmp_path):
    path = tmp_path / "nb.json"
    path.write_text("first", encoding="utf-8")
    Conversation.load(path)
    path.write_text("second", encoding="utf-8")
    warning = Conversation.load(path).warning
    assert (tmp_path / "nb.json.corrupt").read_text() == "first"
    assert (tmp_path / "nb.json.2.corrupt").read_text() == "second"
    assert "nb.json.2.corrupt" in warning


def test_newer_version_is_kept_aside_and_named_in_warning(tmp_path):
    path = tmp_path / "nb.json"
    newer = {"version": SCHEMA_VERSION + 1, "turns": [{"something": "new"}], "extra": True}
    path.write_text(json.dumps(newer), encoding="utf-8")
    conversation = Conversation.load(path)
    assert conversation.turns == []
    assert "newer" in conversation.warning and f"version {SCHEMA_VERSION + 1}" in conversation.warning
    assert json.loads((tmp_path / "nb.json.corrupt").read_text()) == newer


def test_unknown_fields_in_same_version_are_ignored(tmp_path):
    path = tmp_path / "nb.json"
    document = {"version": SCHEMA_VERSION, "note": "x", "turns": [{"request": "r", "answer": "a", "future": 1}]}
    path.write_text(json.dumps(document), encoding="utf-8")
    loaded = Conversation.load(path)
    assert loaded.warning is None and loaded.turns == [Turn(request="r", answer="a")]


def test_write_is_atomic_and_leaves_no_temp_files(tmp_path, monkeypatch):
    path = tmp_path / "nb.json"
    conversation = Conversation(path=path)
    conversation.add(Turn(request="first", answer="a = 1"))
    before = path.read_bytes()
    assert _leftovers(tmp_path) == []

    def crash(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("jupyter_codegen.conversation.os.replace", crash)
    conversation.add(Turn(request="second", answer="b = 2"))
    assert path.read_bytes() == before  # the old file is whole
    assert _leftovers(tmp_path) == []  # the temp file was removed
    assert "kept in memory" in conversation.warning
    assert len(conversation.turns) == 2
    with pytest.raises(OSError):
        conversation.save()


def test_two_writers_keep_both_turns_and_see_each_other(tmp_path):
    """A kernel and the server's chat hold the same file: each re-reads it before adding, and before use."""
    path = tmp_path / "nb.json"
    kernel, chat = Conversation.load(path), Conversation.load(path)
    kernel.add(Turn(request="from the kernel", answer="a"))
    chat.add(Turn(request="from the chat", answer="b", kind="chat"))
    assert [t.request for t in Conversation.load(path).turns] == ["from the kernel", "from the chat"]
    assert [c.source for c in kernel.as_cells() if c.kind == "request"] == ["from the kernel", "from the chat"]
    assert len(kernel) == 2 and "from the chat" in kernel.transcript()
    chat.reset()
    assert len(kernel) == 0 and kernel.as_cells() == []
    assert [t.request for t in Conversation.load(backup_path(path)).turns] == ["from the kernel", "from the chat"]


def test_refresh_is_a_no_op_when_the_file_did_not_change(tmp_path, monkeypatch):
    path = tmp_path / "nb.json"
    conversation = Conversation.load(path)
    conversation.add(Turn(request="r", answer="a"))
    monkeypatch.setattr("jupyter_codegen.conversation._read", lambda p: pytest.fail("read again without a change"))
    assert conversation.refresh() is False and len(conversation) == 1


def _add_many(path: str, writer: int, count: int) -> None:
    conversation = Conversation.load(Path(path))
    for i in range(count):
        conversation.add(Turn(request=f"{writer}-{i}", answer="x"))


def test_concurrent_writers_in_separate_processes_lose_no_turn(tmp_path):
    import multiprocessing

    path = tmp_path / "nb.json"
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_add_many, args=(str(path), w, 15)) for w in range(4)]
    for p in writers:
        p.start()
    for p in writers:
        p.join(60)
        assert p.exitcode == 0
    requests = [t.request for t in Conversation.load(path).turns]
    assert sorted(requests) == sorted(f"{w}-{i}" for w in range(4) for i in range(15))
    for w in range(4):  # each writer's turns in its own order
        mine = [r for r in requests if r.startswith(f"{w}-")]
        assert mine == [f"{w}-{i}" for i in range(15)]
    assert lock_path(path).exists() and _leftovers(tmp_path) == []


def test_a_turn_that_could_not_be_saved_survives_a_re_read(tmp_path, monkeypatch):
    path = tmp_path / "nb.json"
    kernel = Conversation.load(path)
    real_replace = os.replace
    monkeypatch.setattr("jupyter_codegen.conversation.os.replace", lambda a, b: (_ for _ in ()).throw(OSError(13, "denied")))
    kernel.add(Turn(request="unsaved", answer="a"))
    assert "kept in memory" in kernel.warning
    monkeypatch.setattr("jupyter_codegen.conversation.os.replace", real_replace)
    Conversation.load(path).add(Turn(request="from the chat", answer="b", kind="chat"))
    assert [c.source for c in kernel.as_cells() if c.kind == "request"] == ["from the chat", "unsaved"]
    kernel.add(Turn(request="next", answer="c"))  # the next save writes the kept turn too
    assert [t.request for t in Conversation.load(path).turns] == ["from the chat", "unsaved", "next"]


def test_a_file_corrupted_under_a_running_kernel_keeps_the_turns_it_knows(tmp_path):
    path = tmp_path / "nb.json"
    kernel = Conversation.load(path)
    kernel.add(Turn(request="r", answer="a"))
    path.write_text("{broken", encoding="utf-8")
    assert [t.request for t in kernel.turns] == ["r"] and kernel.refresh()
    assert [t.request for t in kernel.turns] == ["r"]
    assert "the turns this process knows are kept" in kernel.warning
    assert (tmp_path / "nb.json.corrupt").read_text() == "{broken"
    kernel.add(Turn(request="s", answer="b"))
    assert [t.request for t in Conversation.load(path).turns] == ["r", "s"]


def test_as_cells_order():
    conversation = Conversation(_turns())
    cells = conversation.as_cells()
    assert [(c.kind, c.source) for c in cells] == [
        ("markdown", "# Sales — Q3 ✓"),
        ("code", "x = 1"),
        ("request", "load sales.csv into a DataFrame"),
        ("code", "import pandas as pd\ndf = pd.read_csv('sales.csv')"),
        ("code", 'total = df["price"].sum()  # 50% of $ \\ {braces}'),
        ("request", "now plot it\nby month"),
        ("code", "df.plot()"),
    ]
    assert cells[1].output == "1"
    assert Conversation().as_cells() == []


def test_transcript():
    text = Conversation(_turns()).transcript()
    assert text == (
        "--- Turn 1 (codegen, codegen-350M-mono, 2025-01-02T03:04:05+00:00) ---\n"
        "(2 cells run before this turn)\n"
        "# load sales.csv into a DataFrame\n"
        "import pandas as pd\n"
        "df = pd.read_csv('sales.csv')\n"
        "\n"
        "--- Turn 2 (infill, incoder-1B) ---\n"
        "# fill the holes\n"
        'total = df["price"].sum()  # 50% of $ \\ {braces}\n'
        "\n"
        "--- Turn 3 (chat) ---\n"
        "# now plot it\n"
        "# by month\n"
        "df.plot()"
    )
    assert Conversation().transcript() == "No turns yet."
    assert "(no code)" in Conversation([Turn(request="", answer="  ")]).transcript()


# --- notebook_key / conversation_path -------------------------------------------------------------------------


def test_key_from_jupyter_server_session_wins():
    environ = {"JPY_SESSION_NAME": "/home/ana/work/sales.ipynb"}
    namespace = {"__vsc_ipynb_file__": "/elsewhere/other.ipynb"}
    assert notebook_key(environ, namespace, cwd="/tmp") == "/home/ana/work/sales.ipynb"


def test_key_from_vscode_namespace():
    windows = "c:\\Users\\ana\\Q3 report.ipynb"
    assert notebook_key({}, {"__vsc_ipynb_file__": windows}) == windows
    assert notebook_key({"JPY_SESSION_NAME": ""}, {"__vsc_ipynb_file__": "/a/b.ipynb"}) == "/a/b.ipynb"


def test_key_fallback_to_cwd():
    assert notebook_key({}, None, cwd="/home/ana/project") == "/home/ana/project/<ipython>"
    assert notebook_key({}, {"__vsc_ipynb_file__": 3}, cwd="/home/ana/project/") == "/home/ana/project/<ipython>"
    assert notebook_key({}).endswith("/<ipython>")


def test_path_is_stable_readable_and_distinct(tmp_path):
    key = "/home/ana/work/Sales Report (v2).ipynb"
    path = conversation_path(key, root=tmp_path)
    assert path == conversation_path(key, root=tmp_path)
    assert path.parent == tmp_path and path.suffix == ".json"
    assert path.name.startswith("Sales-Report-v2-")
    other = conversation_path("/home/ana/other/Sales Report (v2).ipynb", root=tmp_path)
    assert other != path and other.name.startswith("Sales-Report-v2-")
    assert conversation_path("/x/<ipython>", root=tmp_path).name.startswith("ipython-")
    assert conversation_path("c:\\Users\\ana\\Été.ipynb", root=tmp_path).name.startswith("Ete-")
    assert conversation_path("/x/日本.ipynb", root=tmp_path).name.startswith("notebook-")


def test_default_root_is_user_data_dir(monkeypatch, tmp_path):
    import platformdirs

    monkeypatch.setattr(platformdirs, "user_data_dir", lambda app: str(tmp_path / app))
    path = conversation_path("/a/b.ipynb")
    assert path.parent == tmp_path / "jupyter-codegen" / "conversations"
    assert path.name.startswith("b-")


def test_infill_turns_show_only_their_filled_code():
    conversation = Conversation([Turn(request="x = <FILL>", answer="x = 1", kind="infill")])
    assert conversation.as_cells() == [Cell(kind="code", source="x = 1")]


def test_an_answer_the_user_ran_shows_once_with_its_output():
    conversation = Conversation(
        [
            Turn(request="count rows", answer="len(df)"),
            Turn(request="now the columns", answer="df.columns", cells_before=[Cell("code", "len(df)", output="240"), Cell("code", "x = 2")]),
        ]
    )
    cells = conversation.as_cells([Cell("code", "df.columns", output="Index(['a'])")])
    assert [(c.kind, c.source, c.output) for c in cells] == [
        ("request", "count rows", None),
        ("code", "len(df)", "240"),
        ("code", "x = 2", None),
        ("request", "now the columns", None),
        ("code", "df.columns", "Index(['a'])"),
    ]


def test_an_answer_inserted_as_several_cells_and_run_piece_by_piece_shows_once():
    conversation = Conversation([Turn(request="load and plot", answer="df = load()\n# %%\ndf.plot()")])
    cells = conversation.as_cells([Cell("code", "df = load()"), Cell("code", "df.plot()", output="<Axes>")])
    assert [(c.kind, c.source, c.output) for c in cells] == [
        ("request", "load and plot", None),
        ("code", "df = load()", None),
        ("code", "df.plot()", "<Axes>"),
    ]


# --- after a kernel restart -----------------------------------------------------------------------------------


def test_cells_run_again_after_a_restart_are_not_repeated():
    """Restart + run all: the cells the turns recorded before the restart run again; they show once, in place."""
    saved = Conversation([Turn(request="req1", answer="code1", cells_before=[Cell("code", "setup = 1")])])
    ran = [Cell("code", "setup = 1"), Cell("code", "code1", output="1"), Cell("code", "new = 2")]
    cells = saved.as_cells(saved.unrecorded(ran))
    assert [(c.kind, c.source, c.output) for c in cells] == [
        ("code", "setup = 1", None),
        ("request", "req1", None),
        ("code", "code1", "1"),
        ("code", "new = 2", None),
    ]


def test_answers_of_earlier_turns_run_again_after_a_restart_are_not_repeated():
    saved = Conversation(
        [
            Turn(request="req1", answer="a = 1", cells_before=[Cell("code", "import os")]),
            Turn(request="req2", answer="b = 2", cells_before=[Cell("code", "a = 1")]),
        ]
    )
    ran = [Cell("code", "import os"), Cell("code", "a = 1"), Cell("code", "b = 2", output="2")]
    assert [c.source for c in saved.as_cells(saved.unrecorded(ran))] == ["import os", "req1", "a = 1", "req2", "b = 2"]


def test_a_cell_run_again_after_this_kernels_own_turn_is_new():
    own = Turn(request="req1", answer="x = 1", cells_before=[Cell("code", "df.head()", output="old")], created="t1")
    conversation = Conversation([own])
    ran = [Cell("code", "df.head()", output="new")]
    assert conversation.unrecorded(ran, last_own=own) == ran
    # ... but not when the turn was saved by an earlier kernel (or another process) since this kernel's last turn.
    chat = Turn(request="q", answer="y = 2", kind="chat", cells_before=[Cell("code", "df.head()")], created="t2")
    conversation.turns.append(chat)
    assert conversation.unrecorded(ran, last_own=own) == []


# --- the same key in the kernel and in the server --------------------------------------------------------------


def test_session_names_become_the_absolute_path_the_server_uses(tmp_path):
    root = str(tmp_path / "root")
    expected = server_notebook_key("reports/q3.ipynb", root)
    assert expected == os.path.join(root, "reports", "q3.ipynb")
    assert server_notebook_key("/reports//q3.ipynb", root) == expected
    # JupyterLab names the file: the server gives the kernel <root>/<folder>/<name>.
    assert session_path(os.path.join(root, "reports", "q3.ipynb"), cwd="/anywhere") == expected
    assert session_path(os.path.join(root, "reports", ".", "q3.ipynb"), cwd="/anywhere") == expected
    # A client that did not: the path relative to the root, resolved with the root from the runtime file ...
    assert session_path("reports/q3.ipynb", cwd="/anywhere", server_root=root) == expected
    # ... or with the kernel's folder, which the server made the notebook's folder.
    assert session_path("reports/q3.ipynb", cwd=os.path.join(root, "reports")) == expected
    assert session_path("q3.ipynb", cwd=root) == server_notebook_key("q3.ipynb", root)
    assert session_path("reports/q3.ipynb", cwd="/elsewhere") == "reports/q3.ipynb"  # kept as it always was
    assert notebook_key({"JPY_SESSION_NAME": "reports/q3.ipynb"}, cwd=os.path.join(root, "reports")) == expected


def test_a_conversation_kept_under_an_older_key_is_adopted(tmp_path):
    old, new = conversation_path("reports/q3.ipynb", tmp_path), conversation_path("/root/reports/q3.ipynb", tmp_path)
    Conversation(path=old).add(Turn(request="r", answer="a"))
    adopt_legacy_file(new, old)
    assert not old.exists() and [t.request for t in Conversation.load(new).turns] == ["r"]
    Conversation(path=old).add(Turn(request="other", answer="b"))
    adopt_legacy_file(new, old)  # never over an existing file
    assert old.exists() and [t.request for t in Conversation.load(new).turns] == ["r"]
