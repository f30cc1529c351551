import os
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
sys.path.insert(0, str(Path(__file__).parent))

import pytest  # noqa: E402

import tiny_models  # noqa: E402


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Exported tiny models by family, built once per test session on first use."""
    built: dict[str, Path] = {}

    def get(family: str) -> Path:
        if family not in built:
            built[family] = tiny_models.make_tiny_model(family, tmp_path_factory.mktemp(family))
        return built[family]

    return get


@pytest.fixture(scope="module")
def scoring_engine(tiny_model):
    """A tiny xglm engine on the CPU, one thread, no progress bars: what the scoring harnesses' tests load."""
    from jupyter_codegen.model_store import EngineSettings, forget_engines, load_engine

    forget_engines()
    yield load_engine(str(tiny_model("xglm")), EngineSettings(device="cpu", threads=1, progress=False))
    forget_engines()
