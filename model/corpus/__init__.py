"""The real-code part of the embedded model's training data (see `build` and ``python -m model.corpus --help``)."""
