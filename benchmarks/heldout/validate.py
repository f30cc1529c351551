"""Runs the held-out items with their reference code (every check must pass) and with a wrong answer (every
check must fail), in a real IPython shell. Also the reference implementation of how an item is run:

    files written to a fresh folder -> setup cell -> each earlier turn's code -> the answer cell
    result   = the answer cell's last-expression value
    expected = the same for the reference code, on a fresh copy of the same setup
    passed   = eval(check, names(), {"result": result, "expected": expected, "ns": user namespace})

Usage: python benchmarks/heldout/validate.py [data_exploration.jsonl]
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import tempfile
import warnings
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import checks  # noqa: E402


def load(path: Path | None = None) -> list[dict]:
    path = path or HERE / "data_exploration.jsonl"
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def run_answer(item: dict, answer: str, folder: Path | None = None):
    """(ok, result, namespace, error): the item's setup and earlier turns, then `answer`, in a fresh shell."""
    os.environ.setdefault("MPLBACKEND", "Agg")
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfg = Config()
    cfg.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell(config=cfg)
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in item["files"].items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        os.chdir(tmp)
        try:
            out = io.StringIO()
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for code in [item["setup"]] + [t["code"] for t in item["turns"]]:
                    r = shell.run_cell(code, store_history=True)
                    if not r.success:
                        return False, None, shell.user_ns, f"setup failed: {r.error_in_exec or r.error_before_exec}"
                plt.close("all")
                r = shell.run_cell(answer, store_history=True)
            if not r.success:
                return False, None, shell.user_ns, str(r.error_in_exec or r.error_before_exec)
            return True, r.result, shell.user_ns, None
        finally:
            os.chdir(cwd)


def judge(item: dict, answer: str) -> tuple[bool, str | None]:
    ok, expected, _, err = run_answer(item, item["reference"])
    if not ok:
        return False, f"reference failed: {err}"
    cwd = os.getcwd()
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in item["files"].items():
            (Path(tmp) / name).write_text(text, encoding="utf-8")
        ok, result, ns, err = run_answer(item, answer)
        if not ok:
            return False, err
        os.chdir(tmp)
        try:
            env = checks.names()
            env.update({"result": result, "expected": expected, "ns": ns})
            passed = bool(eval(item["check"], env))
        except Exception as exc:
            return False, f"check raised {type(exc).__name__}: {exc}"
        finally:
            os.chdir(cwd)
            import matplotlib.pyplot as plt

            plt.close("all")
    return passed, None if passed else "check failed"


def main(argv: list[str]) -> int:
    items = load(Path(argv[0]) if argv else None)
    bad = 0
    for item in items:
        ok, why = judge(item, item["reference"])
        var = item["setup"].split("\n")[-1].split(" = ")[0]
        wrong, _ = judge(item, f"{var}.head(2)")
        if not ok or wrong:
            bad += 1
            print(f"{item['id']}: reference {'passes' if ok else 'FAILS (' + str(why) + ')'}; "
                  f"wrong answer {'PASSES' if wrong else 'fails'}: {item['request']}")
    print(f"{len(items)} items, {len(items) - bad} valid")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
