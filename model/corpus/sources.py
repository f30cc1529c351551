"""Where the real code comes from, and under which licence.

- The CPython standard library of the running interpreter (PSF-2.0), read from ``sysconfig.get_paths()["stdlib"]``
  (``site-packages`` and other installed packages are never read from there).
- Packages from PyPI, fetched with pip's own client only (``pip download --no-deps``). A source distribution is
  preferred: it adds examples, tutorials and notebooks to the package's code. Before pip saves an sdist it asks the
  sdist's build backend for metadata, and the backends of compiled packages (meson-python for numpy, scipy, pandas,
  scikit-learn, matplotlib; setuptools with Cython for statsmodels) cannot run here, so ``pip download
  --no-binary :all:`` fails for them. The fix: ``--no-build-isolation`` with a folder first on PYTHONPATH in which
  every common backend name (mesonpy, setuptools.build_meta, flit_core.buildapi, ...) is a metadata-only stub that
  returns the sdist's own PKG-INFO; nothing is built. (pip's HTTP cache, another way to keep the archive after the
  failure, stores nothing on this machine.) If no sdist can be had, the wheel (``--only-binary :all:``) is used;
  wheels always carry the package's ``.py`` files. Downloads live under the cache folder and are reused.

A package's licence is read from its own metadata (PKG-INFO or the wheel's METADATA): ``License-Expression``
(an SPDX expression) when present, else the ``License ::`` classifiers, else the free-text ``License`` field.
Only permissive licences are accepted (`PERMISSIVE`); anything else, or anything unclear, is skipped and recorded.
"""

from __future__ import annotations

import email.parser
import io
import os
import re
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PACKAGES = (
    "pandas",
    "numpy",
    "matplotlib",
    "seaborn",
    "scikit-learn",
    "scipy",
    "statsmodels",
    "networkx",
    "sympy",
    "requests",
)
"""BSD, MIT, PSF and Apache-2.0 packages of the data-exploration world (each licence is still checked at build)."""

PERMISSIVE = {
    "MIT", "MIT-0", "BSD-2-Clause", "BSD-3-Clause", "BSD-3-Clause-Clear", "0BSD", "Apache-2.0", "PSF-2.0",
    "Python-2.0", "Python-2.0.1", "ISC", "Zlib", "CC0-1.0", "Unlicense", "BSL-1.0", "NCSA", "X11",
}
"""SPDX identifiers accepted: no copyleft, no field-of-use or share-alike clause."""
_CLASSIFIER = {
    "MIT License": "MIT",
    "BSD License": "BSD",
    "Apache Software License": "Apache-2.0",
    "Python Software Foundation License": "PSF-2.0",
    "ISC License (ISCL)": "ISC",
    "zlib/libpng License": "Zlib",
    "The Unlicense (Unlicense)": "Unlicense",
    "Boost Software License 1.0 (BSL-1.0)": "BSL-1.0",
    "MIT No Attribution License (MIT-0)": "MIT-0",
    "CC0 1.0 Universal (CC0 1.0) Public Domain Dedication": "CC0-1.0",
}
_FREE_TEXT = [  # first words of a free-text License field -> SPDX-like name
    (re.compile(r"\bnew BSD\b|\bmodified BSD\b|\bBSD[- ]?3|3-clause BSD|\bBSD\b.*\b3\b", re.I), "BSD-3-Clause"),
    (re.compile(r"\bBSD[- ]?2|2-clause BSD|simplified BSD", re.I), "BSD-2-Clause"),
    (re.compile(r"^\s*BSD\b|\bBSD License\b", re.I), "BSD"),
    (re.compile(r"^\s*MIT\b|\bMIT License\b", re.I), "MIT"),
    (re.compile(r"Apache(?: License)?,? (?:Version )?2\.0|Apache[- ]2", re.I), "Apache-2.0"),
    (re.compile(r"\bPSF\b|Python Software Foundation", re.I), "PSF-2.0"),
]
_COPYLEFT = re.compile(r"\b[AL]?GPL|General Public|\bMPL|Mozilla|\bEUPL|\bCDDL|\bEPL\b|Eclipse Public|\bSSPL", re.I)

