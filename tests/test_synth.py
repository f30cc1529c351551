"""The synthetic data-exploration generator (model/synth): every kept sample ran and was checked, documents are
laid out exactly as the product lays out a notebook at inference time, checks reject wrong code, and nothing of
the held-out evaluation set is produced by the generator."""

from __future__ import annotations

import atexit
import json
import os
import random
import re
import sys
from pathlib import Path

import pytest

pytest.importorskip("pandas")
pytest.importorskip("matplotlib")

from jupyter_codegen.context import NOTEBOOK_HEADER  # noqa: E402
from jupyter_codegen.history import history_cells  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HELDOUT = REPO / "benchmarks" / "heldout" / "data_exploration.jsonl"
SEED = 20240611
N = 30

from model.synth import ops as O  # noqa: E402
from model.synth import runner  # noqa: E402
from model.synth.query import CheckFailed  # noqa: E402


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """N conversations with a fixed seed; each in its own folder so its CSV files stay for re-running."""
    out = []
    for i in range(N):
        session = runner.Session(workdir=str(tmp_path_factory.mktemp(f"conv{i}")))
        res = runner.conversation(session, i, SEED)
        out.append((session, res))
    yield out
    for session, _ in out:
        session.close()


BLOCK = re.compile(r"<cell>\n(.*?)\n</cell>\n(?:<output>\n(.*?)\n</output>\n)?|<text>\n(.*?)\n</text>\n", re.S)


def parse(text: str) -> list[tuple[str, str, str | None]]:
    """The document as blocks: ("code", source, output) and ("text", body, None); asserts nothing is left over."""
    assert text.startswith(NOTEBOOK_HEADER)
    pos, blocks = len(NOTEBOOK_HEADER), []
    while pos < len(text):
        m = BLOCK.match(text, pos)
        assert m, f"unexpected text at {pos}: {text[pos:pos + 80]!r}"
        if m.group(3) is not None:
            blocks.append(("text", m.group(3), None))
        else:
            blocks.append(("code", m.group(1), m.group(2)))
        pos = m.end()
    return blocks


def test_documents_have_the_product_layout(generated):
    docs = [d for _, res in generated for d in res.documents]
    assert len(docs) >= N * 0.9
    for doc in docs:
        assert set(doc) >= {"text", "source", "ops", "turns", "seed"}
        assert doc["source"] == "synth" and doc["turns"] == len(doc["ops"]) >= 1
        text = doc["text"]
        assert text.endswith("\n</cell>\n") and "\n\n\n" not in text
        blocks = parse(text)
        # ends with: [variables] request, answer (no output: the model writes it)
        assert blocks[-1][0] == "code" and blocks[-1][2] is None
        assert blocks[-2][0] == "text" and not blocks[-2][1].startswith("Variables:")
        variables = [i for i, b in enumerate(blocks) if b[0] == "text" and b[1].startswith("Variables:")]
        assert variables in ([], [len(blocks) - 3])
        # every earlier request is followed by its answer
        for i, (kind, body, _) in enumerate(blocks[:-2]):
            if kind == "text" and not body.startswith("Variables:"):
                assert blocks[i + 1][0] == "code"
        assert len(text) // 3 <= runner.BUDGET + 400  # context within budget, plus one answer


