"""The magics in a real IPython shell, on tiny exported models."""

import pytest
from IPython.core.interactiveshell import InteractiveShell

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def shell(tmp_path_factory):
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "jupyter_codegen")
    cache = tmp_path_factory.mktemp("cache")
    ip.run_line_magic("config", f"CodeGen.cache_dir = {str(cache)!r}")
    ip.run_line_magic("config", "CodeGen.max_new_tokens = 24")
    yield ip
    ip.run_line_magic("unload_ext", "jupyter_codegen")


@pytest.fixture
def magics(shell):
    m = shell.magics_manager.registry["CodeGenMagics"]
    m.conversation.reset()
    shell.rl_next_input = None
    return m


def use(shell, folder):
    shell.run_line_magic("config", f"CodeGen.model = {str(folder)!r}")


def run(shell, src):
    result = shell.run_cell(src, store_history=True)
    assert result.error_in_exec is None and result.error_before_exec is None
    return result


def test_config_sets_the_trait(shell, magics, tiny_model):
    use(shell, tiny_model("codegen"))
    assert magics.settings.model == str(tiny_model("codegen"))
    shell.run_line_magic("config", "CodeGen.temperature = 0.0")
    assert magics.settings.temperature == 0.0


def test_jupyterlab_settings_set_the_magics_traits_and_clearing_them_gives_the_kernels_values_back(shell, magics, tiny_model):
    use(shell, tiny_model("xglm"))
    shell.run_line_magic("config", "CodeGen.temperature = 0.3")
    own_max = magics.settings.max_new_tokens
    hello = {"type": "hello", "capabilities": [], "settings": {"model": "lab-model", "temperature": 0.7, "max_new_tokens": None}}
    assert magics.link.receive("c", hello)["type"] == "welcome"
    assert (magics.settings.model, magics.settings.temperature, magics.settings.max_new_tokens) == ("lab-model", 0.7, own_max)
    magics.link.receive("c", {"type": "settings", "model": "", "temperature": 0.7, "max_new_tokens": 40})
    assert (magics.settings.model, magics.settings.max_new_tokens) == (str(tiny_model("xglm")), 40)
    shell.run_line_magic("config", "CodeGen.temperature = 0.1")  # %config in the notebook wins until the setting changes
    assert magics.settings.temperature == 0.1
    magics.link.receive("c", {"type": "settings"})
    assert (magics.settings.temperature, magics.settings.max_new_tokens) == (0.3, own_max)
    bad = magics.link.receive("c", {"type": "settings", "temperature": -1})
    assert bad["type"] == "error" and "update the JupyterLab extension" in bad["message"]
    assert magics.settings.temperature == 0.3
    shell.run_line_magic("config", "CodeGen.temperature = 0.0")  # the shell is shared: greedy again for the next tests


def test_codegen_inserts_the_answer_and_keeps_the_conversation(shell, magics, tiny_model, capsys):
    use(shell, tiny_model("xglm"))
    run(shell, "%%codegen\nload sales.csv into a DataFrame")
    first = magics.last_answer
    assert "<text>\nload sales.csv into a DataFrame\n</text>\n<cell>\n" in first.prompt
    assert shell.rl_next_input == first.code
    run(shell, "x = {'a': 1}  # a cell the user ran in between")
    run(shell, "%%codegen -n 3 --seed 1\nnow only the rows where price > 100")
    second = magics.last_answer
    # The second prompt carries the first turn and the cell run in between, in order.
    p = second.prompt
    assert p.index("load sales.csv") < p.index(first.code.strip() or "<cell>") < p.index("x = {'a': 1}") < p.index("now only the rows")
    assert len(second.candidates) == 3
    assert [t.request for t in magics.conversation.turns] == ["load sales.csv into a DataFrame", "now only the rows where price > 100"]
    run(shell, "%codegen --history")
    assert "now only the rows where price > 100" in capsys.readouterr().out


