"""Resolving `CodeGen.model` to an engine: local folders, export cache, hub ids offline, and the error sentences."""

import shutil

import pytest

from jupyter_codegen.errors import CorruptModelError, ExportError, ModelNotFoundError, OfflineModelError
from jupyter_codegen.model_store import EngineSettings, forget_engines, load_engine, resolve_folder
from jupyter_codegen.onnx_engine import OnnxEngine

pytestmark = pytest.mark.slow


@pytest.fixture
def settings(tmp_path):
    forget_engines()
    return EngineSettings(device="cpu", threads=1, cache_dir=str(tmp_path / "cache"), progress=False,
                          default_model_dir=str(tmp_path / "no-default"))


def test_hf_folder_is_exported_once_into_the_cache_keyed_by_content(tiny_model, settings, tmp_path):
    hf = tiny_model("gpt2").parent / "hf"
    first = resolve_folder(str(hf), settings)
    assert first.is_relative_to(tmp_path / "cache") and (first / "model.onnx").is_file()
    assert first.name.endswith("-int8")  # CPU default quantization
    stamp = (first / "model.onnx").stat().st_mtime_ns
    assert resolve_folder(str(hf), settings) == first
    assert (first / "model.onnx").stat().st_mtime_ns == stamp
    # Changed weights are a different model: a new export.
    changed = tmp_path / "changed"
    shutil.copytree(hf, changed)
    config = (changed / "config.json").read_text()
    (changed / "config.json").write_text(config.replace('"n_layer": 2', '"n_layer": 2 '))
    assert resolve_folder(str(changed), settings) != first


def test_onnx_folder_loads_as_is_and_engines_are_shared(tiny_model, settings):
    folder = tiny_model("codegen")
    engine = load_engine(str(folder), settings)
    assert isinstance(engine, OnnxEngine) and engine.folder == folder
    assert load_engine(str(folder), settings) is engine


def test_default_model_missing_says_what_to_do(settings):
    with pytest.raises(ModelNotFoundError, match="embedded default model is not part of this installation"):
        load_engine("default", settings)


def test_hub_id_offline_points_to_a_local_folder(settings):
    with pytest.raises(OfflineModelError, match="offline.*set CodeGen.model to that folder"):
        load_engine("Salesforce/codegen-350M-mono", settings)


@pytest.mark.parametrize("spec", ["no such model", "./missing/folder/x"])
def test_unknown_model(settings, spec):
    with pytest.raises(ModelNotFoundError, match="Unknown model"):
        load_engine(spec, settings)


def test_folder_that_is_not_a_model(settings, tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match="neither an ONNX export"):
        load_engine(str(tmp_path / "empty"), settings)


def test_corrupt_onnx_file(tiny_model, settings, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(tiny_model("codegen"), broken)
    (broken / "model.onnx").write_bytes(b"not a protobuf")
    with pytest.raises(CorruptModelError, match="cannot load .*model.onnx.*delete the file"):
        load_engine(str(broken), settings)


def test_failed_export_names_the_family(settings, tmp_path):
    odd = tmp_path / "odd"
    odd.mkdir()
    (odd / "config.json").write_text('{"model_type": "no-such-family"}')
    (odd / "model.safetensors").write_bytes(b"")
    with pytest.raises(ExportError, match="no-such-family"):
        load_engine(str(odd), settings)
