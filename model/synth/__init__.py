"""Synthetic, executed data-exploration conversations for the embedded model (see README.md)."""
