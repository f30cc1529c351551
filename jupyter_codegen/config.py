"""Every option of the magics, as traitlets on one Configurable, so `%config CodeGen.model = "..."` and
jupyter config files set them; the magics' flags override them for one cell."""

from __future__ import annotations

from traitlets import Bool, Enum, Float, Int, Unicode
from traitlets.config import Configurable

from .engine import GenerationOptions
from .export import QUANTIZATIONS
from .formats import FORMAT_NAMES
from .infill import METHODS
from .model_store import EngineSettings
from .reviewer import RANKINGS


class CodeGen(Configurable):
    model = Unicode(
        "default",
        help="The model: 'default' (embedded), a local ONNX or Hugging Face folder, a hub id, or openai:<base-url>#<model>.",
    ).tag(config=True)
    use_server = Bool(
        True,
        help="Use the model hosted by the Jupyter server that started this kernel (one copy for all its notebooks) "
        "when its jupyter_codegen extension runs; False, or no such server, runs the model in this kernel.",
    ).tag(config=True)
    device = Enum(["auto", "cpu", "cuda"], "auto", help="Where the model runs; auto uses CUDA when onnxruntime-gpu finds a GPU.").tag(config=True)
    threads = Int(0, min=0, help="CPU threads for ONNX Runtime; 0 picks the usable cores, at most 4.").tag(config=True)
    quantization = Enum(
        ["auto", *QUANTIZATIONS], "auto", help="Weights of exported models: auto is int8 on the CPU and none on the GPU."
    ).tag(config=True)
    prompt_format = Enum(
        ["auto", *FORMAT_NAMES], "auto", help="Prompt layout; auto detects it from the tokenizer's special tokens."
    ).tag(config=True)
    n = Int(1, min=1, help="Candidates to sample per request; the most likely one is kept.").tag(config=True)
    rank = Enum(
        list(RANKINGS), "likelihood",
        help="How the best of n > 1 candidates is chosen: likelihood (mean log-probability of the code) or reviewer "
        "(that plus the mean log-probability of the request read after the code, which needs an infilling model).",
    ).tag(config=True)
    temperature = Float(0.0, min=0.0, help="0 decodes greedily; with n > 1 and 0, candidates are sampled at 0.8.").tag(config=True)
    top_p = Float(0.95, min=0.0, max=1.0, help="Nucleus sampling mass.").tag(config=True)
    seed = Int(None, allow_none=True, help="Seed for sampling, for reproducible answers.").tag(config=True)
    max_new_tokens = Int(256, min=1, help="Most tokens generated per answer.").tag(config=True)
    guard_columns = Bool(
        True,
        help="Keep string literals that read a DataFrame column to the columns the frame has (as the variables "
        "summary lists them), and names used as a frame to frames the notebook has, so the model cannot invent "
        "either; the in-process and server models apply it, an OpenAI-compatible server cannot.",
    ).tag(config=True)
    num_beams = Int(
        1, min=1, help="Beam width for greedy answers: keep this many partial answers and return the likeliest "
        "whole one; 1 is plain greedy (fastest). The in-process and server models apply it.",
    ).tag(config=True)
    length_penalty = Float(
        1.0, help="Beam search ranks whole answers by log-probability / tokens ** length_penalty: 0 prefers short "
        "answers, 1 ranks by the mean per token.",
    ).tag(config=True)
    link_columns = Float(
        5.0,
        min=0.0,
        help="How much the column guard prefers a column the request names in its words (\"honey per apiary\" "
        "for `apiary`), in nats added to the model's log-odds; 0 leaves the choice to the model alone.",
    ).tag(config=True)
    link_operations = Float(
        3.0,
        min=0.0,
        help="How much the column guard prefers the aggregation the request asks for in its words (\"total\" "
        "for `sum`, \"how many\" for `size`) where a group is aggregated, in nats added to the model's log-odds; 0 "
        "leaves the choice to the model alone.",
    ).tag(config=True)
    link_values = Float(
        3.0,
        min=0.0,
        help="How much the column guard prefers a value the request spells (\"over 1500\", \"only Denver\") where "
        "the code writes a comparison's value, in nats added to the model's log-odds; 0 leaves the choice to the "
        "model alone.",
    ).tag(config=True)
    check_timeout = Float(
        5.0, min=0.1, help="Seconds each candidate may run when --check runs candidates in a copy of the kernel."
    ).tag(config=True)
    max_context_tokens = Int(2048, min=64, help="Most tokens of notebook context sent with a request.").tag(config=True)
    infill_marker = Unicode("<FILL>", help="Text that marks a hole in %%infill cells.").tag(config=True)
    infill_method = Enum(list(METHODS), "auto", help="auto: the model's infill tokens if it has them, else left-to-right reranking.").tag(config=True)
    fit_indentation = Bool(
        True,
        help="Move a %%infill fill that starts a line to a depth at which the cell parses (one deeper after a "
        "line ending in a colon, or a block still open) when the model's own depth breaks the cell.",
    ).tag(config=True)
    trim_fills = Bool(
        True,
        help="Cut a %%infill fill inside a line that repeats the code after its hole (`sort_values(<FILL>, "
        "ascending=False)` filled with `\"revenue\", ascending=False`) at its last comma after which the cell "
        "compiles.",
    ).tag(config=True)
    explain_method = Enum(
        list(METHODS), "rerank",
        help="How --explain fills the request slot before the code; rerank (candidates written left to right, scored "
        "with the code after them) suits small models, which write code rather than words when they infill it.",
    ).tag(config=True)
    rerank_candidates = Int(10, min=1, help="Candidates for left-to-right reranking.").tag(config=True)
    insert = Bool(True, help="Insert the answer as a new cell below (it is always shown in the output).").tag(config=True)
    cache_dir = Unicode("", help="Where exported models are cached; empty means the platform's user cache.").tag(config=True)
    conversation_dir = Unicode("", help="Where conversations are saved; empty means the platform's user data folder.").tag(config=True)
    default_model_dir = Unicode("", help="Folder of the embedded default model; empty means the one inside the package.").tag(config=True)

    def engine_settings(self, progress: bool = True) -> EngineSettings:
        return EngineSettings(
            device=self.device,
            threads=self.threads or None,
            quantization=self.quantization,
            prompt_format=self.prompt_format,
            cache_dir=self.cache_dir or None,
            progress=progress,
            default_model_dir=self.default_model_dir or None,
        )

    def generation_options(self, **overrides) -> GenerationOptions:
        values = dict(
            max_new_tokens=self.max_new_tokens, temperature=self.temperature, top_p=self.top_p, seed=self.seed, n=self.n,
            guard_columns=self.guard_columns, link_columns=self.link_columns,
            link_operations=self.link_operations, link_values=self.link_values, num_beams=self.num_beams,
            length_penalty=self.length_penalty,
        )
        values.update({k: v for k, v in overrides.items() if v is not None})
        return GenerationOptions(**values)
