"""Creating an ONNX Runtime session on the right device, and saying which device really runs it.

onnxruntime-gpu falls back to the CPU without a word when CUDA is missing, so the provider actually in use
is read back from the session and reported.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Literal

import onnxruntime as ort

from .errors import CodeGenError, CorruptModelError

Device = Literal["auto", "cpu", "cuda"]

CUDA = "CUDAExecutionProvider"
CPU = "CPUExecutionProvider"


def default_threads() -> int:
    """Physical cores the process may use, at most 4: more threads than free cores slows decoding a lot."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        available = os.cpu_count() or 1
    return max(1, min(4, available))


def check_runtime_packages() -> None:
    """onnxruntime and onnxruntime-gpu share one import name and overwrite each other's files."""
    installed = set()
    for name in ("onnxruntime", "onnxruntime-gpu"):
        try:
            metadata.version(name)
            installed.add(name)
        except metadata.PackageNotFoundError:
            pass
    if len(installed) == 2:
        raise CodeGenError(
            "Both onnxruntime and onnxruntime-gpu are installed and overwrite each other; run "
            "`pip uninstall -y onnxruntime onnxruntime-gpu && pip install 'onnxruntime-gpu>=1.31,<1.32'` for the GPU "
            "or reinstall onnxruntime alone for the CPU."
        )


def requested_providers(device: Device) -> list[str]:
    available = ort.get_available_providers()
    if device == "cuda" or (device == "auto" and CUDA in available):
        return [CUDA, CPU]
    return [CPU]


@dataclass
class SessionInfo:
    provider: str
    """The execution provider that actually runs the model."""
    warning: str | None = None

    @property
    def on_gpu(self) -> bool:
        return self.provider == CUDA


def create_session(model_file: Path, device: Device = "auto", threads: int | None = None) -> tuple[ort.InferenceSession, SessionInfo]:
    check_runtime_packages()
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads or default_threads()
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    providers = requested_providers(device)
    try:
        with warnings.catch_warnings():
            # A missing CUDA provider is reported below, in words the user can act on.
            warnings.filterwarnings("ignore", message="Specified provider")
            session = ort.InferenceSession(str(model_file), sess_options=options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own Fail/InvalidProtobuf/NoSuchFile types
        raise CorruptModelError(
            f"ONNX Runtime cannot load {model_file} ({type(exc).__name__}); delete the file so it is exported again, "
            "or point CodeGen.model at another model."
        ) from exc
    provider = session.get_providers()[0]
    warning = None
    if device == "cuda" and provider != CUDA:
        warning = (
            "CodeGen.device is 'cuda' but ONNX Runtime runs on the CPU: install onnxruntime-gpu with a matching CUDA "
            "and cuDNN (see the README's GPU section), or set CodeGen.device = 'cpu' to silence this."
        )
    return session, SessionInfo(provider=provider, warning=warning)