def test_reset_forgets_the_turns(shell, magics, tiny_model, capsys):
    use(shell, tiny_model("codegen"))
    run(shell, "%%codegen\nsum a list")
    assert len(magics.conversation) == 1
    run(shell, "%codegen --reset")
    assert len(magics.conversation) == 0
    assert "Conversation reset (1 turns forgotten)." in capsys.readouterr().out


def test_infill_two_holes_by_causal_masking(shell, magics, tiny_model):
    use(shell, tiny_model("xglm"))
    run(shell, "%%infill\ndef mean(xs):\n    total = <FILL>\n    return total / <FILL>\n")
    answer = magics.last_answer
    assert answer.method == "causal masking"
    assert len(answer.fills) == 2 and "<FILL>" not in answer.code
    assert answer.code.startswith("def mean(xs):\n    total = ")
    assert shell.rl_next_input == answer.code
    assert magics.conversation.turns[-1].kind == "infill"


@pytest.mark.parametrize("setting", ["fit_indentation", "trim_fills"])
def test_the_fits_of_a_fill_are_settings_of_infill(shell, magics, tiny_model, monkeypatch, setting):
    from jupyter_codegen import magics as magics_module

    seen = []
    real = magics_module.assistant.infill

    def spy(*args, **kwargs):
        seen.append(kwargs[setting])
        return real(*args, **kwargs)

    monkeypatch.setattr(magics_module.assistant, "infill", spy)
    use(shell, tiny_model("xglm"))
    run(shell, "%%infill\nif True:\n<FILL>\n")
    shell.run_line_magic("config", f"CodeGen.{setting} = False")
    try:
        run(shell, "%%infill\nif True:\n<FILL>\n")
    finally:
        shell.run_line_magic("config", f"CodeGen.{setting} = True")
    assert seen == [True, False]


def test_infill_without_infill_tokens_reranks_and_says_so(shell, magics, tiny_model, capsys):
    use(shell, tiny_model("codegen"))
    shell.run_line_magic("config", "CodeGen.rerank_candidates = 3")
    run(shell, "%infill total = <FILL>")
    answer = magics.last_answer
    assert answer.method == "left-to-right reranking (3 candidates)"
    assert "\n" not in answer.code  # an inline hole ends with its line
    assert "cannot fill holes using the code after them" in capsys.readouterr().out


@pytest.mark.parametrize(
    "body",
    ["print('{braces} 100% $HOME \\\\ back')", "résumé → 😀 unicode", "x" * 5000],
)
def test_awkward_cells_never_crash(shell, magics, tiny_model, capsys, body):
    use(shell, tiny_model("codegen"))
    run(shell, "%%codegen\n" + body)
    out = capsys.readouterr()
    # Either an answer or one clear sentence.
    assert magics.last_answer is not None or out.err.count("\n") == 1


def test_errors_are_one_sentence(shell, magics, tiny_model, capsys):
    use(shell, "no such model")
    run(shell, "%%codegen\nanything")
    err = capsys.readouterr().err
    assert err.startswith("Unknown model 'no such model'") and err.count("\n") == 1
    use(shell, tiny_model("codegen"))
    run(shell, "%%codegen\n   ")
    assert capsys.readouterr().err == "The request is empty; write in the cell what the code should do.\n"
    run(shell, "%%infill\nno holes here")
    assert "has no <FILL> hole" in capsys.readouterr().err
    run(shell, "%%codegen --no-such-flag\nx")
    assert "see %codegen? for the options" in capsys.readouterr().err


def _bundles(captured):
    from jupyter_codegen.frontend_protocol import CELLS_MIME

    return [o.data[CELLS_MIME] for o in captured.outputs if CELLS_MIME in o.data]


def test_the_final_output_carries_the_cells_bundle_and_the_kernel_inserts_without_an_extension(shell, magics, tiny_model):
    from IPython.utils.capture import capture_output

    use(shell, tiny_model("xglm"))
    with capture_output() as captured:
        run(shell, "%%codegen\nload sales.csv into a DataFrame")
    [bundle] = _bundles(captured)
    assert magics.last_answer.code.strip()
    assert bundle["kind"] == "codegen" and bundle["insert"] == "kernel" and len(bundle["generation_id"]) == 32
    assert [c["source"] for c in bundle["cells"]] == [magics.last_answer.code]
    assert captured.outputs[-1].data["text/plain"] == magics.last_answer.code  # still visible without the extension
    assert shell.rl_next_input == magics.last_answer.code


