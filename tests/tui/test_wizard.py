"""Drive the wizard by keys, as a person would, and check the file it writes."""

from __future__ import annotations

from pathlib import Path

import yaml

from tui.app.app import SftplayApp
from tui.app.messages import ConfigWritten
from tui.app.screens.review import ReviewScreen
from tui.app.screens.wizard import WizardScreen
from tui.app.widgets.question_field import QuestionField
from tui.core.hardware import load_snapshot
from tui.core.host import HostCapabilities

GOLDENS = Path(__file__).resolve().parents[1] / "fixtures" / "accelerate_goldens"


NO_GPU = load_snapshot(Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "snapshots" / "no-gpu.json")


def make_app(target: Path) -> SftplayApp:
    # A fixed machine (no GPU) so the pre-selected suggestions are the same everywhere.
    app = SftplayApp(config_file=str(target), start="wizard", hardware=NO_GPU)
    app.host = HostCapabilities(transformers=True)
    app.session.host = app.host
    return app


async def answer(pilot, *keys: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*keys)
    await pilot.pause()


async def test_ddp_path_by_keys_writes_the_golden(tmp_path: Path) -> None:
    target = tmp_path / "cfg.yaml"
    written: list[ConfigWritten] = []
    app = make_app(target)

    def hook(message: object) -> None:
        # The message bubbles from the review screen to the app: count each one once.
        if isinstance(message, ConfigWritten) and all(message is not seen for seen in written):
            written.append(message)

    async with app.run_test(size=(120, 40), message_hook=hook) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WizardScreen)
        await answer(pilot, "enter")  # This machine
        await answer(pilot, "4", "enter")  # multi-GPU (digit picks, Enter accepts)
        for _ in range(6):  # machines, checks, dynamo, DeepSpeed, FSDP, Megatron: defaults
            await answer(pilot, "enter")
        await answer(pilot, "2", "enter")  # GPUs
        await answer(pilot, "enter")  # ids: all
        await answer(pilot, "enter")  # NUMA: no
        await answer(pilot, "2", "enter")  # bf16
        assert isinstance(app.screen, ReviewScreen)
        await answer(pilot, "w")
    assert yaml.safe_load(target.read_text()) == yaml.safe_load((GOLDENS / "a_ddp_2gpu_bf16.yaml").read_text())
    assert [m.path for m in written] == [target]


async def test_fsdp_path_with_back_and_invalid_input(tmp_path: Path) -> None:
    target = tmp_path / "fsdp.yaml"
    app = make_app(target)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await answer(pilot, "enter")
        await answer(pilot, "down", "down", "down", "down", "enter")  # arrows to multi-GPU
        await answer(pilot, "t", "w", "o", "enter")  # invalid number of machines: rejected in place
        field = app.screen.query_one(QuestionField)
        assert "integer" in str(field.query_one("#error").render())
        assert app.session.current().id == "num_machines"
        await answer(pilot, "backspace", "backspace", "backspace", "enter")
        for _ in range(3):  # checks, dynamo, DeepSpeed
            await answer(pilot, "enter")
        await answer(pilot, "y")  # FSDP: yes (y key answers yes/no questions)
        assert app.session.current().id == "fsdp_version"
        await answer(pilot, "enter")  # FSDP 2 (the default)
        await answer(pilot, "escape")  # Back to the version question, keeping the answer
        assert app.session.current().id == "fsdp_version"
        await answer(pilot, "enter")
        await answer(pilot, "enter")  # reshard after forward: yes
        await answer(pilot, "n")  # offload: no
        await answer(pilot, "enter")  # TRANSFORMER_BASED_WRAP
        await answer(pilot, "n")  # do not use _no_split_modules
        await pilot.press(*"LlamaDecoderLayer")
        await answer(pilot, "enter")
        await answer(pilot, "enter")  # SHARDED_STATE_DICT
        await answer(pilot, "enter")  # cpu ram efficient: yes
        await answer(pilot, "y")  # activation checkpointing
        await answer(pilot, "enter")  # no parallelism config
        await answer(pilot, "8", "enter")
        await answer(pilot, "2", "enter")  # bf16
        assert isinstance(app.screen, ReviewScreen)
        await answer(pilot, "w")
    data = yaml.safe_load(target.read_text())
    assert data["distributed_type"] == "FSDP"
    assert data["num_processes"] == 8
    assert data["fsdp_config"] == {
        "fsdp_activation_checkpointing": True,
        "fsdp_auto_wrap_policy": "TRANSFORMER_BASED_WRAP",
        "fsdp_cpu_ram_efficient_loading": True,
        "fsdp_offload_params": False,
        "fsdp_reshard_after_forward": True,
        "fsdp_state_dict_type": "SHARDED_STATE_DICT",
        "fsdp_transformer_layer_cls_to_wrap": "LlamaDecoderLayer",
        "fsdp_version": 2,
    }


