"""Headless subcommands of `sftplay-tui`, one module each (see `tui/cli.py` for the contract)."""
