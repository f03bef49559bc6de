"""TPU (XLA) questions: the training function and TPU-pod cluster settings.

accelerate asks "Please enter a single command" and "Do you wish to add another command?" in a
loop; the graph unrolls the loop into numbered questions (`tpu_command_0`, `tpu_add_another_0`, ...)
so every question stays a plain record with a stable id.
"""

from __future__ import annotations

import os
from typing import Any

from tui.core.graph.kit import field, yes_no
from tui.core.graph.state import XLA, Draft
from tui.core.questions import Kind, Question

SECTION = "TPU"
MAX_TPU_COMMANDS = 32


def _xla(draft: Draft) -> bool:
    return not draft.sagemaker and draft.distributed_type == XLA


def _cluster(draft: Draft) -> bool:
    return _xla(draft) and draft.tpu_use_cluster


def _commands(draft: Draft) -> bool:
    return _cluster(draft) and bool(draft.answered("tpu_run_commands"))


def _set_use_cluster(draft: Draft, value: Any) -> None:
    draft.tpu_use_cluster = value


def _set_command_file(draft: Draft, value: Any) -> None:
    draft.tpu_command_file = os.path.abspath(value)


def _too_many_commands(_draft: Draft, value: Any) -> str | None:
    if value:
        return f"sftplay-tui takes at most {MAX_TPU_COMMANDS} start-up commands; put more in a bash script."
    return None


def _command_questions() -> list[Question]:
    """The unrolled "one command / another?" loop of accelerate."""
    questions: list[Question] = []
    for index in range(MAX_TPU_COMMANDS):

        def asked(draft: Draft, index: int = index) -> bool:
            if not (_commands(draft) and draft.answered("tpu_use_command_file") is False):
                return False
            return index == 0 or bool(draft.answered(f"tpu_add_another_{index - 1}"))

        def add_command(draft: Draft, value: Any) -> None:
            if draft.tpu_commands is None:
                draft.tpu_commands = []
            draft.tpu_commands.append(value)

        questions.append(
            field(
                f"tpu_command_{index}",
                f"Start-up command {index + 1}",
                "Please enter a single command to be ran ",
                kind=Kind.TEXT,
                error_message="Please enter the commands you wish to run on startup in each pod as a single string.",
                section=SECTION,
                when=asked,
                apply=add_command,
                explain="One shell command each TPU VM runs before training, e.g. `pip install -r requirements.txt`.",
            )
        )
        last = index == MAX_TPU_COMMANDS - 1
        questions.append(
            yes_no(
                f"tpu_add_another_{index}",
                "Another command",
                "Do you wish to add another command? [yes/NO]: ",
                section=SECTION,
                when=asked,
                reject=_too_many_commands if last else None,
                explain="Yes to enter one more start-up command, no when done.",
            )
        )
    return questions


QUESTIONS = [
    field(
        "main_training_function",
        "Training function",
        "What is the name of the function in your script that should be launched in all parallel scripts? [main]: ",
        kind=Kind.TEXT,
        default="main",
        section=SECTION,
        when=_xla,
        sets="main_training_function",
        explain="The function accelerate calls on each TPU core (xmp.spawn), usually main.",
    ),
    yes_no(
        "tpu_use_cluster",
        "TPU pod",
        "Are you using a TPU cluster? [yes/NO]: ",
        section=SECTION,
        when=_xla,
        sets="tpu_use_cluster",
        apply=_set_use_cluster,
        explain="Yes for a TPU pod (several TPU VMs): accelerate then starts the script on every VM.",
    ),
    field(
        "tpu_name",
        "TPU name",
        "What is the name of your TPU cluster? ",
        kind=Kind.TEXT,
        error_message="Please enter the name of your TPU cluster.",
        section=SECTION,
        when=_cluster,
        sets="tpu_name",
        explain="The TPU pod's name as `gcloud compute tpus tpu-vm list` shows it.",
    ),
    field(
        "tpu_zone",
        "TPU zone",
        "What is the zone of your TPU cluster? ",
        kind=Kind.TEXT,
        error_message="Please enter the zone of your TPU cluster.",
        section=SECTION,
        when=_cluster,
        sets="tpu_zone",
        explain="The Google Cloud zone of the pod, e.g. us-central2-b.",
    ),
    field(
        "tpu_use_sudo",
        "sudo on the pod",
        "To run a python script in a TPU pod, should `sudo` be used? [yes/NO]: ",
        kind=Kind.TEXT,
        default=False,
        error_message="Please enter yes or no.",
        section=SECTION,
        when=_cluster,
        sets="tpu_use_sudo",
        explain=(
            "Whether the script runs with sudo on each VM. accelerate 1.15 stores what you type here as "
            "text (Enter stores false)."
        ),
    ),
    yes_no(
        "tpu_run_commands",
        "Start-up commands",
        "Do you have code you wish to run on startup in each pod? [yes/NO]: ",
        section=SECTION,
        when=_cluster,
        explain="Yes to run set-up commands (installs, mounts) on every VM before training.",
    ),
    yes_no(
        "tpu_use_command_file",
        "Commands in a script",
        "Is this code located in a bash script? [yes/NO]: ",
        section=SECTION,
        when=_commands,
        explain="Yes to give a bash script; no to type the commands one by one.",
    ),
    field(
        "tpu_command_file",
        "Start-up script",
        "What is the path to your bash script? ",
        kind=Kind.TEXT,
        error_message="Please enter the path to your bash script.",
        section=SECTION,
        when=lambda d: _commands(d) and bool(d.answered("tpu_use_command_file")),
        sets="command_file",
        apply=_set_command_file,
        explain="The bash script each VM runs at start-up; stored as an absolute path.",
    ),
    *_command_questions(),
    field(
        "tpu_vm",
        "Compute VMs",
        "If not using an instance group, what are the names of the Compute VM instances to be used, separated by a comma: ",
        kind=Kind.TEXT,
        default="",
        section=SECTION,
        when=_cluster,
        apply=lambda d, v: setattr(d, "tpu_vm", str(v).split(",")),
        explain="The VM names, comma-separated, when the pod is not an instance group.",
    ),
    field(
        "tpu_env",
        "Pod environment",
        "What environment variables do you wish to set in each pod, separated by a comma: ",
        kind=Kind.TEXT,
        default="",
        section=SECTION,
        when=_cluster,
        apply=lambda d, v: setattr(d, "tpu_env", str(v).split(",")),
        explain="Environment variables for every VM, comma-separated: `XLA_USE_BF16=1,PJRT_DEVICE=TPU`.",
    ),
]
