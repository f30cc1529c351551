"""The Jupyter server extension: one EngineService per server, so every kernel and the sidebar chat of that server
share one copy of each model; chat questions go into the same per-notebook conversation files as the magics' turns.

Enabled by jupyter-config/jupyter_server_config.d/jupyter_codegen.json, which `pip install` puts in
etc/jupyter. The server's own CodeGen config (e.g. `c.CodeGen.model` in jupyter_server_config.py) gives the
model and settings for clients that do not name them; kernels always name theirs. Nothing is loaded until the first
request, so a server whose users never ask for code pays nothing.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.utils import url_path_join

from . import handlers, wire
from .config import CodeGen
from .engine_service import EngineService


def _load_jupyter_server_extension(serverapp: Any) -> None:
    settings = CodeGen(parent=serverapp)
    service = EngineService()
    web_app = serverapp.web_app
    web_app.settings[handlers.SERVICE_KEY] = service
    web_app.settings[handlers.DEFAULTS_KEY] = (settings.model, settings.engine_settings(progress=False))
    web_app.settings[handlers.CONFIG_KEY] = settings
    base_url = web_app.settings["base_url"]
    web_app.add_handlers(".*$", handlers.routes(base_url))
    serverapp.log.info("jupyter_codegen: shared model service at %s", url_path_join(base_url, wire.API_PATH))
