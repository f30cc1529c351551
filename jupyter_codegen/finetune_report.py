"""What the fine-tuning notebook shows while and after it trains: a live loss plot, and the model's answers on the
user's own held-out notebooks before and after, side by side."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .finetune import Progress


class LossPlot:
    """Train and held-out loss against steps, redrawn in place in the notebook as training goes (every `every`
    steps and at each evaluation), and saved as a PNG at the end."""

    def __init__(self, first_heldout: float | None = None, every: int = 5, live: bool = True):
        self.steps: list[int] = []
        self.train: list[float] = []
        self.heldout: list[tuple[int, float]] = [(0, first_heldout)] if first_heldout is not None else []
        self.every = every
        self._handle = None
        self._live = live

    def __call__(self, progress: Progress) -> None:
        if progress.train_loss is not None:
            self.steps.append(progress.step)
            self.train.append(progress.train_loss)
        if progress.heldout_loss is not None:
            self.heldout.append((progress.step, progress.heldout_loss))
        if self._live and (progress.heldout_loss is not None or progress.step % self.every == 0):
            self._show()

    def load(self, log: Sequence[dict]) -> "LossPlot":
        """The curves of a finished (or resumed) run, from its loss log."""
        self.steps = [e["step"] for e in log if e.get("train_loss") is not None]
        self.train = [e["train_loss"] for e in log if e.get("train_loss") is not None]
        self.heldout = [(e["step"], e["heldout_loss"]) for e in log if e.get("heldout_loss") is not None]
        return self

    def figure(self):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 3.5))
        if self.steps:
            ax.plot(self.steps, self.train, color="#9bb7d4", linewidth=1, label="train (per step)")
        if self.heldout:
            xs, ys = zip(*self.heldout)
            ax.plot(xs, ys, "o-", color="#c0392b", label="held-out notebooks")
        ax.set_xlabel("step")
        ax.set_ylabel("loss (nats per token)")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        plt.close(fig)
        return fig

    def save(self, png: str | Path) -> Path:
        path = Path(png)
        path.parent.mkdir(parents=True, exist_ok=True)
        self.figure().savefig(path, dpi=110)
        return path

    def _show(self) -> None:
        from IPython.display import display

        fig = self.figure()
        if self._handle is None:
            self._handle = display(fig, display_id=True)
        else:
            self._handle.update(fig)


def sample_prompts(texts: Sequence[str], n: int = 3) -> list[str]:
    """Up to `n` prompts from held-out notebooks: each document up to a code cell in its second half (the model
    writes that cell), so before and after are compared on the user's own unseen work."""
    prompts = []
    for text in texts:
        starts = [i for i in range(len(text)) if text.startswith("<cell>\n", i)]
        later = [i for i in starts if i >= len(text) // 2] or starts[-1:]
        if later:
            prompts.append(text[: later[0] + len("<cell>\n")])
        if len(prompts) == n:
            break
    return prompts


@dataclass
class Comparison:
    prompt_tail: str
    before: str
    after: str


def compare(before_engine, after_engine, prompts: Sequence[str], max_new_tokens: int = 48) -> list[Comparison]:
    """Each prompt's next cell as written by the model before and after fine-tuning (greedy, to the cell's end)."""
    from .engine import GenerationOptions

    options = GenerationOptions(max_new_tokens=max_new_tokens)
    rows = []
    for prompt in prompts:
        answers = []
        for engine in (before_engine, after_engine):
            continuation = engine.format.continuation(prompt)
            [c] = engine.generate(continuation.text, options.with_(stop=continuation.stop + ("</cell>",)))
            answers.append(c.text.strip())
        rows.append(Comparison(prompt.rstrip()[-160:], answers[0], answers[1]))
    return rows


def comparison_table(rows: Sequence[Comparison]) -> str:
    """The comparison as markdown, for IPython.display.Markdown."""
    def cell(text: str) -> str:
        return "<pre>" + text.replace("&", "&amp;").replace("<", "&lt;").replace("|", "&#124;").replace("\n", "<br>") + "</pre>"

    lines = ["| the notebook so far (end) | before | after |", "|---|---|---|"]
    lines += [f"| {cell(r.prompt_tail)} | {cell(r.before)} | {cell(r.after)} |" for r in rows]
    return "\n".join(lines)
