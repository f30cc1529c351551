import json
from pathlib import Path

import pytest

from jupyter_codegen.context import Cell
from jupyter_codegen.conversation import (
    SCHEMA_VERSION,
    Conversation,
    Turn,
    backup_path,
    conversation_path,
    notebook_key,
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
        Turn(request="now plot it\nby month", answer="df.plot()", kind="chat"),
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


def test_two_writers_last_wins_and_file_stays_valid(tmp_path):
    path = tmp_path / "nb.json"
    first, second = Conversation.load(path), Conversation.load(path)
    first.add(Turn(request="from kernel 1", answer="a"))
    second.add(Turn(request="from kernel 2", answer="b"))
    assert [t.request for t in Conversation.load(path).turns] == ["from kernel 2"]


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
