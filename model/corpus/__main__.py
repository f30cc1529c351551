"""Command line: ``python -m model.corpus --out DIR [--packages ...] [--max-mb N] [--slice] [--cache DIR]``.

    python -m model.corpus --out model/data/corpus-slice --slice          # CI: ~400 KB of stdlib, no network
    python -m model.corpus --out model/data/corpus                        # stdlib + DEFAULT_PACKAGES
    python -m model.corpus --out model/data/corpus --packages pandas seaborn --max-mb 100
    python -m model.corpus --out model/data/tutorials --no-stdlib --packages --docs python-pandas-doc
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .build import build
from .debian_docs import DEFAULT_DOC_PACKAGES, DOC_PACKAGES
from .sources import DEFAULT_PACKAGES

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m model.corpus",
        description="Build the real-code part of the embedded model's training data (permissive licences only).",
    )
    p.add_argument("--out", required=True, help="folder for corpus.jsonl, stats.json, manifest.json, NOTICE.md")
    p.add_argument("--packages", nargs="*", default=list(DEFAULT_PACKAGES),
                   help="PyPI packages (name or name==version) to add to the standard library "
                        f"(default: {' '.join(DEFAULT_PACKAGES)}); give none for the standard library only")
    p.add_argument("--docs", nargs="*", default=list(DEFAULT_DOC_PACKAGES), choices=sorted(DOC_PACKAGES),
                   help="Debian documentation packages whose user guides become notebooks "
                        f"(default: {' '.join(DEFAULT_DOC_PACKAGES)}); give none to leave them out")
    p.add_argument("--max-mb", type=float, default=None, help="stop once the corpus holds this many MB of text")
    p.add_argument("--max-source-mb", type=float, default=None,
                   help="at most this many MB from any one source (keeps one big package from dominating)")
    p.add_argument("--slice", action="store_true",
                   help="a small deterministic corpus (a few hundred KB of standard library, no network) for CI")
    p.add_argument("--cache", default=".cache/corpus", help="downloads are kept and reused here (default %(default)s)")
    p.add_argument("--data", default=None, help="benchmark folder for decontamination (default: shared/data)")
    p.add_argument("--no-stdlib", action="store_true", help="leave the standard library out")
    p.add_argument("--wheels-only", action="store_true", help="use wheels, not sdists (no notebooks, no examples)")
    p.add_argument("--record", choices=("auto", "yes", "no"), default="auto",
                   help="also write manifest.json and NOTICE.md into model/corpus/ (auto: for full builds only)")
    a = p.parse_args(argv)
    record = a.record == "yes" or (a.record == "auto" and not a.slice)
    stats = build(
        a.out,
        packages=a.packages,
        cache=a.cache,
        max_mb=a.max_mb,
        max_source_mb=a.max_source_mb,
        slice_=a.slice,
        data_dir=a.data,
        record_dir=HERE if record else None,
        include_stdlib=not a.no_stdlib,
        sdists=not a.wheels_only,
        doc_packages=a.docs,
        log=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    summary = {k: stats[k] for k in ("documents", "bytes", "documents_by_kind", "doctest_blocks", "doctest_examples", "notebooks",
                                     "dropped", "decontamination", "seconds")}
    summary["by_source"] = {k: {"documents": v["documents"], "bytes": v["bytes"]} for k, v in stats["by_source"].items()}
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
