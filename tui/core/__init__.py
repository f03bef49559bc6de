"""The decision-making core of sftplay-tui.

Everything that decides lives here: the accelerate question graph, the config model and writer,
presets, hardware probes, checks, launching and run bookkeeping. It imports no Textual (an
import-linter contract enforces it) and never imports torch, transformers or accelerate at module
level, so every front end starts fast.
"""
