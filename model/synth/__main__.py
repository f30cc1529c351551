"""python -m model.synth --out FILE --n N --seed S --workers W

Writes N conversations' documents as JSONL (one document per line, in index order, the same for any W), and a
stats file beside it (FILE + ".stats.json": kept and dropped turns per operation, and why).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path

from .runner import init_worker, work_item

def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.synth", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="JSONL file to write, or a folder (synth.jsonl is written inside)")
    ap.add_argument("--n", type=int, required=True, help="number of conversations")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--start", type=int, default=0, help="first conversation index (to extend a set)")
    ap.add_argument("--per-turn", action="store_true", help="one document per kept turn instead of one per conversation")
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    from .runner import Stats

    out = Path(args.out)
    if out.is_dir() or not out.suffix:  # a folder: write synth.jsonl inside (as model/smoke.py expects)
        out.mkdir(parents=True, exist_ok=True)
        out = out / "synth.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")
    stats = Stats()
    jobs = [(i, args.seed, args.per_turn) for i in range(args.start, args.start + args.n)]
    t0 = time.time()
    written = 0
    with open(tmp, "w", encoding="utf-8") as fh:
        if args.workers <= 1:
            init_worker()
            results = map(work_item, jobs)
            pool = None
        else:
            ctx = mp.get_context("fork" if sys.platform != "win32" else "spawn")
            pool = ctx.Pool(args.workers, initializer=init_worker)
            results = pool.imap(work_item, jobs, chunksize=8)
        try:
            for k, res in enumerate(results, 1):
                stats.merge(res.stats)
                for doc in res.documents:
                    fh.write(json.dumps(doc, ensure_ascii=False) + "\n")
                    written += 1
                if not args.quiet and (k % 500 == 0 or k == len(jobs)):
                    dt = time.time() - t0
                    print(f"{k}/{len(jobs)} conversations, {written} documents, {k / dt:.1f} conv/s", file=sys.stderr)
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    os.replace(tmp, out)
    elapsed = time.time() - t0
    summary = stats.as_dict()
    summary.update({"seconds": round(elapsed, 1), "conversations_per_second": round(len(jobs) / max(elapsed, 1e-9), 2),
                    "workers": args.workers, "seed": args.seed, "n": args.n, "start": args.start})
    Path(str(out) + ".stats.json").write_text(json.dumps(summary, indent=1) + "\n")
    if not args.quiet:
        print(format_stats(summary), file=sys.stderr)
    return 0


def format_stats(summary: dict) -> str:
    lines = [f"{summary['conversations']} conversations -> {summary['documents']} documents "
             f"({summary['no_document']} with no kept turn), {summary.get('conversations_per_second', '?')} conv/s"]
    lines.append(f"{'op':<20}{'tried':>7}{'kept':>7}{'drop%':>7}  why")
    for op, row in sorted(summary["ops"].items(), key=lambda kv: -kv[1]["tried"]):
        pct = 100 * row["dropped"] / max(1, row["tried"])
        lines.append(f"{op:<20}{row['tried']:>7}{row['kept']:>7}{pct:>6.1f}%  {row['why']}")
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
