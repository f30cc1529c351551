"""Building the real-code corpus: sources -> filtered, deduplicated, decontaminated JSONL documents.

Each document is one JSON line ``{"text", "source", "kind", "path"}``:

- ``kind="file"``: a Python source file, ``<| file ext=.py |>\\n{code}\\n<|/ file |>``;
- ``kind="doctest-notebook"``: a docstring's examples as a notebook (see `doctests`);
- ``kind="notebook"``: an .ipynb notebook shipped in an sdist (see `notebooks`);
- ``kind="tutorial-notebook"``: a section of a library's user guide as a notebook (see `tutorials`).

Every document passes the same gates in order: quality filters (`filters.quality_reason`), e-mail scrubbing, exact
deduplication across all sources, then decontamination against the evaluation benchmarks. What each gate dropped is
counted in the stats, per source and per reason.
"""

from __future__ import annotations

import ast
import json
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from jupyter_codegen.notebook_document import FILE_CLOSE

from . import debian_docs, doctests, filters, notebooks, sources, tutorials
from .decontaminate import Benchmarks, load_benchmarks

FILE_OPEN = "<| file ext=.py |>\n"

SLICE_MODULES = (
    "statistics.py", "fractions.py", "textwrap.py", "csv.py", "heapq.py", "bisect.py", "difflib.py",
    "json/__init__.py", "json/encoder.py", "json/decoder.py", "collections/__init__.py", "string.py",
    "calendar.py", "shlex.py", "base64.py", "pprint.py", "operator.py", "glob.py", "fnmatch.py",
    "contextlib.py", "dataclasses.py", "enum.py", "functools.py", "ipaddress.py",
)
"""The --slice corpus: these standard-library modules only (no network), in this order, capped at SLICE_BYTES."""
SLICE_BYTES = 400_000
SAMPLES_PER_REASON = 5


def file_document(code: str) -> str:
    return f"{FILE_OPEN}{code.rstrip()}\n{FILE_CLOSE}"


@dataclass
class SourceStats:
    files_seen: int = 0
    py_files_kept: int = 0
    documents: int = 0
    bytes: int = 0
    kinds: Counter = field(default_factory=Counter)
    kind_bytes: Counter = field(default_factory=Counter)
    doctest_blocks: int = 0
    doctest_examples: int = 0
    notebooks: int = 0
    dropped: Counter = field(default_factory=Counter)
    emails_replaced: int = 0
    samples: dict = field(default_factory=dict)
    """reason -> the first few paths dropped for it, to audit the filters."""

    def drop(self, reason: str, path: str, detail: str | None = None) -> None:
        self.dropped[reason] += 1
        kept = self.samples.setdefault(reason, [])
        if len(kept) < SAMPLES_PER_REASON:
            kept.append(f"{path}: {detail}" if detail else path)

    def as_dict(self) -> dict:
        return {
            "files_seen": self.files_seen,
            "py_files_kept": self.py_files_kept,
            "documents": self.documents,
            "bytes": self.bytes,
            "documents_by_kind": dict(self.kinds),
            "bytes_by_kind": dict(self.kind_bytes),
            "doctest_blocks": self.doctest_blocks,
            "doctest_examples": self.doctest_examples,
            "notebooks": self.notebooks,
            "dropped": dict(sorted(self.dropped.items())),
            "emails_replaced": self.emails_replaced,
            "dropped_samples": self.samples,
        }


class CorpusWriter:
    """Applies the gates shared by every document and writes the survivors."""

    def __init__(self, out, benchmarks: Benchmarks | None, max_bytes: int | None) -> None:
        self.out = out
        self.benchmarks = benchmarks
        self.max_bytes = max_bytes
        self.dedup = filters.Deduplicator()
        self.total_bytes = 0
        self.full = False
        self.decontaminated: Counter = Counter()
        self.contaminated_items: Counter = Counter()

    def add(self, st: SourceStats, source: str, kind: str, path: str, text: str, key: str | None = None) -> bool:
        """Write one document unless a gate drops it; `key` is the text deduplicated (the code of a file)."""
        if self.full:
            st.dropped["budget"] += 1  # not sampled: after the budget everything is dropped
            return False
        if self.dedup.seen(key if key is not None else text):
            st.drop(f"{kind}:duplicate", path)
            return False
        if self.benchmarks is not None:
            hits = self.benchmarks.check(text)
            if hits:
                st.drop(f"{kind}:contaminated-{hits[0].kind}", path, f"{hits[0].benchmark}: {hits[0].detail}")
                self.decontaminated[hits[0].kind] += 1
                self.contaminated_items[hits[0].benchmark] += 1
                return False
        line = json.dumps({"text": text, "source": source, "kind": kind, "path": path}, ensure_ascii=False)
        size = len(text.encode("utf-8", "surrogatepass"))
        self.out.write(line + "\n")
        self.total_bytes += size
        st.documents += 1
        st.bytes += size
        st.kinds[kind] += 1
        st.kind_bytes[kind] += size
        if self.max_bytes is not None and self.total_bytes >= self.max_bytes:
            self.full = True
        return True