def test_with_a_fresh_snapshot_the_notebook_on_screen_is_the_context_and_the_extension_inserts(shell, magics, tiny_model):
    from IPython.utils.capture import capture_output

    from jupyter_codegen.frontend_protocol import INSERT_CELLS, REPLACE_SOURCE

    use(shell, tiny_model("xglm"))
    magics.link.receive("comm-1", {"type": "hello", "capabilities": [INSERT_CELLS, REPLACE_SOURCE]})

    def run_with_snapshot(request: str):
        cells = [
            {"id": "m", "cell_type": "markdown", "source": "## Monthly totals from the ledger"},
            {"id": "n", "cell_type": "code", "source": "ledger = {'jan': 3}", "execution_count": None},
            {"id": "r", "cell_type": "code", "source": request},
        ]
        magics.link.receive("comm-1", {"type": "snapshot", "cell_id": "r", "cells": cells})
        with capture_output() as captured:
            run(shell, request)
        return _bundles(captured)

    try:
        # A tiny random model answers some prompts with nothing (then nobody inserts); ask until it answers.
        for words in ("plot the monthly totals", "sum the ledger", "show the ledger as a table", "count the months"):
            request = "%%codegen\n" + words
            [bundle] = run_with_snapshot(request)
            assert shell.rl_next_input is None
            if magics.last_answer.code.strip():
                break
            assert bundle["insert"] == "none"
        assert magics.last_answer.code.strip(), "the tiny model answered none of the requests"
        prompt = magics.last_answer.prompt
        assert "<text>\nMonthly totals from the ledger\n</text>\n<cell>\nledger = {'jan': 3}\n</cell>\n" in prompt
        assert bundle["insert"] == "frontend" and bundle["source_cell_id"] == "r"  # inserted once, by the extension
        assert magics.conversation.turns[-1].request == words and magics.conversation.turns[-1].cell_id == "r"
        # The snapshot was used once: a re-run without a new one reads kernel history and the kernel inserts.
        with capture_output() as captured:
            run(shell, request)
        assert "Monthly totals from the ledger" not in magics.last_answer.prompt
        code = magics.last_answer.code
        assert _bundles(captured)[0]["insert"] == ("kernel" if code.strip() else "none")
        assert shell.rl_next_input == (code if code.strip() else None)
    finally:
        magics.link.closed("comm-1")


def test_an_infill_cell_with_a_snapshot_sees_the_cells_below_and_is_replaced_in_place(shell, magics, tiny_model):
    from IPython.utils.capture import capture_output

    from jupyter_codegen.frontend_protocol import INSERT_CELLS, REPLACE_SOURCE

    use(shell, tiny_model("xglm"))
    magics.link.receive("comm-2", {"type": "hello", "capabilities": [INSERT_CELLS, REPLACE_SOURCE]})
    source = "%%infill\ntotal = <FILL>\n"
    cells = [
        {"id": "i", "cell_type": "code", "source": source},
        {"id": "after", "cell_type": "code", "source": "print(total_below_marker)"},
    ]
    magics.link.receive("comm-2", {"type": "snapshot", "cell_id": "i", "cells": cells})
    try:
        with capture_output() as captured:
            run(shell, source)
    finally:
        magics.link.closed("comm-2")
    answer = magics.last_answer
    assert "print(total_below_marker)" in answer.prompt  # the cell below, on the right side of the hole
    [bundle] = _bundles(captured)
    assert bundle["kind"] == "infill" and bundle["insert"] == "frontend"
    assert bundle["replace_source"] == answer.code and bundle["cells"] == [] and bundle["marker"] == "<FILL>"
    assert bundle["fills"] == answer.fills and shell.rl_next_input is None


