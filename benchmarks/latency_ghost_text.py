"""Keystroke to ghost text in a real JupyterLab: how long a user waits for a completion while typing.

Starts `jupyter lab` with the model (the embedded default unless --model), opens a notebook in Debian's Chromium,
runs a cell that makes a small DataFrame, then types each prefix below into a fresh cell, one key at a time, and
times (in the page) the last keystroke to the first ghost text on screen. The time includes the provider's debounce
(250 ms: no request goes out while the user is still typing fast), the WebSocket round trip, the queue and the
model. Medians over the prefixes that got a suggestion; run it on an idle machine.

    python benchmarks/latency_ghost_text.py [--model default] [--rounds 2]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests"))

PREFIXES = ["sales.", "sales.groupby(", "sales[", "sales.head", "sales['revenue'].", "sales.sort_values("]
DEBOUNCE_MS = 250


def measure(notebook, prefixes: list[str], rounds: int) -> list[dict]:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from test_lab_browser import GHOST_TIMING

    page, cells = notebook.page, notebook.cells
    notebook.run(0)
    page.evaluate(GHOST_TIMING)
    rows = []
    for round_ in range(rounds):
        for prefix in prefixes:
            editor = cells.nth(1).locator(".cm-content")
            editor.click()
            page.keyboard.press("Control+a")
            page.keyboard.press("Delete")
            page.keyboard.press("Escape")
            editor.click()
            page.keyboard.type(prefix, delay=60)
            try:
                page.locator(".jp-GhostText").wait_for(timeout=10_000)
                ms = page.evaluate("window.codegenGhost - window.codegenKeys[window.codegenKeys.length - 1]")
                text = page.locator(".jp-GhostText").text_content()
            except PlaywrightTimeout:
                ms, text = None, None
            rows.append({"round": round_, "prefix": prefix, "ms": ms, "suggestion": text})
            print(f"{prefix!r:24} {'no suggestion' if ms is None else f'{ms:7.0f} ms'}  {text!r}", flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="default")
    parser.add_argument("--rounds", type=int, default=2, help="times through the prefixes (the first warms up)")
    parser.add_argument("--out", default=str(HERE / "results" / "ghost-text-latency.json"))
    args = parser.parse_args(argv)

    import test_lab_browser as lab_tests

    with tempfile.TemporaryDirectory() as tmp:
        lab = lab_tests.running_lab(Path(tmp), args.model)
        session = next(lab)
        rows: list[dict] = []
        try:
            lab_tests.in_browser(session, "ghost.ipynb", lab_tests.SALES, "",
                                 check=lambda nb: rows.extend(measure(nb, PREFIXES, args.rounds)))
        finally:
            lab.close()
    warm = [r["ms"] for r in rows if r["ms"] is not None and r["round"] > 0] or [r["ms"] for r in rows if r["ms"] is not None]
    summary = {
        "model": args.model,
        "debounce_ms": DEBOUNCE_MS,
        "median_ms": round(statistics.median(warm), 1) if warm else None,
        "max_ms": round(max(warm), 1) if warm else None,
        "suggested": sum(r["ms"] is not None for r in rows),
        "typed": len(rows),
        "rows": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(summary, indent=1) + "\n")
    print(f"median keystroke to ghost text {summary['median_ms']} ms (debounce {DEBOUNCE_MS} ms included), "
          f"{summary['suggested']}/{summary['typed']} prefixes got a suggestion; {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
