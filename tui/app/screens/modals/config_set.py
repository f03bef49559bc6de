"""Write the multi-node config set from the review screen: folder, hosts, SLURM; then the summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markdown import Markdown
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Static

from tui.core.errors import UsageError
from tui.core.paths import bundled_training_script


class ConfigSetModal(ModalScreen[list[Path] | None]):
    """Ask where to write the set; write it with `tui.core.multinode`; show what to run where."""

    BINDINGS = [Binding("escape", "dismiss(None)", "Close")]
    DEFAULT_CSS = """
    ConfigSetModal { align: center middle; }
    ConfigSetModal > Vertical {
        width: 100; height: 90%; border: thick $primary; background: $surface; padding: 1 2;
    }
    ConfigSetModal Input { margin-bottom: 1; }
    ConfigSetModal #summary { height: 1fr; border: round $panel; }
    ConfigSetModal #error { color: $error; height: auto; }
    ConfigSetModal Horizontal { height: auto; }
    """

    def __init__(self, config: dict[str, Any], default_dir: Path) -> None:
        super().__init__()
        self.config = config
        self.default_dir = default_dir

    def compose(self) -> ComposeResult:
        machines = self.config.get("num_machines")
        with Vertical():
            yield Static(Text(f"Write the config set for {machines} machines", style="bold"))
            yield Static("Folder for machine-<rank>.yaml, README.md and scripts:")
            yield Input(str(self.default_dir), id="out")
            yield Static("Hosts, rank 0 first, comma-separated (optional: writes launch-ssh.sh):")
            yield Input(placeholder="node1,node2", id="hosts")
            yield Checkbox("Also write an sbatch script for SLURM", id="slurm")
            yield Static("", id="error")
            with VerticalScroll(id="summary"):
                yield Static("", id="summary-text")
            with Horizontal():
                yield Button("Write the set", id="write-set", variant="primary")
                yield Button("Close", id="close")

    @on(Button.Pressed, "#write-set")
    def write_set(self) -> None:
        from tui.core.multinode import plan_cluster, write_cluster

        out = Path(self.query_one("#out", Input).value.strip() or str(self.default_dir)).expanduser()
        hosts_text = self.query_one("#hosts", Input).value
        hosts = [h.strip() for h in hosts_text.split(",") if h.strip()] or None
        slurm = self.query_one("#slurm", Checkbox).value
        try:
            plan = plan_cluster(
                self.config, script=str(bundled_training_script()), hosts=hosts, config_dir=out.resolve()
            )
            files = write_cluster(plan, out, slurm=slurm, ssh=hosts is not None)
        except UsageError as exc:
            self.query_one("#error", Static).update(exc.message)
            return
        self.query_one("#error", Static).update("")
        listing = "\n".join(f"- `{p}`" for p in files)
        self.query_one("#summary-text", Static).update(Markdown(plan.summary() + "\n## Written\n\n" + listing))
        self.written = files

    @on(Button.Pressed, "#close")
    def close(self) -> None:
        self.dismiss(getattr(self, "written", None))
