"""The JupyterLab extension in a real browser: a real `jupyter lab` (the extension as `pip install` put it), Debian's
Chromium driven by Playwright. A `%%codegen` cell's code is inserted below it once (by the extension, which proves the
snapshot reached the kernel before the execute request; marked in the cells' metadata), a re-run replaces it, and the
notebook's ordinary undo removes it; an `%%infill` cell is filled in place, undone, and filled again after a kernel
restart (the comm is opened again).

Needs Chromium at /usr/bin/chromium (`apt-get install chromium`; CODEGEN_CHROMIUM names another) and the `playwright`
Python package (dev extra; its own browser download is not used). Screenshots go to test-results/.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from jupyter_codegen.frontend_protocol import CELLS_MIME

pytestmark = pytest.mark.slow

CHROMIUM = os.environ.get("CODEGEN_CHROMIUM", "/usr/bin/chromium")
RESULTS = Path(__file__).resolve().parent.parent / "test-results"
TIMEOUT_MS = int(os.environ.get("CODEGEN_BROWSER_TIMEOUT_MS", "180000"))
REQUESTS = ("load sales.csv into a DataFrame", "plot the revenue of each region", "count the rows")
SALES = (
    "import pandas as pd\n"
    "sales = pd.DataFrame({'region': ['north', 'south', 'north', 'east'], 'revenue': [120.0, 80.5, 99.9, 40.0]})"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def notebook_json(*sources: str) -> dict:
    cells = [
        {"cell_type": "code", "id": f"cell-{i}", "metadata": {}, "source": s, "outputs": [], "execution_count": None}
        for i, s in enumerate(sources)
    ]
    return {
        "cells": cells,
        "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4,
        "nbformat_minor": 5,
    }


LAB_MAX_TOKENS = 40
"""maxTokens in the lab's jupyter-codegen settings: the kernels' own CodeGen.max_new_tokens is 16, so a kernel that
reports 40 got it from JupyterLab's settings over the comm."""


@pytest.fixture
def lab(tmp_path):
    """A running `jupyter lab` on a free port with its own config, data and runtime folders, whose server and
    kernels use the embedded default model (real code in the screenshots); yields (base url, token, root folder)."""
    yield from running_lab(tmp_path, "default")


@pytest.fixture
def tiny_lab(tiny_model, tmp_path):
    """The same on a tiny random model: for what must not depend on the quality of an answer (the small default
    model often fills a hole with nothing, and then nothing is replaced)."""
    yield from running_lab(tmp_path, str(tiny_model("xglm")))


