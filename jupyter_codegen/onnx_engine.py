"""The local engine: generation on an `onnxruntime.InferenceSession` with IO binding and a KV cache.

Written on ONNX Runtime directly (numpy + OrtValues) rather than through optimum or transformers, so that
inference needs no torch. Inputs are bound by name, never by position: families order them differently.
The KV cache stays where the session put it (on the GPU when there is one) and is fed back as OrtValues.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnxruntime as ort

from .beam_search import beam_search
from .column_guard import ColumnGuard, GuardVocabulary, token_texts
from .decoding import TextStream
from .engine import Completion, GenerationOptions, TextCallback
from .errors import CorruptModelError, RequestError
from .graph_edits import LOGITS_TO_KEEP
from .formats import PromptFormat
from .onnx_session import Device, SessionInfo, create_session
from .sampling import Sampler, log_softmax, logsumexp
from .tokenizer import TextTokenizer

_PAST = re.compile(r"^past_key_values\.(\d+)\.(key|value)$")
_ONNX_DTYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16}
MAX_REWINDS = 8
"""Times one answer may go back to write a column literal or a frame name again (column_guard): a list of made-up
columns takes one per literal."""
_SCORE_BATCH_ELEMENTS = 32_000_000  # cap on batch * length * vocab logits per scoring run (about 128 MB)


@dataclass(frozen=True)
class _PastInput:
    name: str
    output: str
    heads: int
    head_dim: int
    dtype: type


class _ModelIO:
    """The exported model's inputs and outputs, found by name."""

    def __init__(self, session: ort.InferenceSession):
        inputs = {i.name: i for i in session.get_inputs()}
        outputs = {o.name for o in session.get_outputs()}
        if "input_ids" not in inputs or "logits" not in outputs:
            raise CorruptModelError(
                "The ONNX model has no input_ids input or no logits output, so it is not a causal language model "
                "export; export it again with the text-generation-with-past task."
            )
        self.has_attention_mask = "attention_mask" in inputs
        self.has_logits_to_keep = LOGITS_TO_KEEP in inputs
        self.has_position_ids = "position_ids" in inputs
        past = []
        for name, arg in inputs.items():
            match = _PAST.match(name)
            if not match:
                continue
            output = f"present.{match.group(1)}.{match.group(2)}"
            if output not in outputs:
                raise CorruptModelError(f"The ONNX model has {name} but no {output}; export it again with a KV cache.")
            heads, head_dim = arg.shape[1], arg.shape[3]
            if not isinstance(heads, int) or not isinstance(head_dim, int):
                raise CorruptModelError(f"The ONNX model's {name} has no fixed head sizes; export it again.")
            past.append(_PastInput(name, output, heads, head_dim, _ONNX_DTYPES.get(arg.type, np.float32)))
        if not past:
            raise CorruptModelError(
                "The ONNX model has no past_key_values inputs, so every token would recompute the whole text; "
                "export it again with the text-generation-with-past task."
            )
        self.past = sorted(past, key=lambda p: (int(_PAST.match(p.name).group(1)), p.name))


def _context_window(config: dict) -> int:
    for key in ("n_positions", "max_position_embeddings", "n_ctx", "seq_length"):
        value = config.get(key)
        if isinstance(value, int) and value > 0:
            return value
    return 2048


def _eos_ids(config: dict, tokenizer: TextTokenizer) -> set[int]:
    ids: set[int] = set()
    value = config.get("eos_token_id")
    for v in value if isinstance(value, list) else [value]:
        if isinstance(v, int):
            ids.add(v)
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


