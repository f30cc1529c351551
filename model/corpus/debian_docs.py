"""Documentation sources from Debian: a library's user guide as reStructuredText, with its licence.

PyPI's sdists of pandas and its kind carry no ``doc/`` folder, and the projects' repositories cannot be reached
from here; Debian's ``*-doc`` packages can. Their Sphinx builds keep every page's source under
``html/_sources/*.rst.txt``, and each package's ``copyright`` file (machine-readable DEP-5) states the licence of
``Files: *``. The package is fetched with apt's own client (``apt-get download``, no root needed) and unpacked
with ``dpkg-deb``; nothing is installed. Only pages written for users are read (`DOC_PACKAGES`): API reference
pages repeat the docstrings the corpus already mines, and release notes and contributor guides are not about
using the library.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .sources import PERMISSIVE, Source


@dataclass(frozen=True)
class DocPackage:
    package: str
    """The Debian binary package."""
    name: str
    """The source's name in the manifest."""
    doc_folder: str
    """Under ``usr/share/doc/``: the package's documentation folder."""
    include: tuple[str, ...]
    """Folders under ``html/_sources`` to read."""
    exclude: tuple[str, ...] = ()


DOC_PACKAGES = {
    "python-pandas-doc": DocPackage(
        "python-pandas-doc", "pandas-docs", "python-pandas-doc", ("getting_started", "user_guide"),
        # Debian's copyright: the cookbook holds Stack Overflow snippets (CC-BY-SA); Debian patches it out, and it
        # is never read here whatever the package holds.
        exclude=("user_guide/cookbook.rst.txt",),
    ),
}
DEFAULT_DOC_PACKAGES = ("python-pandas-doc",)

_DEBIAN_LICENCE = {  # DEP-5 short names -> SPDX
    "bsd-3": "BSD-3-Clause", "bsd-3-clause": "BSD-3-Clause", "bsd-2": "BSD-2-Clause", "bsd-2-clause": "BSD-2-Clause",
    "expat": "MIT", "mit": "MIT", "apache-2.0": "Apache-2.0", "psf-2": "PSF-2.0", "psf-2.0": "PSF-2.0",
    "isc": "ISC", "zlib": "Zlib", "cc0-1.0": "CC0-1.0", "public-domain": "",
}


def licence_of_copyright(copyright_text: str) -> tuple[str | None, str]:
    """(SPDX licence of ``Files: *``, what the file said) from a DEP-5 copyright file; None when it is not a
    permissive licence or the file does not say."""
    for stanza in re.split(r"\n\s*\n", copyright_text):
        fields = dict(re.findall(r"^([\w-]+):[ \t]*(.*)$", stanza, re.MULTILINE))
        if fields.get("Files", "").split() == ["*"] and fields.get("License"):
            said = fields["License"].strip()
            terms = [t.strip() for t in re.split(r"\s+and\s+|\s+or\s+", said, flags=re.I)]
            spdx = [_DEBIAN_LICENCE.get(t.lower()) for t in terms]
            if not all(spdx) or " or " in said.lower():
                return None, said
            if not all(s in PERMISSIVE for s in spdx):
                return None, said
            return " AND ".join(dict.fromkeys(spdx)), said
    return None, "no License for Files: * in the copyright file"


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def fetch(package: str, cache: Path, log=print) -> Source:
    """The documentation package unpacked under `cache`/debian, as a source of its user-facing pages.

    Raises RuntimeError when apt cannot download it or it is not a known documentation package."""
    if package not in DOC_PACKAGES:
        raise RuntimeError(f"{package}: not a known documentation package (known: {', '.join(DOC_PACKAGES)})")
    spec = DOC_PACKAGES[package]
    folder = Path(cache) / "debian"
    folder.mkdir(parents=True, exist_ok=True)
    debs = sorted(folder.glob(f"{package}_*.deb"))
    method = "Debian package (apt-get download; reused from the cache)"
    if not debs:
        r = _run(["apt-get", "download", package], cwd=folder)
        debs = sorted(folder.glob(f"{package}_*.deb"))
        if not debs:
            tail = (r.stderr.strip().splitlines() or ["?"])[-1]
            raise RuntimeError(f"{package}: apt-get download failed ({tail[:200]})")
        method = "Debian package (apt-get download)"
    deb = debs[-1]
    version = _run(["dpkg-deb", "-f", str(deb), "Version"]).stdout.strip()
    unpacked = folder / deb.stem
    if not (unpacked / "usr").is_dir():
        r = _run(["dpkg-deb", "-x", str(deb), str(unpacked)])
        if r.returncode != 0:
            raise RuntimeError(f"{package}: dpkg-deb could not unpack {deb.name} ({r.stderr.strip()[:200]})")
    doc = unpacked / "usr" / "share" / "doc" / spec.doc_folder
    copyright_file = doc / "copyright"
    said = copyright_file.read_text(encoding="utf-8") if copyright_file.is_file() else ""
    licence, what = licence_of_copyright(said)
    src = Source(spec.name, version, licence or "", "Debian copyright (Files: *)", method, licence_metadata=what,
                 archive=deb, root=doc / "html" / "_sources", suffixes=(".rst.txt",), include=spec.include,
                 exclude=spec.exclude)
    if licence is None:
        src.notes.append(f"licence not accepted: {what!r}")
    if not src.root.is_dir():
        raise RuntimeError(f"{package}: no html/_sources in {deb.name}; the package no longer ships page sources")
    log(f"  {spec.name}: the pages under {', '.join(spec.include)} of {deb.name}")
    return src
