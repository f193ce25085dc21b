"""Assembling a run: the one path from a scenario source, overrides, an output folder and a mode
(new, resume, replay, dry-run, play) to a ready Session (`assemble`)."""

from .assemble import MODES, Overrides, Prepared, assemble

__all__ = ["MODES", "Overrides", "Prepared", "assemble"]