STDLIB = "python-stdlib"
_SKIP_DIRS = {"site-packages", "dist-packages", "__pycache__", ".git", "_bundled", "lib-dynload"}
_VENDORED = {"_vendor", "vendor", "vendored", "_vendored", "externals", "_externals", "extern", "_extern", "contrib_vendored"}
"""Folders that hold other projects' code under their own licences: never read."""
_STDLIB_SKIP = {"test/data", "lib2to3/tests/data", "test/test_lib2to3/data", "test/tracedmodules", "idlelib/idle_test"}


@dataclass
class Source:
    name: str
    version: str
    licence: str
    licence_field: str
    """Where the licence was read: "License-Expression", "Classifier", "License", or "interpreter"."""
    method: str
    licence_metadata: str = ""
    """What the metadata field said, verbatim (a classifier such as "BSD License" is less precise than SPDX)."""
    archive: Path | None = None
    root: Path | None = None
    notes: list[str] = field(default_factory=list)
    suffixes: tuple[str, ...] = (".py", ".ipynb")
    """The files read: code and notebooks for packages, reStructuredText for a documentation source."""
    include: tuple[str, ...] = ()
    """When given, only paths under these folders are read."""
    exclude: tuple[str, ...] = ()
    """Paths never read (e.g. a page under another licence)."""

    def iter_files(self, suffixes: tuple[str, ...] | None = None) -> Iterator[tuple[str, bytes]]:
        """(path inside the source, raw bytes) of every file with one of the suffixes, in a stable order."""
        suffixes = suffixes or self.suffixes
        if self.root is not None:
            files = _iter_dir(self.root, suffixes)
        elif self.archive is not None:
            files = _iter_archive(self.archive, suffixes)
        else:
            return
        for path, raw in files:
            if (not self.include or path.startswith(tuple(f"{d}/" for d in self.include))) and path not in self.exclude:
                yield path, raw

    def record(self) -> dict:
        return {
            "name": self.name,
            "version": self.version,
            "licence": self.licence,
            "licence_field": self.licence_field,
            "licence_metadata": self.licence_metadata,
            "method": self.method,
            "archive": self.archive.name if self.archive else None,
            "notes": self.notes,
        }


_VENDORED_PREFIXES = ("vendored", "_vendored", "vendor-", "subprojects", "third_party", "thirdparty", "3rdparty")


def _skipped(parts: tuple[str, ...]) -> bool:
    return any(p in _SKIP_DIRS or p in _VENDORED or p.lower().startswith(_VENDORED_PREFIXES) for p in parts[:-1])


def _iter_dir(root: Path, suffixes: tuple[str, ...]) -> Iterator[tuple[str, bytes]]:
    paths = []
    for path in root.rglob("*"):
        rel = path.relative_to(root)
        if not path.name.endswith(suffixes) or _skipped(rel.parts) or not path.is_file():
            continue
        rel_s = rel.as_posix()
        if any(rel_s.startswith(s + "/") for s in _STDLIB_SKIP):
            continue
        paths.append(rel_s)
    for rel_s in sorted(paths):
        yield rel_s, (root / rel_s).read_bytes()


def _iter_archive(archive: Path, suffixes: tuple[str, ...]) -> Iterator[tuple[str, bytes]]:
    if archive.name.endswith(".whl") or archive.suffix == ".zip":
        with zipfile.ZipFile(archive) as z:
            for name in sorted(z.namelist()):
                if name.endswith(suffixes) and not _skipped(tuple(name.split("/"))):
                    yield name, z.read(name)
        return
    with tarfile.open(archive) as t:
        members = sorted((m for m in t.getmembers() if m.isfile()), key=lambda m: m.name)
        for m in members:
            parts = tuple(m.name.split("/"))
            if m.name.endswith(suffixes) and not _skipped(parts):
                f = t.extractfile(m)
                if f is not None:
                    yield "/".join(parts[1:]) or m.name, f.read()


# --- the standard library --------------------------------------------------------------------------------------


def stdlib_source() -> Source:
    root = Path(sysconfig.get_paths()["stdlib"])
    version = ".".join(map(str, sys.version_info[:3]))
    return Source(STDLIB, version, "PSF-2.0", "interpreter", "stdlib",
                  licence_metadata="Python Software Foundation License Agreement (the interpreter's LICENSE)", root=root)


# --- licences ------------------------------------------------------------------------------------------------