async def test_multinode_path_and_change_an_answer_from_review(tmp_path: Path) -> None:
    target = tmp_path / "node.yaml"
    target.write_text("old: file\n")
    app = make_app(target)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await answer(pilot, "enter")
        await answer(pilot, "4", "enter")
        await answer(pilot, "2", "enter")  # two machines
        await answer(pilot, "1", "enter")  # this is rank 1
        await pilot.press(*"10.0.0.1")
        await answer(pilot, "enter")
        await pilot.press(*"29500")
        await answer(pilot, "enter")
        for _ in range(6):  # same network .. Megatron: defaults
            await answer(pilot, "enter")
        await pilot.press(*"16")
        await answer(pilot, "enter")
        await answer(pilot, "enter")
        await answer(pilot, "enter")
        await answer(pilot, "enter")  # no mixed precision
        assert isinstance(app.screen, ReviewScreen)
        # Change the rank from the review screen, then accept everything else as remembered.
        await answer(pilot, "c")
        await answer(pilot, "down", "down", "down", "enter")
        assert app.session.current().id == "machine_rank"
        await answer(pilot, "0", "enter")
        await answer(pilot, "ctrl+r")
        assert isinstance(app.screen, ReviewScreen)
        await answer(pilot, "w")
    data = yaml.safe_load(target.read_text())
    assert (
        data["num_machines"],
        data["machine_rank"],
        data["main_process_ip"],
        data["main_process_port"],
    ) == (2, 0, "10.0.0.1", 29500)
    assert data["num_processes"] == 16
    backups = list(tmp_path.glob("node.yaml.*.bak"))
    assert len(backups) == 1 and backups[0].read_text() == "old: file\n"


async def test_rejected_combination_stays_on_the_question(tmp_path: Path) -> None:
    app = make_app(tmp_path / "x.yaml")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await answer(pilot, "enter")
        await answer(pilot, "4", "enter")
        for _ in range(6):
            await answer(pilot, "enter")
        await answer(pilot, "enter")  # one GPU with multi-GPU: accelerate stops here
        assert app.session.current().id == "num_processes"
        error = str(app.screen.query_one(QuestionField).query_one("#error").render())
        assert "No distributed training" in error
    assert not (tmp_path / "x.yaml").exists()


async def test_escape_on_first_question_returns_home(tmp_path: Path) -> None:
    app = make_app(tmp_path / "x.yaml")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await answer(pilot, "escape")
        assert type(app.screen).__name__ == "HomeScreen"


async def test_review_writes_the_multinode_config_set(tmp_path: Path) -> None:
    from textual.widgets import Input

    from tui.app.screens.modals.config_set import ConfigSetModal

    app = make_app(tmp_path / "node.yaml")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await answer(pilot, "enter")
        await answer(pilot, "4", "enter")
        await answer(pilot, "2", "enter")  # two machines
        await answer(pilot, "enter")  # rank 0
        await pilot.press(*"10.0.0.1")
        await answer(pilot, "enter")
        await pilot.press(*"29500")
        await answer(pilot, "enter")
        for _ in range(6):
            await answer(pilot, "enter")
        await pilot.press(*"16")
        await answer(pilot, "enter")
        for _ in range(3):
            await answer(pilot, "enter")
        assert isinstance(app.screen, ReviewScreen)
        await answer(pilot, "m")
        assert isinstance(app.screen, ConfigSetModal)
        app.screen.query_one("#out", Input).value = str(tmp_path / "set")
        app.screen.query_one("#hosts", Input).value = "n1,n2"
        await pilot.click("#write-set")
        await pilot.pause()
    names = sorted(p.name for p in (tmp_path / "set").iterdir())
    assert names == ["README.md", "launch-ssh.sh", "machine-0.yaml", "machine-1.yaml"]
    assert "machine-1.yaml" in (tmp_path / "set" / "README.md").read_text()


async def test_suggestions_from_the_hardware_and_unavailable_precisions(tmp_path: Path) -> None:
    v100 = load_snapshot(Path(__file__).resolve().parents[1] / "fixtures" / "hardware" / "snapshots" / "v100-4x.json")
    app = SftplayApp(config_file=str(tmp_path / "v.yaml"), start="wizard", hardware=v100)
    app.host = HostCapabilities(transformers=True)
    app.session.host = app.host
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await answer(pilot, "enter")
        await answer(pilot, "enter")  # the machine type pre-selected for 4 GPUs: multi-GPU
        assert app.session.answers()["distributed_type"] == "MULTI_GPU"
        for _ in range(6):
            await answer(pilot, "enter")
        field = app.screen.query_one(QuestionField)
        assert field.question.id == "num_processes"
        assert "Pre-selected for this machine" in str(field.query_one("#note").render())
        await answer(pilot, "enter")  # 4, the suggestion
        await answer(pilot, "enter")
        await answer(pilot, "enter")
        field = app.screen.query_one(QuestionField)
        assert field.question.id == "mixed_precision"
        options = field.query_one("#answer")
        bf16 = str(options.get_option_at_index(2).prompt)
        assert "compute capability 7.0" in bf16  # marked, not hidden
        await answer(pilot, "enter")  # fp16 pre-selected on V100
        assert isinstance(app.screen, ReviewScreen)
        await answer(pilot, "w")
    data = yaml.safe_load((tmp_path / "v.yaml").read_text())
    assert (data["num_processes"], data["mixed_precision"]) == (4, "fp16")


async def test_answers_by_mouse(tmp_path: Path) -> None:
    from textual.widgets import OptionList

    app = make_app(tmp_path / "cfg.yaml")
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await answer(pilot, "enter")  # This machine
        assert app.session.current().id == "distributed_type"
        options = app.screen.query_one("#answer", OptionList)
        labels = [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
        target = next(i for i, label in enumerate(labels) if "multi-GPU" in label)
        # The option's first line inside the list (options with an explanation take two lines).
        line = options.styles.gutter.top + options._index_to_line[target] - int(options.scroll_offset.y)
        assert await pilot.click(options, offset=(4, line))  # a click on an option chooses it
        await pilot.pause()
        assert app.session.answers()["distributed_type"] == "MULTI_GPU"
        assert app.session.current().id == "num_machines"
