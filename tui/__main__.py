"""`python -m tui` behaves exactly as the `sftplay-tui` command."""

from tui.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