def _decode(raw: bytes) -> str | None:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    return text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")


def process_python(writer: CorpusWriter, st: SourceStats, source: str, path: str, text: str) -> None:
    st.files_seen += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like in old code
            tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        st.drop("file:syntax", path)
        return
    reason = filters.quality_reason(text)
    if reason:
        st.drop(f"file:{reason}", path)
    else:
        clean, n = filters.replace_emails(text)
        st.emails_replaced += n
        if writer.add(st, source, "file", path, file_document(clean), key=clean):
            st.py_files_kept += 1
    if reason in ("copyleft-header", "autogenerated", "data-dump"):
        return  # nothing from such a file, examples included
    for nb in doctests.mine(tree):
        text_nb, n = filters.replace_emails(nb.text)
        why = filters.quality_reason(text_nb, check_licence=False, check_autogen=False)
        if why and why != "too-small":
            st.drop(f"doctest-notebook:{why}", f"{path}::{nb.qualname}")
            continue
        if writer.add(st, source, "doctest-notebook", f"{path}::{nb.qualname}", text_nb):
            st.emails_replaced += n
            st.doctest_blocks += 1
            st.doctest_examples += nb.examples


def process_notebook(writer: CorpusWriter, st: SourceStats, source: str, path: str, raw: str) -> None:
    st.files_seen += 1
    text = notebooks.convert(raw)
    if text is None:
        st.drop("notebook:unreadable-or-empty", path)
        return
    text, n = filters.replace_emails(text)
    why = filters.quality_reason(text, check_autogen=False)
    if why:
        st.drop(f"notebook:{why}", path)
        return
    if writer.add(st, source, "notebook", path, text):
        st.emails_replaced += n
        st.notebooks += 1


def process_tutorial(writer: CorpusWriter, st: SourceStats, source: str, path: str, rst: str) -> None:
    st.files_seen += 1
    for nb in tutorials.convert(rst):
        where = f"{path}::{nb.section}" if nb.section else path
        text, n = filters.replace_emails(nb.text)
        why = filters.quality_reason(text, check_licence=False, check_autogen=False)
        if why and why != "too-small":
            st.drop(f"tutorial-notebook:{why}", where)
            continue
        if writer.add(st, source, "tutorial-notebook", where, text):
            st.emails_replaced += n


def process_source(writer: CorpusWriter, src: sources.Source, only: tuple[str, ...] | None = None,
                   max_bytes: int | None = None) -> SourceStats:
    st = SourceStats()
    if only is not None and src.root is not None:  # the slice: just these paths, in this order
        files = [(p, (src.root / p).read_bytes()) for p in only if (src.root / p).is_file()]
    elif only is not None:
        wanted = {p: i for i, p in enumerate(only)}
        files = sorted((f for f in src.iter_files() if f[0] in wanted), key=lambda f: wanted[f[0]])
    else:
        files = src.iter_files()
    start = writer.total_bytes
    for path, raw in files:
        if writer.full or (max_bytes is not None and writer.total_bytes - start >= max_bytes):
            break
        text = _decode(raw)
        if text is None:
            st.files_seen += 1
            st.drop("encoding", path)
            continue
        if path.endswith(".ipynb"):
            process_notebook(writer, st, src.name, path, text)
        elif path.endswith(".rst.txt"):
            process_tutorial(writer, st, src.name, path, text)
        else:
            process_python(writer, st, src.name, path, text)
    return st


