"""The preset file schema: a named set of answers to accelerate's questions plus what goes with it.

A preset is data, validated strictly (unknown keys are errors): its name and title, a paragraph
describing it, the hardware it targets, the ANSWERS it gives to the question graph's questions
(question id -> value; the rest take the graph's defaults, so the config comes out of the same
walker and builder as the wizard), optional `overrides` (accelerate config keys no question sets,
dotted for nested), the environment variables it recommends for launching, training defaults
for the trainer, and short explanations shown by `presets show`.

Values that only make sense together (answers vs the graph, the built config's cross-field
rules, the hardware target vs the answers) are checked in `validation.py`; this module checks
each field on its own.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

NAME_PATTERN = r"^[a-z0-9][a-z0-9._-]{0,63}$"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

#: The order keys are written in (`dump_preset`) and listed in messages.
TOP_LEVEL_ORDER = (
    "name",
    "title",
    "description",
    "based_on",
    "hardware",
    "answers",
    "overrides",
    "env",
    "training",
    "explanations",
    "notes",
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def parse_compute_capability(value: Any) -> tuple[int, int]:
    """ "8.9", 8.9, [8, 9] or (8, 9) -> (8, 9); anything else raises ValueError."""
    if isinstance(value, bool):
        raise ValueError('expected a compute capability like "8.0"')
    if (
        isinstance(value, (list, tuple))
        and len(value) == 2
        and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value)
    ):
        return (int(value[0]), int(value[1]))
    if isinstance(value, (int, float)):
        value = f"{value:.1f}" if isinstance(value, int) else repr(value)
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d{1,2})\.(\d{1,2})\s*", value)
        if match:
            return (int(match.group(1)), int(match.group(2)))
    raise ValueError(
        'expected a compute capability like "8.0" (major.minor, as `nvidia-smi --query-gpu=compute_cap` prints)'
    )


class HardwareTarget(_Strict):
    """The machine a preset is made for; `match.py` compares it with a hardware record."""

    #: A regular expression searched (case-insensitively) in each GPU's name, e.g. "RTX 4090".
    #: None: any GPU model.
    gpu_pattern: StrictStr | None = None
    #: GPUs the preset uses on one machine; 0 means it runs on the CPU.
    gpu_count: StrictInt = Field(ge=0, le=64)
    min_memory_gib: StrictInt | float | None = Field(default=None, gt=0)
    min_compute_capability: tuple[int, int] | None = None
    #: Whether peer-to-peer access between the GPUs is expected (None: either works).
    p2p: StrictBool | None = None

    @field_validator("gpu_pattern")
    @classmethod
    def _pattern_compiles(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("is empty; leave it out to match any GPU")
        try:
            re.compile(value, re.IGNORECASE)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression ({exc})") from None
        return value

    @field_validator("min_compute_capability", mode="before")
    @classmethod
    def _capability(cls, value: Any) -> tuple[int, int] | None:
        return None if value is None else parse_compute_capability(value)

    @field_validator("min_memory_gib", mode="before")
    @classmethod
    def _memory(cls, value: Any) -> Any:
        if isinstance(value, bool) or (value is not None and not isinstance(value, (int, float))):
            raise ValueError("expected a number of GiB, e.g. 22")
        return value

    def describe(self) -> str:
        """ "2x RTX 4090 (>= 22 GiB, CC >= 8.9, no P2P)"; "CPU" for gpu_count 0."""
        if self.gpu_count == 0:
            return "CPU (no GPU needed)"
        model = self.gpu_pattern or "any GPU"
        extras: list[str] = []
        if self.min_memory_gib is not None:
            extras.append(f">= {self.min_memory_gib:g} GiB")
        if self.min_compute_capability is not None:
            extras.append("CC >= {}.{}".format(*self.min_compute_capability))
        if self.p2p is not None:
            extras.append("P2P" if self.p2p else "no P2P")
        suffix = f" ({', '.join(extras)})" if extras else ""
        return f"{self.gpu_count}x {model}{suffix}"


class TrainingDefaults(_Strict):
    """What the trainer starts from with this preset (each can be changed per run)."""

    per_device_train_batch_size: StrictInt = Field(ge=1, le=4096)
    gradient_accumulation_steps: StrictInt = Field(ge=1, le=65536)
    gradient_checkpointing: StrictBool
    max_seq_length: StrictInt = Field(ge=8, le=1_048_576)

    def as_args(self) -> list[str]:
        """The bundled trainer's arguments for these defaults (later arguments override them)."""
        return [
            "--per_device_train_batch_size",
            str(self.per_device_train_batch_size),
            "--gradient_accumulation_steps",
            str(self.gradient_accumulation_steps),
            "--gradient_checkpointing",
            "true" if self.gradient_checkpointing else "false",
            "--max_seq_length",
            str(self.max_seq_length),
        ]


class Preset(_Strict):
    name: str = Field(pattern=NAME_PATTERN)
    title: StrictStr = Field(min_length=1, max_length=80)
    description: StrictStr = Field(min_length=1)
    #: The preset this one was copied from (`presets cp`); the editor diffs against it.
    based_on: StrictStr | None = None
    hardware: HardwareTarget
    #: Question id -> value, as the wizard's answers (see `tui.core.graph`).
    answers: dict[str, Any] = Field(default_factory=dict)
    #: accelerate config keys (dotted for nested) set after building, for keys no question sets.
    overrides: dict[str, Any] = Field(default_factory=dict)
    env: dict[str, str] = Field(default_factory=dict)
    training: TrainingDefaults
    #: Config key (dotted), env variable or training field -> one or two sentences.
    explanations: dict[str, StrictStr] = Field(default_factory=dict)
    notes: list[StrictStr] = Field(default_factory=list)

    @field_validator("name", mode="before")
    @classmethod
    def _name_is_text(cls, value: Any) -> Any:
        if not isinstance(value, str):
            raise ValueError("expected text such as rtx4090-2x")
        return value

    @field_validator("title")
    @classmethod
    def _one_line(cls, value: str) -> str:
        if "\n" in value.strip():
            raise ValueError("must be one line")
        return value.strip()

    @field_validator("env", mode="before")
    @classmethod
    def _env_values(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out: dict[Any, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str) or not ENV_NAME.match(key):
                raise ValueError(f"{key!r} is not an environment variable name (letters, digits, _)")
            if isinstance(item, bool) or not isinstance(item, (str, int)):
                shown = "true/false" if isinstance(item, bool) else type(item).__name__
                raise ValueError(f'{key}: the value is {shown}; environment values are text: quote it, e.g. {key}: "1"')
            out[key] = str(item)
        return out

    @field_validator("answers", "overrides", "explanations", mode="before")
    @classmethod
    def _text_keys(cls, value: Any) -> Any:
        if isinstance(value, dict):
            for key in value:
                if not isinstance(key, str):
                    raise ValueError(f"the key {key!r} is not text")
        return value
