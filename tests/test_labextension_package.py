"""The JupyterLab extension's package (labextension/) against the Python side: the protocol constants both sides
spell, the pin to the installed JupyterLab, and the install that puts the built extension where JupyterLab looks."""

from __future__ import annotations

import json
import re
from importlib.metadata import version
from pathlib import Path

from jupyter_core.paths import jupyter_path

from jupyter_codegen import frontend_protocol as protocol

ROOT = Path(__file__).resolve().parent.parent
EXTENSION = ROOT / "labextension"
PACKAGE = json.loads((EXTENSION / "package.json").read_text())


def ts_constant(name: str) -> object:
    match = re.search(rf"export const {name} = (.+);", (EXTENSION / "src" / "protocol.ts").read_text())
    assert match, name
    return json.loads(match.group(1).replace("'", '"'))


def test_the_typescript_side_spells_the_protocol_as_the_python_side():
    for name in ("PROTOCOL_VERSION", "COMM_TARGET", "CELLS_MIME", "CELL_METADATA_KEY", "INSERT_CELLS", "REPLACE_SOURCE"):
        assert ts_constant(name) == getattr(protocol, name), name


def test_the_package_builds_into_the_python_package_under_the_name_jupyterlab_lists():
    assert PACKAGE["name"] == "jupyter-codegen"
    assert PACKAGE["jupyterlab"]["outputDir"] == "../jupyter_codegen/labextension"
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"jupyter_codegen/labextension" = "share/jupyter/labextensions/jupyter-codegen"' in pyproject


def test_the_jupyterlab_packages_are_pinned_to_the_installed_jupyterlab():
    lab = version("jupyterlab")  # pinned in the dev extra
    for name in ("@jupyterlab/application", "@jupyterlab/notebook", "@jupyterlab/cells"):
        assert PACKAGE["dependencies"][name] == f"~{lab}", name


def test_the_install_put_the_built_extension_where_jupyterlab_looks():
    found = [Path(p) / "jupyter-codegen" for p in jupyter_path("labextensions")]
    built = [p for p in found if (p / "package.json").exists()]
    assert built, f"no built jupyter-codegen extension in {found}: reinstall with `pip install -e '.[dev]'`"
    load = json.loads((built[0] / "package.json").read_text())["jupyterlab"]["_build"]["load"]
    assert (built[0] / load).exists()


def test_the_extension_has_the_version_of_the_python_package():
    from jupyter_codegen import __version__

    assert PACKAGE["version"] == __version__
    index = (EXTENSION / "src" / "index.ts").read_text()
    assert f"const EXTENSION_VERSION = '{__version__}';" in index