def test_every_kept_cell_runs_again_with_the_same_output(generated, tmp_path):
    """Re-run a document's code cells in a fresh kernel: all run, and the kernel history (what the product reads)
    gives back the same cells and outputs that the document holds."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    checked = 0
    for session, res in generated:
        for doc in res.documents:
            blocks = parse(doc["text"])
            code = [(src, out) for kind, src, out in blocks[:-1] if kind == "code"] + [(blocks[-1][1], None)]
            if "read_csv" not in code[0][0]:
                continue  # the oldest cells were left out to fit the budget
            cfg = Config()
            cfg.HistoryManager.hist_file = ":memory:"
            shell = InteractiveShell(config=cfg)
            cwd = os.getcwd()
            os.chdir(session.workdir)
            try:
                import matplotlib

                matplotlib.use("Agg")
                import matplotlib.pyplot as plt

                for src, _ in code:
                    plt.close("all")  # as the notebook's inline backend does after every cell
                    r = shell.run_cell(src, store_history=True)
                    assert r.success, (src, r.error_in_exec)
                cells = history_cells(shell)
            finally:
                os.chdir(cwd)
                import matplotlib.pyplot as plt

                plt.close("all")
                shell.history_manager.end_session()
                atexit.unregister(shell.atexit_operations)  # its reset at exit would cost a collection per shell
            assert [c.source for c in cells] == [src for src, _ in code]
            for cell, (_, out) in zip(cells[:-1], code[:-1]):
                assert (cell.output or None) == out
            checked += 1
    assert checked >= N * 0.7


class ScriptedEngine:
    """An engine that answers with the planned code and keeps the prompts it was given."""

    name = "scripted"
    context_window = 4096
    device = "cpu"

    def __init__(self):
        from jupyter_codegen.formats import CausalMaskingFormat

        self.format = CausalMaskingFormat()
        self.prompts: list[str] = []
        self.answers: list[str] = []

    def count_tokens(self, text: str) -> int:
        return runner.count_tokens(text)

    def generate(self, prompt, options, on_text=None, cancel=None):
        from jupyter_codegen.engine import Completion

        self.prompts.append(prompt)
        text = self.answers.pop(0)
        return [Completion(text=text, token_ids=[1], logprob=-1.0, finish_reason="stop")]

    def score(self, prompt, continuations):
        return [0.0 for _ in continuations]


def test_contexts_equal_the_real_magics_prompts(generated, monkeypatch):
    """Replay each conversation through the real %%codegen magic: the prompt it builds for every turn is exactly
    the context the generator recorded (plus the format's <|endoftext|>)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    import jupyter_codegen.magics as magics_module

    monkeypatch.delenv("JPY_SESSION_NAME", raising=False)
    replayed = 0
    for session, res in generated[:12]:
        cells = list(session.transcript)
        if not res.documents or not cells:
            continue
        turns = len(res.documents[-1]["ops"])
        cfg = Config()
        cfg.HistoryManager.hist_file = ":memory:"
        shell = InteractiveShell(config=cfg)
        magics = magics_module.CodeGenMagics(shell)
        shell.register_magics(magics)
        magics.settings.insert = False
        engine = ScriptedEngine()
        monkeypatch.setattr(magics, "_engine", lambda model: engine)
        cwd = os.getcwd()
        os.chdir(session.workdir)
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            for i, src in enumerate(cells):
                plt.close("all")
                if src.startswith("%%codegen\n"):
                    engine.answers.append(cells[i + 1])
                shell.run_cell(src, store_history=True)
        finally:
            os.chdir(cwd)
            import matplotlib.pyplot as plt

            plt.close("all")
            shell.history_manager.end_session()
        prompts = [p.removeprefix(engine.format.bos) for p in engine.prompts]
        assert prompts[:turns] == session.contexts[:turns]
        replayed += 1
    assert replayed >= 8


def test_negated_and_time_of_day_conditions_select_what_their_code_selects():
    """The reference a check uses (plain Python over the rows) and the code the generator writes keep the same rows
    for "drop the rows where ..." (missing values kept, as `~(mask)` keeps them) and for "before noon"."""
    import numpy as np
    import pandas as pd

    from model.synth.code import CodeStyle
    from model.synth.query import Cond, Query, filtered
    from model.synth.tables import Column, Spec

    df = pd.DataFrame({
        "price": [5.0, np.nan, 120.0, 80.0, 300.0],
        "region": ["North", None, "South", "North", "East"],
        "at": pd.to_datetime(["2024-01-02 08:30", "2024-01-02 12:00", None, "2024-03-01 19:15", "2024-05-05 11:59"]),
    })
    price = Column("price", "price", "num", Spec("price", "num", ("price",)))
    region = Column("region", "region", "cat", Spec("region", "cat", ("region",)))
    at = Column("at", "time", "date", Spec("at", "date", ("time",)), has_time=True)
    conds = [Cond(price, ">", 100, negated=True), Cond(price, "isna", negated=True),
             Cond(region, "isin", ("North", "East"), negated=True), Cond(at, "hour", ("<", 12)),
             Cond(at, "hour", (">=", 18)), Cond(at, "hour", ("<", 12), negated=True)]
    expected = [[0, 1, 3], [0, 2, 3, 4], [1, 2], [0, 4], [3], [1, 2, 3]]
    for cond, want in zip(conds, expected):
        q = Query(filters=[cond])
        assert q.rows(df) == want, cond
        for seed in range(12):
            code = filtered([cond], CodeStyle(random.Random(seed)), "df")
            assert list(eval(code, {"df": df}).index) == want, code


def test_checks_reject_wrong_code(tmp_path):
    """Mutations of the answer (another aggregate, the other comparison, the other sort order, another row count)
    that still run must fail the op's check."""
    mutations = [("mean()", "median()"), ("sum()", "max()"), (" > ", " < "), (" >= ", " <= "), ("ascending=False", "ascending=True"),
                 (".head(", ".tail("), (".nlargest(", ".nsmallest("), ("normalize=True", "normalize=False"),
                 ("median()", "mean()"), (" == ", " != "), ("dropna(", "fillna(0).dropna("), (".max()", ".min()")]
    session = runner.Session(workdir=str(tmp_path))
    caught = tried = 0
    missed = []
    try:
        for i in range(25):
            rng = random.Random(f"mut:{i}")
            session.start()
            from model.synth.tables import make_table, write_csv

            table = make_table(rng)
            env = O.Env(rng, table, "df", session.shell.user_ns, session.plots)
            env.path = write_csv(table, Path(session.workdir))
            os.chdir(session.workdir)
            load = O.load_step(env, as_turn=False)
            assert session.run(load.code).ok
            for _ in range(12):
                step = O.choose(env, O.OPS)
                if step is None or step.check is None or step.after is not None:
                    continue
                for a, b in mutations:
                    if a in step.code:
                        wrong = step.code.replace(a, b, 1)
                        break
                else:
                    continue
                snap = env.frame.copy()
                session.close_figures()
                right = session.run(step.code)
                seen = _shown(right.result)
                session.close_figures()
                cell = session.run(wrong)
                if not cell.ok or _shown(cell.result) == seen:
                    continue  # fails to run (also caught, but not by the check), or the same answer on this data
                tried += 1
                try:
                    step.check(O.Run(cell.result, cell.stdout, env.ns, snap))
                    missed.append((step.op, step.code, wrong))
                except CheckFailed:
                    caught += 1
                except Exception:
                    caught += 1
    finally:
        os.chdir(REPO)
        session.close()
    assert tried >= 30
    print(f"mutations caught: {caught}/{tried}")
    assert caught / tried >= 0.9, (caught, tried, missed)


def _shown(result) -> str:
    """What an answer shows: its repr, and the data of any plot drawn."""
    bars = [round(float(v), 9) for v in O._bars()] if O._axes() else []
    lines = [[round(float(v), 9) for v in ln.get_ydata()] for ax in O._axes() for ln in ax.get_lines()] if O._axes() else []
    return repr(result) + repr(bars) + repr(lines)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def test_heldout_requests_are_never_generated(generated):
    """A generalization guard: no held-out request, as worded, comes out of the generator."""
    items = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert len(items) >= 55
    held = {_norm(it["request"]) for it in items} | {_norm(t["request"]) for it in items for t in it["turns"]}
    generated_requests = {_norm(r) for r in runner.sample_requests(SEED, 4000)}
    assert not held & generated_requests
    texts = "\n".join(_norm(d["text"]) for _, res in generated for d in res.documents)
    assert [h for h in held if h in texts] == []


def test_heldout_tables_are_not_generator_domains():
    from model.synth.names import NAME_STYLES, render
    from model.synth.tables import DOMAINS

    items = [json.loads(line) for line in HELDOUT.read_text(encoding="utf-8").splitlines() if line.strip()]
    stems = {s for d in DOMAINS for s in d.stems}
    for it in items:
        for name, csv in it["files"].items():
            assert Path(name).stem not in stems
            header = [h.strip() for h in csv.splitlines()[0].split(",")]
            for d in DOMAINS:
                names = {render([w], st) for sp in d.specs for w in sp.words for st in set(NAME_STYLES)}
                shared = [h for h in header if h in names]
                assert len(shared) <= len(header) // 2, (name, d.name, shared)


def test_cli_is_deterministic_for_any_number_of_workers(tmp_path):
    import subprocess

    outs = []
    for workers in (1, 2):
        out = tmp_path / f"w{workers}.jsonl"
        subprocess.run([sys.executable, "-m", "model.synth", "--out", str(out), "--n", "6", "--seed", "7",
                        "--workers", str(workers), "--quiet"], cwd=REPO, check=True, timeout=300)
        outs.append(out.read_text(encoding="utf-8"))
        stats = json.loads(Path(str(out) + ".stats.json").read_text())
        assert stats["conversations"] == 6
    assert outs[0] == outs[1] and outs[0].count("\n") >= 5


def test_generated_documents_are_free_of_benchmark_text(generated):
    decontaminate = pytest.importorskip("model.corpus.decontaminate")
    bench = decontaminate.load_benchmarks()
    dirty = [(d["seed"], bench.check(d["text"])) for _, res in generated for d in res.documents if bench.check(d["text"])]
    assert dirty == []


# --- surface names: the model must copy column and frame names from the context ----------------------------------

PLANS = 200


@pytest.fixture(scope="module")
def plans():
    return [runner.plan(i, SEED) for i in range(PLANS)]


def test_names_are_deterministic_per_seed_and_index():
    for i in (0, 7, 123):
        _, a, va = runner.plan(i, SEED)
        _, b, vb = runner.plan(i, SEED)
        assert va == vb and a.stem == b.stem
        assert [(c.name, c.phrase) for c in a.columns] == [(c.name, c.phrase) for c in b.columns]
        assert a.frame.equals(b.frame)
    assert [runner.plan(i, SEED)[2] for i in range(20)] != [runner.plan(i, SEED + 1)[2] for i in range(20)]


def test_frame_and_column_names_vary(plans):
    from model.synth import names

    vars_ = [v for _, _, v in plans]
    generic = sum(v in ("df", "data") for v in vars_) / len(vars_)
    assert abs(generic - names.GENERIC_VAR_SHARE) < 0.1, generic
    assert len(set(vars_)) >= 80
    assert all(v.isidentifier() for v in vars_)
    columns = {c.name for _, t, _ in plans for c in t.columns}
    assert len(columns) >= 1000, len(columns)
    stems = {t.stem for _, t, _ in plans}
    assert len(stems) >= 100
    invented = sum(t.invented for _, t, _ in plans) / len(plans)
    assert 0.04 <= invented <= 0.25
    styles = [c.name for _, t, _ in plans for c in t.columns]
    assert sum(" " in n for n in styles) >= 50 and sum(n != n.lower() and " " not in n for n in styles) >= 50
    # a real domain's table still uses the domain's own words for many columns, but far from all
    from model.synth.names import NAME_STYLES, render

    own = {render([w], st) for _, t, _ in plans for c in t.columns for w in c.spec.words for st in set(NAME_STYLES)}
    share = sum(n in own for n in styles) / len(styles)
    assert 0.25 <= share <= 0.7, share
    for _, t, _ in plans:
        names_ = [c.name for c in t.columns]
        assert len(set(names_)) == len(names_)
        phrases = [c.phrase for c in t.columns]
        assert all(p and p == p.lower() for p in phrases)


def test_odd_column_names_take_brackets():
    from model.synth.code import CodeStyle

    s = CodeStyle(random.Random(0))
    s.attr = True
    for name in ("Unit Price", "UnitPrice", "UNIT_PRICE", "unitPrice", "n units"):
        assert s.col("df", name) == f'df[{s.lit(name)}]' and s.sub(name) == f"[{s.lit(name)}]"
    assert s.col("df", "unit_price") == "df.unit_price"


def test_generated_code_uses_exact_names_in_brackets(generated):
    """Every column whose name has a space or capitals is written `frame["Exact Name"]` in the answers, never as an
    attribute; and the frame's own name is used (not `df` when the frame is called otherwise)."""
    checked = 0
    for i, (session, res) in enumerate(generated):
        _, table, var = runner.plan(i, SEED)
        odd = [c.name for c in table.columns if " " in c.name or c.name != c.name.lower()]
        for doc in res.documents:
            code = "\n".join(src for kind, src, _ in parse(doc["text"]) if kind == "code")
            for name in odd:
                if name.isidentifier():
                    assert not re.search(r"\.\s*" + re.escape(name) + r"\b", code), (name, code)
                words = name.split()
                if len(words) > 1:
                    assert not re.search(r"\.\s*" + re.escape(words[0]) + r"\s", code)
                checked += name in code
            answer = parse(doc["text"])[-1][1]
            if var != "df":
                assert not re.search(r"\bdf\b", answer) or re.search(r"\bdf\w*\s*=", doc["text"]), (var, answer)
    assert checked >= 5


def test_analysts_ask_questions_as_well_as_give_commands():
    """About an eighth of requests are questions ("which orders have price over 100?"), as an analyst asks them."""
    from model.synth.lang import is_question

    requests = runner.sample_requests(SEED, 2000)
    assert sum(map(is_question, requests)) / len(requests) >= 0.10


def test_requests_also_name_columns_by_meaning(plans):
    """A column named `qty` or `wt_kg` is sometimes asked for as "quantity" or "weight", the domain's words for it, so
    the model learns to map a request's words to a column by meaning; an alias never fits two columns of one table."""
    from model.synth.lang import Words
    from model.synth.names import split_words

    with_alias = [c for _, t, _ in plans if not t.invented for c in t.columns if c.aliases]
    real = [c for _, t, _ in plans if not t.invented for c in t.columns]
    assert 0.3 <= len(with_alias) / len(real) <= 0.95, len(with_alias) / len(real)
    for _, t, _ in plans:
        for c in t.columns:
            if t.invented:
                assert not c.aliases
            for a in c.aliases:
                assert a == a.lower() and a != c.phrase
                aw = set(a.split())
                for d in t.columns:
                    if d is not c:
                        for other in (d.phrase, *d.aliases, " ".join(split_words(d.name))):
                            ow = set(other.split())
                            assert not (aw <= ow or ow <= aw), (a, c.name, d.name, other)
    col = with_alias[0]
    said = {Words(random.Random(i)).col(col, exact=False) for i in range(200)}
    assert set(col.aliases) <= said and (col.phrase in said or col.name in said)


def test_some_tables_carry_columns_of_another_domain(plans, generated):
    """A quarter of tables also hold one to three columns of another domain, whose words none of the table's own
    columns use, so only the request (not the domain) says which column it means; such conversations are kept and
    record their guest columns."""
    from model.synth import tables

    mixed = [t for _, t, _ in plans if t.guests]
    assert abs(len(mixed) / len(plans) - tables.MIXED_SHARE) < 0.08, len(mixed) / len(plans)
    for t in mixed:
        own = {w for s in t.domain.specs for w in (*s.words, *s.key.split("_"))}
        assert 1 <= len(t.guests) <= 3 and t.guests[0] is not t.columns[0]
        for c in t.guests:
            assert c.spec not in t.domain.specs and not set(c.spec.words) & own
    assert not tables.make_table(random.Random(0), tables.DOMAINS[0]).guests  # a given domain stays itself
    assert tables.make_table(random.Random(0), tables.DOMAINS[0], mix=True).guests
    kept = [d for _, res in generated for d in res.documents if d["guests"]]
    assert kept and all(g in d["text"] for d in kept for g in d["guests"])