def running_lab(tmp_path: Path, model: str):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`apt-get install chromium`) or set CODEGEN_CHROMIUM.")
    root, home = tmp_path / "root", tmp_path / "home"
    root.mkdir()
    profile = home / "ipython" / "profile_default"
    profile.mkdir(parents=True)
    user_settings = home / "config" / "lab" / "user-settings"
    # No "get notified about news?" toast over the screenshots.
    (user_settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (user_settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings").write_text('{"fetchNews": "false"}')
    (user_settings / "jupyter-codegen").mkdir(parents=True)
    (user_settings / "jupyter-codegen" / "plugin.jupyterlab-settings").write_text(json.dumps({"maxTokens": LAB_MAX_TOKENS}))
    conversations = tmp_path / "conversations"
    (profile / "ipython_config.py").write_text(
        f"c.CodeGen.model = {model!r}\n"
        f"c.CodeGen.conversation_dir = {str(conversations)!r}\n"
        "c.CodeGen.max_new_tokens = 16\n"
    )
    port, token = free_port(), secrets.token_hex(16)
    env = {k: v for k, v in os.environ.items() if not k.startswith("JPY_")}
    env.update(
        IPYTHONDIR=str(home / "ipython"),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
    )
    command = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root", f"--port={port}", "--ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
        f"--CodeGen.model={model}", f"--CodeGen.conversation_dir={conversations}", "--CodeGen.max_new_tokens=16",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    log = (tmp_path / "lab.log").open("w")
    server = subprocess.Popen(command, env=env, cwd=root, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5):
                    break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"jupyter lab did not start:\n{(tmp_path / 'lab.log').read_text()[-4000:]}")
                time.sleep(0.5)
        yield base, token, root
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()


def conversation(lab, name: str) -> list[dict]:
    """The turns the server keeps for notebook `name` (what its magics and the chat share)."""
    base, token, _ = lab
    with urllib.request.urlopen(f"{base}/codegen/api/conversation?path={name}&token={token}", timeout=30) as r:
        return json.loads(r.read())["turns"]


def in_browser(lab, name: str, *sources: str, check) -> None:
    """Writes the notebook `name` with `sources` into the lab's root, opens it in headless Chromium and calls
    `check(notebook)`; a failure leaves test-results/lab-failure.png."""
    from playwright.sync_api import sync_playwright

    base, token, root = lab
    RESULTS.mkdir(exist_ok=True)
    path = root / name
    path.write_text(json.dumps(notebook_json(*sources)))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(TIMEOUT_MS)
            try:
                page.goto(f"{base}/lab/tree/{name}?token={token}")
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
                page.wait_for_function(
                    "n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n", arg=len(sources)
                )
                check(Notebook(page, path))
            except BaseException:
                page.screenshot(path=str(RESULTS / "lab-failure.png"))
                raise
        finally:
            browser.close()


class Notebook:
    """The open notebook: its cells on the page, and its file."""

    def __init__(self, page, path: Path):
        self.page, self.path = page, path
        self.cells = page.locator(".jp-NotebookPanel .jp-Notebook .jp-Cell")

    def count(self) -> int:
        return self.cells.count()

    def wait_for_count(self, n: int) -> None:
        self.page.wait_for_function("n => document.querySelectorAll('.jp-Notebook .jp-Cell').length === n", arg=n)

    def run(self, index: int) -> None:
        """Runs cell `index` in place (Ctrl+Enter in command mode) and waits until the kernel is done with it. A key
        pressed while JupyterLab is still wiring the kernel can be lost: then it is pressed again."""
        from playwright.sync_api import TimeoutError as PlaywrightTimeout

        page = self.page
        prompt = self.cells.nth(index).locator(".jp-InputArea-prompt")
        before = prompt.text_content()
        for _ in range(5):
            self.cells.nth(index).locator(".jp-InputPrompt").click()
            page.keyboard.press("Escape")
            page.keyboard.press("Control+Enter")
            try:
                page.wait_for_function(
                    "([el, before]) => el.textContent !== before || document.querySelector('.jp-Dialog') !== null",
                    arg=[prompt.element_handle(), before], timeout=5000,
                )
            except PlaywrightTimeout:
                continue
            dialog = page.locator(".jp-Dialog .jp-mod-accept")
            if dialog.count():  # run before the kernel was attached: JupyterLab asks which kernel; the default one
                dialog.click()  # and the cell runs once the kernel has started
                try:
                    page.wait_for_function(
                        "([el, before]) => el.textContent !== before", arg=[prompt.element_handle(), before],
                        timeout=60000,
                    )
                except PlaywrightTimeout:
                    continue
            break
        page.wait_for_function(
            "([el, before]) => /\\[\\d+\\]/.test(el.textContent) && el.textContent !== before",
            arg=[prompt.element_handle(), before], timeout=TIMEOUT_MS,
        )

    def undo(self) -> None:
        """The notebook's ordinary undo: Z in command mode."""
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("z")

    def saved(self) -> dict:
        """Saves the notebook from the page (Ctrl+S in command mode) and reads the file once it changed on disk."""
        before = self.path.stat().st_mtime
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Control+s")
        deadline = time.monotonic() + 60
        while self.path.stat().st_mtime <= before:
            assert time.monotonic() < deadline, "the notebook was not saved"
            time.sleep(0.2)
        time.sleep(0.3)
        return json.loads(self.path.read_text())


def final_bundle(cell: dict) -> dict:
    return [o["data"][CELLS_MIME] for o in cell["outputs"] if CELLS_MIME in o.get("data", {})][-1]


def test_a_codegen_cell_inserts_its_code_below_once_and_undo_removes_it(lab):
    in_browser(lab, "analysis.ipynb", "%load_ext jupyter_codegen", f"%%codegen\n{REQUESTS[0]}", check=check_codegen)


def check_codegen(notebook: Notebook) -> None:
    page, cells = notebook.page, notebook.cells

    notebook.run(0)
    for attempt, request in enumerate(REQUESTS):
        if attempt:  # the model answered nothing: ask something else
            cells.nth(1).locator(".cm-content").click()
            page.keyboard.press("Control+a")
            page.keyboard.type(f"%%codegen\n{request}")
        notebook.run(1)
        caption = cells.nth(1).locator(".jp-CodegenCells-caption")
        caption.wait_for()
        if "not inserted" not in caption.text_content():
            break
    else:
        pytest.fail(f"the model answered none of {REQUESTS}")

    shown = cells.nth(1).locator(".jp-CodegenCells-code").all_text_contents()
    notebook.wait_for_count(2 + len(shown))
    time.sleep(1.0)  # a second insertion (set_next_input, a re-render) would come now
    page.screenshot(path=str(RESULTS / "lab-codegen-cell.png"))

    nb = notebook.saved()
    bundle = final_bundle(nb["cells"][1])
    # The snapshot reached the kernel before the execute request, so the extension (not the kernel) inserts.
    assert bundle["insert"] == "frontend", bundle
    new = nb["cells"][2:]
    assert len(new) == len(bundle["cells"]) == len(shown), [c["source"] for c in nb["cells"]]
    for cell, expected in zip(new, bundle["cells"]):
        assert "".join(cell["source"]) == expected["source"]
        meta = cell["metadata"]["jupyter_codegen"]
        assert meta["generation_id"] == bundle["generation_id"]
        assert meta["source_cell_id"] == nb["cells"][1]["id"] == bundle["source_cell_id"]
        assert meta["kind"] == "codegen"
    assert cells.count() == len(nb["cells"])

    # Run again: the new answer replaces the cells of the first run (unedited), it does not pile up.
    notebook.run(1)
    rerun = notebook.saved()
    bundle2 = final_bundle(rerun["cells"][1])
    assert bundle2["generation_id"] != bundle["generation_id"]
    if bundle2["insert"] == "frontend":
        assert ["".join(c["source"]) for c in rerun["cells"][2:]] == [c["source"] for c in bundle2["cells"]]
        ids = {c["metadata"]["jupyter_codegen"]["generation_id"] for c in rerun["cells"][2:]}
        assert ids == {bundle2["generation_id"]}
        notebook.undo()  # undoes the replacement: the first run's cells are back
        notebook.wait_for_count(len(nb["cells"]))
        back = notebook.saved()
        assert [c["source"] for c in back["cells"][2:]] == [c["source"] for c in new]
    else:  # the model answered nothing this time: nothing inserted, nothing removed
        assert rerun["cells"][2:] == new

    notebook.undo()
    notebook.wait_for_count(2)
    page.screenshot(path=str(RESULTS / "lab-codegen-undone.png"))
    after = notebook.saved()
    assert [c["id"] for c in after["cells"]] == [c["id"] for c in nb["cells"][:2]]


def test_an_infill_cell_gets_its_holes_filled_in_place_and_undo_restores_it_also_after_a_restart(lab):
    infill = "%%infill\ndef double(x):\n    return <FILL>\n"
    in_browser(lab, "fill.ipynb", "%load_ext jupyter_codegen", infill, check=lambda nb: check_infill(nb, infill))


def check_infill(notebook: Notebook, infill: str) -> None:
    notebook.run(0)
    notebook.run(1)
    notebook.cells.nth(1).locator(".jp-CodegenCells-caption").wait_for()
    nb = notebook.saved()
    assert len(nb["cells"]) == 2  # filled in place, nothing inserted
    bundle = final_bundle(nb["cells"][1])
    assert bundle["insert"] == "frontend" and bundle["kind"] == "infill", bundle
    assert "".join(nb["cells"][1]["source"]) == bundle["replace_source"]
    assert "<FILL>" not in bundle["replace_source"] and "def double(x):" in bundle["replace_source"]
    assert nb["cells"][1]["metadata"]["jupyter_codegen"]["kind"] == "infill"
    notebook.page.screenshot(path=str(RESULTS / "lab-infill-cell.png"))

    notebook.undo()
    notebook.page.wait_for_function(
        "() => document.querySelectorAll('.jp-Notebook .jp-Cell')[1].textContent.includes('%%infill')"
    )
    after = notebook.saved()
    assert "".join(after["cells"][1]["source"]) == infill

    # A restarted kernel has lost the comm (and the magics until %load_ext): the extension opens it again.
    page = notebook.page
    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").click()
    page.locator(".lm-Menu-itemLabel", has_text="Restart Kernel and Clear Outputs of All Cells").click()
    page.locator(".jp-Dialog .jp-mod-accept").click()
    page.wait_for_function("() => document.querySelector('.jp-Dialog') === null")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']")
    notebook.run(0)
    notebook.run(1)
    again = notebook.saved()
    bundle2 = final_bundle(again["cells"][1])
    assert bundle2["insert"] == "frontend" and bundle2["generation_id"] != bundle["generation_id"], bundle2
    assert "".join(again["cells"][1]["source"]) == bundle2["replace_source"]


# -- the sidebar chat, the fill shortcut, the shared settings ----------------------------------------------------


def open_chat(page):
    page.locator(".jp-SideBar .lm-TabBar-tab[data-id='jp-codegen-chat']").click()
    page.locator(".jp-CodegenChat-input").wait_for()


def test_a_sidebar_question_streams_its_answer_which_is_inserted_below_and_recorded(lab):
    in_browser(lab, "chat.ipynb", "%load_ext jupyter_codegen", SALES, check=lambda nb: check_chat(nb, lab))


def check_chat(notebook: Notebook, lab) -> None:
    page, cells = notebook.page, notebook.cells
    notebook.run(0)
    notebook.run(1)
    open_chat(page)
    page.locator(".jp-SideBar.jp-mod-left .lm-TabBar-tab.lm-mod-current").click()  # room for the notebook
    assert "chat.ipynb" in page.locator(".jp-CodegenChat-header").text_content()
    # Count the updates of the answer while it arrives: a streamed answer grows in several steps.
    page.evaluate("""() => {
        window.codegenGrowth = 0;
        const log = document.querySelector('.jp-CodegenChat-log');
        new MutationObserver(() => {
            const pre = log.querySelector('.jp-CodegenChat-code.jp-mod-streaming');
            if (pre && pre.textContent) { window.codegenGrowth += 1; }
        }).observe(log, {subtree: true, childList: true, characterData: true});
    }""")
    cells.nth(1).locator(".jp-InputPrompt").click()  # the data cell is active: the answer goes below it
    question = "show the average revenue by region"
    page.locator(".jp-CodegenChat-input").fill(question)
    page.locator(".jp-CodegenChat-input").press("Enter")
    answer = page.locator(".jp-CodegenChat-message.jp-mod-model").last
    answer.locator(".jp-CodegenChat-insert").wait_for()
    code = answer.locator(".jp-CodegenChat-code").text_content()
    assert code.strip(), "the model answered with no code"
    assert page.evaluate("window.codegenGrowth") >= 2, "the answer was not streamed"
    assert page.locator(".jp-CodegenChat-stop").is_hidden() and page.locator(".jp-CodegenChat-send").is_visible()

    answer.locator(".jp-CodegenChat-insert").click()
    notebook.wait_for_count(3 + code.count("\n\n"))  # blank lines split an answer into cells
    page.screenshot(path=str(RESULTS / "lab-chat-sidebar.png"))
    saved = notebook.saved()
    inserted = saved["cells"][2:]
    assert "\n\n".join("".join(c["source"]) for c in inserted) == code
    assert {c["metadata"]["jupyter_codegen"]["kind"] for c in inserted} == {"chat"}
    [turn] = conversation(lab, "chat.ipynb")
    assert (turn["kind"], turn["request"], turn["answer"]) == ("chat", question, code)

    # The kernel's magics see the chat's turn: the next %%codegen prompt holds the question.
    cells.nth(0).locator(".jp-InputPrompt").click()
    notebook.undo()
    notebook.wait_for_count(2)
    cells.nth(1).locator(".jp-InputPrompt").click()
    page.keyboard.press("b")  # a new, empty cell below, active
    notebook.wait_for_count(3)
    answer.locator(".jp-CodegenChat-replace").click()  # nothing selected: the answer replaces the whole cell
    assert "".join(notebook.saved()["cells"][2]["source"]) == code
    cells.nth(2).locator(".cm-content").click()
    page.keyboard.press("Control+a")
    page.keyboard.type("%%codegen --show-prompt\nnow only the north region")
    notebook.run(2)
    notebook.cells.nth(2).locator(".jp-CodegenCells-caption").wait_for()
    shown = notebook.cells.nth(2).locator(".jp-OutputArea").text_content()
    assert question in shown, shown[-2000:]


def test_a_selection_is_filled_by_the_shortcut_and_undone_in_the_editor(tiny_lab):
    source = "def total(values):\n    return ..."
    in_browser(tiny_lab, "fill.ipynb", "%load_ext jupyter_codegen", source, check=lambda nb: check_fill(nb, tiny_lab, source))


def cell_text_is(page, index: int, want: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    try:
        page.wait_for_function(
            "([i, want]) => document.querySelectorAll('.jp-Notebook .jp-Cell')[i].querySelector('.cm-content').innerText === want",
            arg=[index, want],
        )
    except PlaywrightTimeout:
        shown = page.locator(".jp-Notebook .jp-Cell").nth(index).locator(".cm-content").inner_text()
        toasts = page.locator(".Toastify__toast").all_text_contents()
        pytest.fail(f"cell {index} shows {shown!r}, not {want!r}; notifications: {toasts}")


def check_fill(notebook: Notebook, lab, source: str) -> None:
    page, cells = notebook.page, notebook.cells
    notebook.run(0)
    cells.nth(1).locator(".cm-content").click()
    page.keyboard.press("Control+End")
    for _ in range(len("...")):  # select the placeholder
        page.keyboard.press("Shift+ArrowLeft")
    page.keyboard.press("Control+Alt+f")
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not (turns := conversation(lab, "fill.ipynb")):
        if time.monotonic() > deadline:
            page.screenshot(path=str(RESULTS / "lab-failure.png"))
            pytest.fail("the shortcut filled nothing (no infill turn was recorded)")
        time.sleep(0.5)
    [turn] = turns
    assert turn["kind"] == "infill" and turn["request"] == "def total(values):\n    return <FILL>", turn
    filled = turn["answer"]
    assert filled.startswith("def total(values):\n    return ") and filled != source
    cell_text_is(page, 1, filled)
    page.screenshot(path=str(RESULTS / "lab-fill-selection.png"))
    page.keyboard.press("Control+z")  # the editor's ordinary undo
    cell_text_is(page, 1, source)


def test_jupyterlab_settings_reach_the_kernels_magics(lab):
    probe = "print('max_new_tokens', get_ipython().magics_manager.registry['CodeGenMagics'].settings.max_new_tokens)"
    cells = ("%load_ext jupyter_codegen", probe, "%%codegen\nshow the first rows", probe)
    in_browser(lab, "settings.ipynb", *cells, check=check_settings)


def check_settings(notebook: Notebook) -> None:
    for i in range(3):
        notebook.run(i)
    notebook.cells.nth(2).locator(".jp-CodegenCells-caption").wait_for()
    time.sleep(0.5)  # the generated cells go in below the magic cell, above the last probe
    last = notebook.count() - 1
    notebook.run(last)
    before = notebook.cells.nth(1).locator(".jp-OutputArea").text_content()
    after = notebook.cells.nth(last).locator(".jp-OutputArea").text_content()
    # The kernel's own value is 16 (ipython_config.py). The comm opened right after %load_ext ran, and its Hello
    # carried the lab's settings, so the magics use the lab's value before any magic ran, and after.
    assert f"max_new_tokens {LAB_MAX_TOKENS}" in before, before
    assert f"max_new_tokens {LAB_MAX_TOKENS}" in after, after


GHOST_TIMING = """() => {
    window.codegenKeys = [];
    window.codegenGhost = null;
    document.addEventListener('keydown', () => { window.codegenKeys.push(performance.now()); window.codegenGhost = null; }, true);
    new MutationObserver(() => {
        const ghost = document.querySelector('.jp-GhostText');
        if (ghost && ghost.textContent && window.codegenGhost === null) { window.codegenGhost = performance.now(); }
    }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
"""Times, in the page: each keystroke, and the first ghost text after the last one (benchmarks/latency_ghost_text.py
uses it too)."""


def test_ghost_text_appears_while_typing_and_tab_accepts_it(lab):
    in_browser(lab, "ghost.ipynb", SALES, "", check=check_ghost_text)


def check_ghost_text(notebook: Notebook) -> None:
    page, cells = notebook.page, notebook.cells
    notebook.run(0)
    cells.nth(1).locator(".cm-content").click()
    page.evaluate(GHOST_TIMING)
    page.keyboard.type("sales.", delay=60)
    ghost = page.locator(".jp-GhostText")
    ghost.wait_for()
    suggestion = ghost.text_content()
    assert suggestion.strip()
    latency_ms = page.evaluate("window.codegenGhost - window.codegenKeys[window.codegenKeys.length - 1]")
    page.screenshot(path=str(RESULTS / "lab-ghost-text.png"))
    (RESULTS / "ghost-text-latency.json").write_text(json.dumps({"keystroke_to_ghost_ms": latency_ms}))
    assert 0 < latency_ms < 5000, latency_ms  # the provider's debounce is 250 ms; the default model answers in ~50 ms
    page.keyboard.press("Tab")
    cell_text_is(page, 1, "sales." + suggestion)


def test_fix_replaces_a_failing_cell_in_place_and_explain_answers_in_the_chat(lab):
    in_browser(lab, "fix.ipynb", SALES, "salse.head()", check=check_fix_and_explain)


def check_fix_and_explain(notebook: Notebook) -> None:
    page, cells = notebook.page, notebook.cells
    notebook.run(0)
    notebook.run(1)
    cells.nth(1).locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").wait_for()
    cells.nth(1).locator(".jp-InputPrompt").click(button="right")
    page.locator(".lm-Menu-itemLabel", has_text="Fix Cell Error").click()
    cell_text_is(page, 1, "sales.head()")  # the nearest existing name, checked in a copy of the kernel
    page.screenshot(path=str(RESULTS / "lab-fix-cell.png"))
    cells.nth(1).locator(".cm-content").click()
    page.keyboard.press("Control+z")
    cell_text_is(page, 1, "salse.head()")

    open_chat(page)
    page.locator(".jp-CodegenChat-explain").click()
    explanation = page.locator(".jp-CodegenChat-explanation")
    explanation.wait_for()
    sentence = explanation.text_content()
    assert sentence.strip() and sentence.rstrip()[-1] in ".!?", sentence