def build(
    out_dir: str | Path,
    packages: list[str] | tuple[str, ...] = sources.DEFAULT_PACKAGES,
    cache: str | Path = ".cache/corpus",
    max_mb: float | None = None,
    max_source_mb: float | None = None,
    slice_: bool = False,
    data_dir: str | Path | None = None,
    record_dir: str | Path | None = None,
    include_stdlib: bool = True,
    sdists: bool = True,
    extra_sources: list[sources.Source] | None = None,
    doc_packages: list[str] | tuple[str, ...] = (),
    log=print,
) -> dict:
    """Write ``corpus.jsonl``, ``stats.json``, ``manifest.json`` and ``NOTICE.md`` into `out_dir` (and the last two
    into `record_dir` when given). Returns the stats."""
    t0 = time.time()
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    benchmarks = load_benchmarks(data_dir)
    max_bytes = int(max_mb * 1_000_000) if max_mb else None
    all_sources: list[sources.Source] = []
    if include_stdlib or slice_:
        all_sources.append(sources.stdlib_source())
    skipped: list[dict] = []
    fetches = [] if slice_ else (
        [(pkg, lambda pkg: sources.fetch(pkg, Path(cache), log=log, sdist=sdists)) for pkg in packages]
        + [(pkg, lambda pkg: debian_docs.fetch(pkg, Path(cache), log=log)) for pkg in doc_packages])
    for pkg, fetch in fetches:
        log(f"fetching {pkg}")
        try:
            src = fetch(pkg)
        except RuntimeError as e:
            skipped.append({"name": pkg, "reason": str(e)})
            log(f"  skipped: {e}")
            continue
        if not src.licence:
            skipped.append({**src.record(), "reason": "; ".join(src.notes)})
            log(f"  skipped, licence not permissive or unclear: {src.notes}")
            continue
        log(f"  {src.name} {src.version}: {src.licence} ({src.licence_field}); {src.method}")
        all_sources.append(src)
    all_sources.extend(extra_sources or [])

    per_source: dict[str, dict] = {}
    manifest_sources = []
    with open(out_dir / "corpus.jsonl", "w", encoding="utf-8") as out:
        writer = CorpusWriter(out, benchmarks, max_bytes)
        for src in all_sources:
            ts = time.time()
            in_slice = slice_ and src.name == sources.STDLIB
            cap = SLICE_BYTES if in_slice else (int(max_source_mb * 1_000_000) if max_source_mb else None)
            st = process_source(writer, src, only=SLICE_MODULES if in_slice else None, max_bytes=cap)
            per_source[src.name] = st.as_dict()
            manifest_sources.append({**src.record(), **{k: v for k, v in st.as_dict().items()
                                                        if k not in ("dropped", "dropped_samples")}})
            log(f"{src.name}: {st.documents} documents, {st.bytes / 1e6:.1f} MB "
                f"({st.doctest_blocks} doctest notebooks, {st.notebooks} notebooks) in {time.time() - ts:.0f}s")
            if writer.full:
                log(f"stopping: --max-mb {max_mb} reached")
                break

    totals = Counter()
    dropped = Counter()
    kinds = Counter()
    for s in per_source.values():
        for k in ("documents", "bytes", "doctest_blocks", "doctest_examples", "notebooks", "emails_replaced",
                  "files_seen", "py_files_kept"):
            totals[k] += s[k]
        dropped.update(s["dropped"])
        kinds.update(s["documents_by_kind"])
    stats = {
        "documents": totals["documents"],
        "bytes": totals["bytes"],
        "documents_by_kind": dict(kinds),
        "doctest_blocks": totals["doctest_blocks"],
        "doctest_examples": totals["doctest_examples"],
        "notebooks": totals["notebooks"],
        "files_seen": totals["files_seen"],
        "py_files_kept": totals["py_files_kept"],
        "emails_replaced": totals["emails_replaced"],
        "dropped": dict(sorted(dropped.items())),
        "decontamination": {
            "dropped": dict(writer.decontaminated),
            "benchmark_items": dict(writer.contaminated_items.most_common()),
        },
        "by_source": per_source,
        "skipped_sources": skipped,
        "slice": slice_,
        "max_mb": max_mb,
        "max_source_mb": max_source_mb,
        "budget_reached": writer.full,
        "seconds": round(time.time() - t0, 1),
    }
    (out_dir / "stats.json").write_text(json.dumps(stats, indent=2) + "\n")
    manifest = {"sources": manifest_sources, "skipped": skipped,
                "accepted_licences": sorted(sources.PERMISSIVE), "slice": slice_}
    notice = notice_text(manifest_sources, skipped)
    for folder in [out_dir] + ([Path(record_dir)] if record_dir else []):
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        (folder / "NOTICE.md").write_text(notice)
    return stats


def notice_text(manifest_sources: list[dict], skipped: list[dict]) -> str:
    lines = [
        "# Third-party code in the embedded model's training data",
        "",
        "The embedded model was trained on (among synthetic data) the following code, each under its own",
        "permissive licence, read from the package's own metadata when the corpus was built",
        "(`python -m model.corpus`). Files whose own header names a copyleft licence and vendored folders were",
        "left out. Copyright notices inside the files were kept as they are; e-mail addresses were replaced.",
        "",
        "| source | version | licence | metadata said | obtained as | documents | bytes |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in manifest_sources:
        said = f"{s['licence_field']}: {s.get('licence_metadata') or ''}".replace("|", "/")
        lines.append(f"| {s['name']} | {s['version']} | {s['licence']} | {said} | {s['method']} "
                     f"| {s['documents']} | {s['bytes']} |")
    if skipped:
        lines += ["", "Left out:", ""]
        for s in skipped:
            lines.append(f"- {s['name']}: {s['reason']}")
    lines += [
        "",
        "The Python standard library is distributed under the PSF License Agreement (PSF-2.0); the packages' licence",
        "texts are in their source distributions and wheels as published on PyPI.",
        "",
    ]
    return "\n".join(lines)
