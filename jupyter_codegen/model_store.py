"""From the one string the user sets (`CodeGen.model`) to a loaded engine.

- "default": the embedded model that ships inside the package;
- a folder holding an ONNX export (model.onnx + tokenizer.json): loaded as it is;
- a Hugging Face model folder (config.json + weights): exported once through optimum into the user's cache,
  keyed by the model's content, and reused afterwards;
- a hub id ("owner/name"): downloaded when online, then as above;
- "openai:<base-url>#<model>": a remote OpenAI-compatible completions server.

Loaded engines are kept per process, so every magic and chat message in a kernel shares one copy.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .engine import Engine
from .errors import ModelNotFoundError, OfflineModelError

if TYPE_CHECKING:  # onnxruntime is imported only where a model is loaded: kernels that use the server's never do
    from .onnx_session import Device

DEFAULT_MODEL_DIR = Path(__file__).parent / "default_model"
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
_MODEL_FILES = ("config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model", "added_tokens.json")
_WEIGHT_SUFFIXES = (".safetensors", ".bin")
_HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class EngineSettings:
    device: Device = "auto"
    threads: int | None = None
    quantization: str = "auto"
    """auto: int8 on the CPU, none on the GPU; or one of export.QUANTIZATIONS."""
    prompt_format: str = "auto"
    cache_dir: str | None = None
    progress: bool = field(default=True, compare=False)
    default_model_dir: str | None = None
    """Where the embedded model lives; None means inside the package."""


def cache_root(settings: EngineSettings) -> Path:
    if settings.cache_dir:
        return Path(settings.cache_dir).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("jupyter-codegen"))


def effective_quantization(settings: EngineSettings) -> str:
    if settings.quantization != "auto":
        return settings.quantization
    from .onnx_session import CUDA, requested_providers

    return "none" if requested_providers(settings.device)[0] == CUDA else "int8"


def is_onnx_folder(path: Path) -> bool:
    return path.is_dir() and (path / "model.onnx").is_file()


def is_hf_folder(path: Path) -> bool:
    return path.is_dir() and (path / "config.json").is_file() and any(
        f.suffix in _WEIGHT_SUFFIXES for f in path.iterdir()
    )


class _HashMemo:
    """Content hashes of big weight files, remembered by (path, size, mtime) so a model is read once."""

    def __init__(self, file: Path):
        self.file = file
        try:
            self.entries: dict = json.loads(file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.entries = {}

    def digest(self, path: Path) -> str:
        stat = path.stat()
        key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
        if key not in self.entries:
            h = hashlib.sha256()
            with path.open("rb") as f:
                while chunk := f.read(_HASH_CHUNK):
                    h.update(chunk)
            self.entries[key] = h.hexdigest()
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.file.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_text(json.dumps(self.entries), encoding="utf-8")
            os.replace(tmp, self.file)
        return self.entries[key]


def content_key(folder: Path, root: Path) -> str:
    """A hash of everything that decides the exported model: config, tokenizer and weights."""
    memo = _HashMemo(root / "hashes.json")
    h = hashlib.sha256()
    for path in sorted(folder.iterdir()):
        if path.is_file() and (path.name in _MODEL_FILES or path.suffix in _WEIGHT_SUFFIXES):
            h.update(path.name.encode())
            h.update(memo.digest(path).encode())
    return h.hexdigest()[:20]


def exported_folder(hf_folder: Path, settings: EngineSettings) -> Path:
    """The cached ONNX export of a Hugging Face folder, exporting it on first use."""
    from .export import export_model

    root = cache_root(settings)
    quantization = effective_quantization(settings)
    slug = re.sub(r"[^\w.-]+", "-", hf_folder.resolve().name)[:40]
    target = root / "onnx" / f"{slug}-{content_key(hf_folder, root)}-{quantization}"
    if not is_onnx_folder(target):
        export_model(hf_folder, target, quantization=quantization, progress=settings.progress)
    return target


def download(repo_id: str) -> Path:
    """Fetches a hub model's config, tokenizer and weights; offline, says how to use a local copy instead."""
    hint = (
        f"Cannot download {repo_id} from the Hugging Face hub because this machine is offline; download it where "
        f"there is internet (`huggingface-cli download {repo_id} --local-dir DIR`) and set CodeGen.model to that folder."
    )
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        raise OfflineModelError(hint)
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, RepositoryNotFoundError

    try:
        return Path(snapshot_download(repo_id, allow_patterns=["*.json", "*.txt", "*.model", "*.safetensors"]))
    except RepositoryNotFoundError as exc:
        raise ModelNotFoundError(
            f"The Hugging Face hub has no model {repo_id} (or it is private); check the id, or log in with `huggingface-cli login`."
        ) from exc
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        raise OfflineModelError(hint) from exc


def resolve_folder(spec: str, settings: EngineSettings) -> Path:
    """The ONNX folder behind a local or hub model spec (exporting or downloading as needed)."""
    if spec == "default":
        folder = Path(settings.default_model_dir) if settings.default_model_dir else DEFAULT_MODEL_DIR
        if not is_onnx_folder(folder):
            raise ModelNotFoundError(
                "The embedded default model is not part of this installation yet; set "
                "%config CodeGen.model = '<a local Hugging Face or ONNX model folder>' to use another model."
            )
        return folder
    path = Path(spec).expanduser()
    if path.exists():
        if is_onnx_folder(path):
            return path
        if is_hf_folder(path):
            return exported_folder(path, settings)
        raise ModelNotFoundError(
            f"{path} is neither an ONNX export (model.onnx and tokenizer.json) nor a Hugging Face model folder "
            "(config.json and weights); point CodeGen.model at one of those."
        )
    if _HUB_ID.match(spec):
        return exported_folder(download(spec), settings)
    raise ModelNotFoundError(
        f"Unknown model {spec!r}; set CodeGen.model to 'default', a local model folder, a Hugging Face hub id "
        "such as 'Salesforce/codegen-350M-mono', or 'openai:<base-url>#<model>'."
    )


_engines: dict[tuple[str, EngineSettings], Engine] = {}
_lock = threading.Lock()


def load_engine(spec: str, settings: EngineSettings | None = None) -> Engine:
    """The engine for `spec`, loaded once per process and settings."""
    settings = settings or EngineSettings()
    spec = spec.strip()
    key = (spec, settings)
    with _lock:
        if key not in _engines:
            _engines[key] = _create(spec, settings)
        return _engines[key]


def _create(spec: str, settings: EngineSettings) -> Engine:
    if spec.startswith("openai:"):
        from .formats import format_by_name
        from .remote_engine import RemoteEngine, parse_remote_spec

        base_url, model = parse_remote_spec(spec)
        return RemoteEngine(base_url, model, format=format_by_name(settings.prompt_format))
    from .onnx_engine import OnnxEngine

    folder = resolve_folder(spec, settings)
    return OnnxEngine(
        folder,
        device=settings.device,
        threads=settings.threads,
        prompt_format=settings.prompt_format,
        name=spec if spec != str(folder) else folder.name,
    )


def forget_engines() -> None:
    """Drops loaded engines (after a model folder changed on disk, or in tests)."""
    with _lock:
        _engines.clear()
