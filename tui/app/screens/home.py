"""The first screen: where the config goes, what is there now, and what to do next."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

#: (action id, label, hint). The app decides which actions it offers.
HomeAction = tuple[str, str, str]


def summarize_existing(path: Path) -> Text:
    """One line about the config already at `path` (read with plain YAML: no heavy imports)."""
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return Text("No config there yet: accelerate launch would ask you to run `accelerate config`.", style="dim")
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return Text(f"The current file cannot be read as YAML ({exc.__class__.__name__}).", style="red")
    if not isinstance(data, dict):
        return Text("The current file is not a mapping of keys.", style="red")
    parts = [f"{k}={data[k]}" for k in ("distributed_type", "num_processes", "mixed_precision") if k in data]
    return Text("Current: " + ", ".join(parts), style="cyan")


class HomeScreen(Screen[None]):
    BINDINGS = [Binding("q", "app.quit", "Quit")]

    def __init__(self, target: Path, actions: list[HomeAction]) -> None:
        super().__init__()
        self.target = target
        self.actions = actions

    def compose(self) -> ComposeResult:
        with Vertical(id="home"):
            yield Static(
                Text("sftplay-tui", style="bold") + Text("  set up and run accelerate fine-tuning"),
                id="title",
            )
            yield Static(Text.assemble(("Config  ", "dim"), (str(self.target), "bold")), id="home-target")
            yield Static(summarize_existing(self.target), id="home-current")
            options = [
                Option(Text.assemble((label, "bold"), (f"  {hint}", "dim")), id=action)
                for action, label, hint in self.actions
            ]
            yield OptionList(*options, id="home-actions")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#home-actions").focus()

    def on_screen_resume(self) -> None:
        self.query_one("#home-current", Static).update(summarize_existing(self.target))

    @on(OptionList.OptionSelected, "#home-actions")
    async def _chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id:
            await self.app.run_action(event.option.id)
