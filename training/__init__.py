"""The training side of sftplay-tui: the SFT script `accelerate launch` runs, and its helpers.

Imported by the training process only (it needs torch and transformers); the TUI never imports it
at start-up. `sft_train.py` is the entry point; the SFTPLAY_METRIC line format it prints is
defined in `metrics_protocol.py` (standard library only).
"""