def _spdx_ok(expr: str) -> bool:
    """An SPDX expression is permissive when every way of satisfying it needs only permissive licences: all terms
    of an AND, at least one of an OR (parentheses handled; ``WITH`` exceptions only add permissions)."""
    tokens = re.findall(r"\(|\)|[A-Za-z0-9.+:-]+", expr)
    pos = 0

    def term() -> bool:
        nonlocal pos
        if pos >= len(tokens):
            return False
        tok = tokens[pos]
        pos += 1
        if tok == "(":
            ok = disjunction()
            if pos < len(tokens) and tokens[pos] == ")":
                pos += 1
            return ok
        ok = tok.rstrip("+") in PERMISSIVE
        if pos < len(tokens) and tokens[pos].upper() == "WITH":
            pos += 2
        return ok

    def conjunction() -> bool:
        nonlocal pos
        ok = term()
        while pos < len(tokens) and tokens[pos].upper() == "AND":
            pos += 1
            ok = term() and ok
        return ok

    def disjunction() -> bool:
        nonlocal pos
        ok = conjunction()
        while pos < len(tokens) and tokens[pos].upper() == "OR":
            pos += 1
            ok = conjunction() or ok
        return ok

    result = disjunction()
    return result and pos == len(tokens)


def licence_of(metadata: str) -> tuple[str | None, str, str]:
    """(accepted licence or None, the field it came from, what the field said) for a PKG-INFO / METADATA text."""
    msg = email.parser.Parser().parsestr(metadata, headersonly=True)
    expr = (msg.get("License-Expression") or "").strip()
    if expr:
        return (expr if _spdx_ok(expr) else None), "License-Expression", expr
    classifiers = [c.split("::")[-1].strip() for c in msg.get_all("Classifier") or [] if c.startswith("License ::")]
    if classifiers:
        said = "; ".join(classifiers)
        names = [_CLASSIFIER.get(c) for c in classifiers]
        # Several licence classifiers usually mean "any of these" (dual licensing); all must be known permissive
        # to be safe, since the metadata does not say.
        if all(names):
            return " OR ".join(dict.fromkeys(n for n in names if n)), "Classifier", said
        return None, "Classifier", said
    text = (msg.get("License") or "").strip()
    head = text[:300]
    if head and not _COPYLEFT.search(head):
        for pattern, name in _FREE_TEXT:
            if pattern.search(head):
                return name, "License", head.splitlines()[0][:120]
    return None, "License", head.splitlines()[0][:120] if head else ""


def _archive_metadata(archive: Path) -> str:
    if archive.name.endswith(".whl"):
        with zipfile.ZipFile(archive) as z:
            name = next(n for n in z.namelist() if n.endswith(".dist-info/METADATA") and n.count("/") == 1)
            return z.read(name).decode("utf-8", "replace")
    with tarfile.open(archive) as t:
        for m in t.getmembers():
            if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO"):
                f = t.extractfile(m)
                return f.read().decode("utf-8", "replace") if f else ""
    return ""


def _name_version(archive: Path) -> tuple[str, str]:
    stem = archive.name
    if stem.endswith(".whl"):
        name, version = stem.split("-")[:2]
        return name, version
    stem = re.sub(r"\.(tar\.gz|tgz|tar\.bz2|tar\.xz|zip)$", "", stem)
    name, _, version = stem.rpartition("-")
    return name, version


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


# --- fetching with pip ---------------------------------------------------------------------------------------


def _pip(args: list[str], log, env: dict | None = None) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", *args]
    log("  $ " + " ".join(cmd[2:]))
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


