"""Choosing the next token from logits, in numpy, so inference needs no torch.

This runs once per generated token for every candidate, so it works on whole batches at once and sorts only
the few hundred most likely tokens instead of the whole vocabulary.
"""

from __future__ import annotations

import numpy as np

NUCLEUS_SHORTLIST = 256
"""Top-p looks at this many most likely tokens first; a row whose shortlist holds less than top_p of the mass
(a very flat distribution) falls back to sorting the whole vocabulary."""


def logsumexp(logits: np.ndarray) -> np.ndarray:
    """log(sum(exp(x))) over the last axis, stable; in the logits' own precision."""
    peak = logits.max(axis=-1, keepdims=True)
    return (peak + np.log(np.exp(logits - peak).sum(axis=-1, keepdims=True)))[..., 0]


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Stable log-softmax over the last axis, in float64 so sums over many tokens stay exact enough to rank."""
    x = logits.astype(np.float64, copy=False)
    return x - logsumexp(x)[..., None]


class Sampler:
    """Greedy when temperature is 0, else temperature + nucleus (top-p) sampling with a seeded generator.

    One generator per request makes a seeded request reproducible whatever else runs in the process.
    """

    def __init__(self, temperature: float = 0.0, top_p: float = 1.0, seed: int | None = None):
        if temperature < 0:
            raise ValueError("temperature must be >= 0")
        if not 0 < top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        self.temperature = temperature
        self.top_p = top_p
        self.rng = np.random.default_rng(seed)

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        """logits: [batch, vocab] -> next token ids: [batch]."""
        if self.temperature <= 0:
            return logits.argmax(axis=-1)
        scaled = logits.astype(np.float32, copy=False) / np.float32(self.temperature)
        vocab = scaled.shape[-1]
        if self.top_p >= 1.0:
            return self._draw(np.broadcast_to(np.arange(vocab), scaled.shape), scaled, logsumexp(scaled))
        shortlist = min(vocab, NUCLEUS_SHORTLIST)
        out = self._nucleus(scaled, shortlist)
        flat = np.flatnonzero(out < 0)
        if flat.size:
            out[flat] = self._nucleus(scaled[flat], vocab)
        return out

    def _nucleus(self, scaled: np.ndarray, k: int) -> np.ndarray:
        """Samples rows whose k most likely tokens hold at least top_p of the mass; -1 for the others."""
        vocab = scaled.shape[-1]
        ids = np.argpartition(-scaled, k - 1, axis=-1)[:, :k] if k < vocab else np.broadcast_to(np.arange(vocab), scaled.shape)
        values = np.take_along_axis(scaled, ids, axis=-1)
        order = np.argsort(-values, axis=-1, kind="stable")
        ids, values = np.take_along_axis(ids, order, axis=-1), np.take_along_axis(values, order, axis=-1)
        probs = np.exp(values - logsumexp(scaled)[:, None])
        before = np.cumsum(probs, axis=-1) - probs
        # Keep the smallest prefix whose mass reaches top_p; the most likely token always stays.
        probs = np.where(before < self.top_p, probs, 0.0)
        enough = before[:, -1] + probs[:, -1] >= self.top_p if k < vocab else np.ones(len(ids), dtype=bool)
        enough |= probs[:, -1] == 0.0
        chosen = self._draw_from(ids, probs)
        return np.where(enough, chosen, -1)

    def _draw(self, ids: np.ndarray, scaled: np.ndarray, lse: np.ndarray) -> np.ndarray:
        return self._draw_from(ids, np.exp(scaled - lse[:, None]))

    def _draw_from(self, ids: np.ndarray, weights: np.ndarray) -> np.ndarray:
        cumulative = np.cumsum(weights, axis=-1)
        targets = self.rng.random(len(weights)) * cumulative[:, -1]
        index = (cumulative <= targets[:, None]).sum(axis=-1)
        index = np.minimum(index, weights.shape[-1] - 1)
        return np.take_along_axis(ids, index[:, None], axis=-1)[:, 0].astype(np.int64)
