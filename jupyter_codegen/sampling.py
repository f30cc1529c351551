"""Choosing the next token from logits, in numpy, so inference needs no torch."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Stable log-softmax over the last axis, in float64 so sums of many tokens stay exact enough to rank."""
    x = logits.astype(np.float64, copy=False)
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


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
        probs = np.exp(log_softmax(logits / self.temperature))
        return np.array([self._sample_row(row) for row in probs], dtype=np.int64)

    def _sample_row(self, probs: np.ndarray) -> int:
        if self.top_p < 1.0:
            order = np.argsort(-probs, kind="stable")
            cumulative = np.cumsum(probs[order])
            # Keep the smallest prefix whose mass reaches top_p; the most likely token always stays.
            keep = int(np.searchsorted(cumulative, self.top_p) + 1)
            kept = order[:keep]
            weights = probs[kept] / probs[kept].sum()
            return int(kept[self.rng.choice(len(kept), p=weights)])
        return int(self.rng.choice(len(probs), p=probs / probs.sum()))