_STUB_BACKEND = '''"""Metadata-only build backend used by model.corpus to download sdists with pip.

pip asks an sdist's build backend for the package's metadata before it saves the archive. The real backends of
compiled packages (meson-python, scikit-build-core, maturin...) cannot run here, and none needs to: an sdist carries
its own core metadata in PKG-INFO, which this backend hands back unchanged. It builds nothing.
"""
import os
import re


def _metadata():
    with open("PKG-INFO", encoding="utf-8") as f:
        return f.read()


def get_requires_for_build_wheel(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    text = _metadata()
    name = re.search(r"^Name: *(.+)$", text, re.M).group(1).strip()
    version = re.search(r"^Version: *(.+)$", text, re.M).group(1).strip()
    dist_info = re.sub(r"[-_.]+", "_", name) + "-" + version + ".dist-info"
    os.makedirs(os.path.join(metadata_directory, dist_info), exist_ok=True)
    with open(os.path.join(metadata_directory, dist_info, "METADATA"), "w", encoding="utf-8") as f:
        f.write(text)
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    raise RuntimeError("model.corpus only downloads sdists; it never builds them")


build_sdist = build_wheel


class _Legacy:
    get_requires_for_build_wheel = staticmethod(get_requires_for_build_wheel)
    prepare_metadata_for_build_wheel = staticmethod(prepare_metadata_for_build_wheel)
    build_wheel = staticmethod(build_wheel)


__legacy__ = _Legacy()
'''
_STUB_MODULES = (  # the build backends that sdists of the scientific Python world name
    "mesonpy", "flit_core.buildapi", "setuptools.build_meta", "hatchling.build", "maturin",
    "scikit_build_core.build", "poetry.core.masonry.api", "pdm.backend", "pdm.pep517.api", "flit.buildapi",
)


def _stub_backends(folder: Path) -> Path:
    """A folder to put first on PYTHONPATH where every common build backend is the metadata-only stub."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "_corpus_stub_backend.py").write_text(_STUB_BACKEND)
    for module in _STUB_MODULES:
        parts = module.split(".")
        pkg = folder.joinpath(*parts)
        pkg.mkdir(parents=True, exist_ok=True)
        for i in range(1, len(parts)):
            init = folder.joinpath(*parts[:i], "__init__.py")
            if not init.exists():
                init.write_text("")
        (pkg / "__init__.py").write_text("from _corpus_stub_backend import *  # noqa\n"
                                         "from _corpus_stub_backend import __legacy__  # noqa\n")
    return folder


def fetch(package: str, cache: Path, log=print, sdist: bool = True) -> Source:
    """The package's newest sdist (else wheel) under `cache`, with its licence read from its own metadata.

    Raises RuntimeError when neither can be downloaded.
    """
    cache = Path(cache)
    spec, package = package, re.match(r"[A-Za-z0-9_.\-]+", package).group()
    sdist_dir, wheel_dir = cache / "sdist", cache / "wheel"
    for d in (sdist_dir, wheel_dir):
        d.mkdir(parents=True, exist_ok=True)
    archive, method, notes = None, "", []

    def existing(folder: Path, pattern: str) -> Path | None:
        hits = [p for p in folder.iterdir() if _norm(_name_version(p)[0]) == _norm(package) and p.match(pattern)]
        return max(hits, key=lambda p: p.stat().st_mtime) if hits else None

    if sdist:
        archive = existing(sdist_dir, "*.tar.gz")
        if archive is not None:
            method = "sdist (pip download, metadata from its PKG-INFO; reused from the cache)"
        else:
            stubs = _stub_backends((cache / "stub-backends").resolve())
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(stubs), os.environ.get("PYTHONPATH")]))}
            r = _pip(["--no-binary", ":all:", "--no-build-isolation", "-d", str(sdist_dir), spec], log, env=env)
            archive = existing(sdist_dir, "*.tar.gz")
            if archive is not None:
                method = "sdist (pip download, metadata from its PKG-INFO)"
            else:
                tail = (r.stderr.strip().splitlines() or ["?"])[-1]
                notes.append(f"no sdist: {tail[:200]}")
    if archive is None:
        archive = existing(wheel_dir, "*.whl")
        if archive is not None:
            method = "wheel (pip download; reused from the cache)"
        else:
            r = _pip(["--only-binary", ":all:", "-d", str(wheel_dir), spec], log)
            archive = existing(wheel_dir, "*.whl")
            if archive is None:
                tail = (r.stderr.strip().splitlines() or ["?"])[-1]
                raise RuntimeError(f"{package}: neither sdist nor wheel could be downloaded ({tail[:200]})")
            method = "wheel (pip download)"
    name, version = _name_version(archive)
    licence, where, said = licence_of(_archive_metadata(archive))
    src = Source(package, version, licence or "", where, method, licence_metadata=said, archive=archive, notes=notes)
    if licence is None:
        src.notes.append(f"licence not accepted: {where}: {said!r}")
    return src