class OnnxEngine:
    """One exported causal LM (model.onnx + tokenizer.json + config.json in one folder)."""

    def __init__(
        self,
        folder: str | Path,
        *,
        model_file: str | None = None,
        device: Device = "auto",
        threads: int | None = None,
        prompt_format: str = "auto",
        name: str | None = None,
    ):
        folder = Path(folder)
        self.folder = folder
        self.name = name or folder.name
        self.tokenizer = TextTokenizer.from_folder(folder)
        config_file = folder / "config.json"
        config = json.loads(config_file.read_text(encoding="utf-8")) if config_file.is_file() else {}
        self.model_type: str = config.get("model_type", "")
        self.context_window = _context_window(config)
        self.eos_ids = _eos_ids(config, self.tokenizer)
        onnx_file = folder / (model_file or "model.onnx")
        if not onnx_file.is_file():
            raise CorruptModelError(f"There is no {onnx_file.name} in {folder}; export the model again.")
        self.session, self.info = create_session(onnx_file, device=device, threads=threads)
        self.io = _ModelIO(self.session)
        self.format: PromptFormat = self.tokenizer.prompt_format(prompt_format)
        self._pad_id = next(iter(self.eos_ids), 0)
        self._kv_device = "cuda" if self.info.on_gpu else "cpu"
        self._guard_vocabulary: GuardVocabulary | None = None

    @classmethod
    def from_folder(cls, folder: str | Path, **kwargs) -> "OnnxEngine":
        return cls(folder, **kwargs)

    @property
    def device(self) -> str:
        return self.info.provider

    def count_tokens(self, text: str) -> int:
        return self.tokenizer.count(text)

    # -- one forward pass -------------------------------------------------------------------------------------

    def _forward(
        self,
        input_ids: np.ndarray,
        attention_mask: np.ndarray,
        position_ids: np.ndarray,
        past: list[ort.OrtValue] | None,
        all_logits: bool = False,
    ) -> tuple[np.ndarray, list[ort.OrtValue]]:
        """Runs the model on new tokens; returns the logits (on the host) and the KV cache (where it lives).

        Generation needs the logits of the last position only; scoring (`all_logits`) needs every position.
        """
        binding = self.session.io_binding()
        if self.io.has_logits_to_keep:
            binding.bind_cpu_input(LOGITS_TO_KEEP, np.array([0 if all_logits else 1], dtype=np.int64))
        binding.bind_cpu_input("input_ids", input_ids)
        if self.io.has_attention_mask:
            binding.bind_cpu_input("attention_mask", attention_mask)
        if self.io.has_position_ids:
            binding.bind_cpu_input("position_ids", position_ids)
        batch = input_ids.shape[0]
        for i, spec in enumerate(self.io.past):
            if past is None:
                binding.bind_cpu_input(spec.name, np.zeros((batch, spec.heads, 0, spec.head_dim), dtype=spec.dtype))
            else:
                binding.bind_ortvalue_input(spec.name, past[i])
        binding.bind_output("logits", "cpu")
        for spec in self.io.past:
            binding.bind_output(spec.output, self._kv_device)
        self.session.run_with_iobinding(binding)
        outputs = binding.get_outputs()
        return outputs[0].numpy(), list(outputs[1:])

    def _expand(self, past: list[ort.OrtValue], n: int) -> list[ort.OrtValue]:
        """n candidates share one prompt: compute its cache once and copy it n times."""
        device_id = 0
        return [
            ort.OrtValue.ortvalue_from_numpy(np.repeat(value.numpy(), n, axis=0), self._kv_device, device_id)
            for value in past
        ]

    # -- generation -------------------------------------------------------------------------------------------

    def _column_guard(self, options: GenerationOptions, n: int) -> ColumnGuard | None:
        if not options.columns:
            return None
        if self._guard_vocabulary is None:
            vocab = self.session.get_outputs()[0].shape[-1]
            known = self.tokenizer.tokenizer.get_vocab_size(with_added_tokens=True)
            size = vocab if isinstance(vocab, int) else known
            anchor = (self.tokenizer.encode("a") or [0])[0]
            texts = token_texts(lambda ids: self.tokenizer.tokenizer.decode_batch(ids, skip_special_tokens=False),
                                min(size, known), anchor)
            # Ids past the tokenizer's (a padded output layer) stand for no text: never a column's letter.
            self._guard_vocabulary = GuardVocabulary(texts + ["\x00"] * (size - len(texts)))
        return ColumnGuard(options.columns, self._guard_vocabulary, n, options.stop, self.eos_ids)

    def _prompt_and_room(self, prompt: str) -> tuple[list[int], int]:
        """The prompt's ids and how many tokens the context window leaves after them (at least one)."""
        ids = self._prompt_ids(prompt)
        room = self.context_window - len(ids)
        if room <= 0:
            raise RequestError(
                f"The prompt has {len(ids)} tokens but the model reads at most {self.context_window}; "
                "shorten the request or its context."
            )
        return ids, room

    def _prompt_ids(self, prompt: str) -> list[int]:
        ids = self.tokenizer.encode(prompt)
        if not ids:
            start = self.tokenizer.token_id(self.tokenizer.bos_token)
            ids = [start if start is not None else self._pad_id]
        return ids

    def generate(
        self,
        prompt: str,
        options: GenerationOptions,
        on_text: TextCallback | None = None,
        cancel: threading.Event | None = None,
    ) -> list[Completion]:
        if options.n > 1 and options.columns:
            return self._one_by_one(prompt, options, on_text, cancel)
        if options.num_beams > 1 and options.greedy and options.n == 1:
            return [self._beam_search(prompt, options, on_text, cancel)]
        ids, room = self._prompt_and_room(prompt)
        max_new = min(options.max_new_tokens, room)
        n = max(1, options.n)
        sampler = Sampler(options.temperature, options.top_p, options.seed)
        streams = [TextStream(options.stop) for _ in range(n)]
        tokens_out: list[list[int]] = [[] for _ in range(n)]
        logprobs = np.zeros(n)
        reasons = ["length"] * n
        done = np.zeros(n, dtype=bool)
        guard = self._column_guard(options, n)
        texts = [""] * n
        try:
            prompt_ids = np.array([ids], dtype=np.int64)
            logits, past = self._forward(
                prompt_ids, np.ones_like(prompt_ids), np.arange(len(ids), dtype=np.int64)[None, :], None
            )
            last = logits[:, -1, :]
            if n > 1:
                last = np.repeat(last, n, axis=0)
                past = self._expand(past, n)
            count = 0  # tokens sampled so far by every running candidate
            rewinds = 0
            token_logprobs: list[list[float]] = [[] for _ in range(n)]
            # A rewind recomputes one candidate's cache from its text; candidates in a batch share one cache, so
            # only a single candidate is rewound (guarded candidates come here one at a time: _one_by_one).
            can_rewind = guard is not None and n == 1
            while True:
                if cancel is not None and cancel.is_set():
                    raise KeyboardInterrupt
                chosen_from = last
                if guard is not None:
                    chosen_from = np.stack([
                        last[i] if done[i] else guard.restrict(int(i), texts[i], last[i], sampler.temperature <= 0)
                        for i in range(n)
                    ])
                next_ids = sampler(chosen_from)
                step_logprobs = last[np.arange(n), next_ids] - logsumexp(last)
                count += 1
                rewind_to = None
                for i in np.flatnonzero(~done):
                    token = int(next_ids[i])
                    if token in self.eos_ids:
                        if can_rewind and rewinds < MAX_REWINDS:
                            rewind_to = guard.end(0, texts[0])
                            if rewind_to is not None:
                                break
                        done[i], reasons[i] = True, "stop"
                        continue
                    tokens_out[i].append(token)
                    token_logprobs[i].append(float(step_logprobs[i]))
                    logprobs[i] += step_logprobs[i]
                    texts[i] = self.tokenizer.decode(tokens_out[i])
                    hold = None
                    if can_rewind and rewinds < MAX_REWINDS:
                        rewind_to = guard.observe(0, texts[0])
                        if rewind_to is not None:
                            break
                        uncertain = guard.uncertain_from(0)
                        if uncertain is not None:
                            hold = len(self.tokenizer.decode(tokens_out[0][: self._tokens_before(tokens_out[0], uncertain)]))
                    delta = streams[i].update(texts[i], hold)
                    if delta and on_text is not None:
                        on_text(int(i), delta)
                    if streams[i].stopped:
                        done[i], reasons[i] = True, "stop"
                if rewind_to is not None:
                    # The text read a column that does not exist: write it again from that literal, guarded.
                    rewinds += 1
                    keep = self._tokens_before(tokens_out[0], rewind_to)
                    del tokens_out[0][keep:], token_logprobs[0][keep:]
                    logprobs[0] = sum(token_logprobs[0])
                    texts[0] = self.tokenizer.decode(tokens_out[0])
                    guard.rewind(0, len(texts[0]))
                    again = np.array([ids + tokens_out[0]], dtype=np.int64)
                    logits, past = self._forward(
                        again, np.ones_like(again), np.arange(again.shape[1], dtype=np.int64)[None, :], None
                    )
                    last = logits[:, -1, :]
                    count = len(tokens_out[0])
                    continue
                if done.all() or count >= max_new:
                    break
                total = len(ids) + count
                feed = np.where(done, self._pad_id, next_ids).astype(np.int64)[:, None]
                logits, past = self._forward(
                    feed,
                    np.ones((n, total), dtype=np.int64),
                    np.full((n, 1), total - 1, dtype=np.int64),
                    past,
                )
                last = logits[:, -1, :]
        except KeyboardInterrupt:
            for i in np.flatnonzero(~done):
                reasons[i] = "cancelled"
        completions = []
        for i in range(n):
            tail = streams[i].finish()
            if tail and on_text is not None and reasons[i] != "cancelled":
                on_text(i, tail)
            completions.append(
                Completion(text=streams[i].text, token_ids=tokens_out[i], logprob=float(logprobs[i]), finish_reason=reasons[i])
            )
        return completions

    def _beam_search(self, prompt: str, options: GenerationOptions, on_text: TextCallback | None,
                     cancel: threading.Event | None) -> Completion:
        """The likeliest whole answer of `options.num_beams` kept at each step (beam_search). The beams run as one
        batch; their caches are reordered on the device each step to follow the beams that survive. Nothing is
        streamed until the search ends: until then any beam may still win."""
        ids, room = self._prompt_and_room(prompt)
        prompt_ids = np.array([ids], dtype=np.int64)
        logits, past = self._forward(
            prompt_ids, np.ones_like(prompt_ids), np.arange(len(ids), dtype=np.int64)[None, :], None
        )
        cache = {"past": past, "length": len(ids)}

        def step(tokens: np.ndarray, parents) -> np.ndarray:
            rows = np.asarray(parents, dtype=np.int64)
            cache["past"] = [
                ort.OrtValue.ortvalue_from_numpy(np.take(value.numpy(), rows, axis=0), self._kv_device, 0)
                for value in cache["past"]
            ]
            cache["length"] += 1
            total, n = cache["length"], len(tokens)
            out, cache["past"] = self._forward(
                tokens[:, None], np.ones((n, total), dtype=np.int64), np.full((n, 1), total - 1, dtype=np.int64),
                cache["past"],
            )
            return out[:, -1, :]

        best, _ = beam_search(
            logits[0, -1, :], step, self.tokenizer.decode, width=options.num_beams,
            max_new_tokens=min(options.max_new_tokens, room), end_ids=self.eos_ids, stops=options.stop,
            guard=self._column_guard(options, options.num_beams), length_penalty=options.length_penalty, cancel=cancel,
        )
        if best.text and on_text is not None and best.finish_reason != "cancelled":
            on_text(0, best.text)
        return Completion(text=best.text, token_ids=best.tokens, logprob=best.logprob, finish_reason=best.finish_reason)

    def _one_by_one(self, prompt: str, options: GenerationOptions, on_text: TextCallback | None,
                    cancel: threading.Event | None) -> list[Completion]:
        """Guarded candidates, each generated on its own: the candidates of a batch share one cache, so only a lone
        candidate can be rewound to write a made-up column or frame again. Costs one prompt pass per candidate."""
        completions: list[Completion] = []
        for i in range(options.n):
            seed = None if options.seed is None else options.seed + i
            forward = None if on_text is None else (lambda _, delta, i=i: on_text(i, delta))
            completions += self.generate(prompt, options.with_(n=1, seed=seed), forward, cancel)
            if completions[-1].finish_reason == "cancelled":
                completions += [Completion("", finish_reason="cancelled") for _ in range(options.n - len(completions))]
                break
        return completions

    def _tokens_before(self, tokens: list[int], offset: int) -> int:
        """The most leading tokens whose text ends at or before character `offset` of the text of `tokens`."""
        keep = len(tokens)
        while keep > 0 and len(self.tokenizer.decode(tokens[:keep])) > offset:
            keep -= 1
        return keep

    # -- scoring ----------------------------------------------------------------------------------------------

    def score(self, prompt: str, continuations: list[str]) -> list[float]:
        prefix = self._prompt_ids(prompt)
        sequences = [prefix + self.tokenizer.encode(c) for c in continuations]
        longest = max((len(s) for s in sequences), default=0)
        if longest > self.context_window:
            raise RequestError(
                f"A text to score has {longest} tokens but the model reads at most {self.context_window}; "
                "shorten the cell or its context."
            )
        vocab = self.session.get_outputs()[0].shape[-1]
        vocab = vocab if isinstance(vocab, int) else 50_000
        per_batch = max(1, _SCORE_BATCH_ELEMENTS // max(1, longest * vocab))
        scores: list[float] = []
        for start in range(0, len(sequences), per_batch):
            scores.extend(self._score_batch(sequences[start : start + per_batch], len(prefix)))
        return scores

    def _score_batch(self, sequences: list[list[int]], prefix_len: int) -> list[float]:
        length = max(len(s) for s in sequences)
        ids = np.full((len(sequences), length), self._pad_id, dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, seq in enumerate(sequences):
            ids[row, : len(seq)] = seq
            mask[row, : len(seq)] = 1
        positions = np.broadcast_to(np.arange(length, dtype=np.int64), ids.shape).copy()
        logits, _ = self._forward(ids, mask, positions, None, all_logits=True)
        results = []
        for row, seq in enumerate(sequences):
            # The token at position t is predicted by the logits at t - 1.
            targets = np.array(seq[prefix_len:], dtype=np.int64)
            if len(targets) == 0:
                results.append(0.0)
                continue
            rows = log_softmax(logits[row, prefix_len - 1 : len(seq) - 1])
            results.append(float(rows[np.arange(len(targets)), targets].sum()))
        return results
