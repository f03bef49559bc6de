"""sftplay-tui: set up, check and run multi-GPU fine-tuning with Hugging Face accelerate."""

__version__ = "0.1.0"
