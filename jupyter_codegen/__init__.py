"""jupyter-codegen: write a notebook by talking to it.

`%load_ext jupyter_codegen` registers the `%%codegen` and `%%infill` magics; as a Jupyter server extension
(enabled on install) it hosts one shared copy of the model for every kernel of the server.
"""

__version__ = "0.1.0"


def load_ipython_extension(ipython):  # pragma: no cover - thin IPython hook
    from .magics import load_ipython_extension as _load

    _load(ipython)


def unload_ipython_extension(ipython):  # pragma: no cover - thin IPython hook
    from .magics import unload_ipython_extension as _unload

    _unload(ipython)


def _jupyter_server_extension_points():
    """The server extension's module (jupyter_server reads this to load it)."""
    return [{"module": "jupyter_codegen.server_extension"}]