def test_codegen_fix_proposes_a_corrected_cell_for_the_last_failure_and_records_it(shell, magics, tiny_model, capsys):
    use(shell, tiny_model("xglm"))
    magics.last_failure = None
    run(shell, "%codegen --fix")
    assert "No cell has failed" in capsys.readouterr().err
    run(shell, "prices = [3, 4]")
    failed = shell.run_cell("total = 0\ntotal += sum(prces)\nprint(total)", store_history=True)
    assert isinstance(failed.error_in_exec, NameError)
    failure = magics.last_failure
    assert failure.line == 1 and "Did you mean: 'prices'?" in failure.message
    run(shell, "%codegen --fix")
    out = capsys.readouterr().out
    assert "Proposed fix for NameError: name 'prces' is not defined" in out
    fixed = magics.last_answer.code
    assert fixed.startswith("total = 0\n") and fixed.endswith("\nprint(total)")
    assert magics.last_bundle.cells[0].source == fixed and shell.rl_next_input == fixed
    turn = magics.conversation.turns[-1]
    assert (turn.kind, turn.answer) == ("fix", fixed) and "prces" in turn.request
    run(shell, "print('another cell')")
    assert magics.last_failure is failure  # still the last failure
    run(shell, "%codegen --fix --cell nope")
    assert "Cell nope has not failed in this kernel" in capsys.readouterr().err
    # The frontend's Fix sends the failing cell's source: the kernel's last error, raised in that code, is used.
    magics.failures.clear()
    run(shell, "%%codegen --fix --cell nope\ntotal = 0\ntotal += sum(prces)\nprint(total)")
    assert "Proposed fix for NameError: name 'prces'" in capsys.readouterr().out
    run(shell, "%%codegen --fix --cell nope\nprint('never ran')")
    assert "Cell nope has not failed" in capsys.readouterr().err
    run(shell, "prces = prices")
    run(shell, "total = 0\ntotal += sum(prces)\nprint(total)")  # the failing cell runs again, now without error
    assert magics.last_failure is None


def test_codegen_explain_says_in_a_sentence_what_the_last_cell_does(shell, magics, tiny_model):
    from IPython.utils.capture import capture_output

    use(shell, tiny_model("xglm"))
    run(shell, "ages = [31, 45, 27]\nmean_age = sum(ages) / len(ages)")
    with capture_output() as captured:
        run(shell, "%codegen --explain --show-prompt")
    assert "mean_age = sum(ages) / len(ages)" in captured.stdout  # the prompt holds the last cell
    sentence = magics.last_answer.code
    shown = [o.data for o in captured.outputs if "text/markdown" in o.data]
    if sentence:
        assert shown == [{"text/markdown": f"**Explanation:** {sentence}", "text/plain": f"Explanation: {sentence}"}]
    with capture_output() as captured:
        run(shell, "%%codegen --explain\nprint('hello')")
    assert "print('hello')" in magics.last_answer.prompt



def test_codegen_check_runs_each_candidate_in_a_copy_and_reports_how_it_fared(shell, magics, tiny_model, capsys):
    use(shell, tiny_model("xglm"))
    run(shell, "checked = []")
    run(shell, "%codegen -n 3 --temperature 1.0 --seed 2 --max-new-tokens 8 --check count the rows")
    out = capsys.readouterr().out
    assert "each run in a copy of the kernel (5 s limit)" in out and "<- chosen" in out
    chosen = next(line for line in out.splitlines() if "<- chosen" in line)
    ran = [a for a in magics.last_answer.alternatives if a.code.strip()]
    assert magics.last_answer.code == ran[0].code  # the chosen candidate is the answer
    assert shell.user_ns["checked"] == []
    if "ran without error" not in chosen:  # none ran: then none of the others did either
        assert "ran without error" not in out


def test_the_frontend_can_ask_for_the_variables_summary_over_the_comm(shell, magics):
    run(shell, "import pandas as pd\nsales_table = pd.DataFrame({'region': ['n'], 'revenue': [1.5]})")
    reply = magics.link.receive("c", {"type": "variables_request", "id": "v1"})
    assert reply["type"] == "variables" and reply["id"] == "v1"
    assert "sales_table" in reply["summary"] and "revenue" in reply["summary"]

