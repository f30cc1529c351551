"""Generated text as it grows: cut at stop strings, and stream only what can no longer change.

Shared by the local and the remote engines so both cut and stream the same way.
"""

from __future__ import annotations

from typing import Sequence

_REPLACEMENT = "\ufffd"  # a token that ends inside a multi-byte character decodes to this until the rest arrives


class TextStream:
    def __init__(self, stops: Sequence[str] = ()):
        self.stops = tuple(s for s in stops if s)
        self._longest = max((len(s) for s in self.stops), default=0)
        self.text = ""
        self.stopped = False
        self._emitted = 0

    def update(self, full_text: str, hold_from: int | None = None) -> str:
        """Take the whole text generated so far; return the part that is new and safe to show.

        `hold_from`: nothing from there on is shown yet, since generation may still go back and write it again
        (the column guard's rewind); it must not be before what was already shown.
        """
        if self.stopped:
            return ""
        cut = self._find_stop(full_text)
        if cut is not None:
            self.stopped = True
            self.text = full_text[:cut]
            return self._emit(len(self.text) if hold_from is None else min(len(self.text), hold_from))
        self.text = full_text
        safe = len(full_text) - self._held_back(full_text)
        return self._emit(safe if hold_from is None else min(safe, hold_from))

    def finish(self) -> str:
        """Everything not shown yet, once generation is over."""
        return self._emit(len(self.text))

    def _find_stop(self, text: str) -> int | None:
        start = max(0, self._emitted - self._longest)
        hits = [i for i in (text.find(s, start) for s in self.stops) if i >= 0]
        return min(hits) if hits else None

    def _held_back(self, text: str) -> int:
        """Length of the tail that could still become a stop string or a whole character."""
        hold = 0
        for stop in self.stops:
            for k in range(min(len(stop) - 1, len(text)), hold, -1):
                if text.endswith(stop[:k]):
                    hold = k
                    break
        while hold < len(text) and text[len(text) - hold - 1] == _REPLACEMENT:
            hold += 1
        return hold

    def _emit(self, upto: int) -> str:
        upto = max(upto, self._emitted)
        delta = self.text[self._emitted : upto]
        self._emitted = upto
        return delta
