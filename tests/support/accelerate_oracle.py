"""Run accelerate 1.15's own `config` questions in-process with scripted answers.

The oracle for fidelity tests: it calls accelerate's real `get_user_input()` with `input()` and
the arrow-key menu replaced by a queue of typed answers (menus answered by label, "" = Enter),
and records every prompt it shows. Host detection functions are patched to simulate machines
(DeepSpeed importable, an fp8 backend, ...). Returns the dict accelerate would write, or the
exception it raised.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from unittest import mock

import yaml

from tui.core.host import HostCapabilities


class OutOfAnswers(Exception):
    pass


@dataclass
class OracleResult:
    prompts: list[str] = field(default_factory=list)
    config: dict[str, Any] | None = None
    error: BaseException | None = None
    consumed: int = 0


def _host_patches(host: HostCapabilities) -> dict[str, Any]:
    return {
        "is_deepspeed_available": lambda: host.deepspeed,
        "is_fp8_available": lambda: host.fp8,
        "is_hpu_available": lambda *a, **k: host.hpu,
        "is_mlu_available": lambda *a, **k: host.mlu,
        "is_mps_available": lambda *a, **k: host.mps,
        "is_msamp_available": lambda: host.msamp,
        "is_musa_available": lambda *a, **k: host.musa,
        "is_neuron_available": lambda *a, **k: host.neuron,
        "is_npu_available": lambda *a, **k: host.npu,
        "is_sdaa_available": lambda *a, **k: host.sdaa,
        "is_torchao_available": lambda: host.torchao,
        "is_transformer_engine_available": lambda: host.transformer_engine,
        "is_transformers_available": lambda: host.transformers,
        "is_xpu_available": lambda *a, **k: host.xpu,
    }


@contextlib.contextmanager
def _scripted(answers: list[str], result: OracleResult) -> Iterator[None]:
    from accelerate.commands.menu.selection_menu import BulletMenu

    queue = list(answers)

    def next_answer() -> str:
        if not queue:
            raise OutOfAnswers()
        result.consumed += 1
        return queue.pop(0)

    def fake_input(prompt: str = "") -> str:
        result.prompts.append(prompt)
        return next_answer()

    def fake_run(self: BulletMenu, default_choice: int = 0) -> int:
        result.prompts.append(self.prompt)
        # accelerate 1.15 passes a non-int default in one SageMaker menu; the real menu crashes.
        default_choice + 0  # noqa: B018  (raises TypeError exactly like BulletMenu.run does)
        text = next_answer()
        if text == "":
            return default_choice
        labels = [str(c).strip().lower() for c in self.choices]
        wanted = text.strip().lower()
        if wanted in labels:
            return labels.index(wanted)
        if wanted.isdigit() and not all(label.isdigit() for label in labels) and int(wanted) < len(labels):
            return int(wanted)
        raise ValueError(f"test answered a menu with {text!r}, not one of {labels}")

    with mock.patch.object(builtins, "input", fake_input), mock.patch.object(BulletMenu, "run", fake_run):
        yield


def run_accelerate_config(answers: list[str], host: HostCapabilities) -> OracleResult:
    import accelerate.commands.config.cluster as cluster
    import accelerate.commands.config.config as config

    result = OracleResult()
    patches = [mock.patch.object(cluster, name, fn) for name, fn in _host_patches(host).items()]
    # "Create new IAM role" calls boto3, not installed here: accelerate fails, as sftplay-tui refuses.
    with contextlib.ExitStack() as stack:
        for p in patches:
            stack.enter_context(p)
        stack.enter_context(mock.patch.dict("os.environ", {}))
        stack.enter_context(_scripted(answers, result))
        stack.enter_context(contextlib.redirect_stdout(None))  # type: ignore[type-var]
        try:
            cfg = config.get_user_input()
            # What lands in the file: yaml.safe_dump writes tuples as lists.
            result.config = yaml.safe_load(yaml.safe_dump(cfg.to_dict()))
        except OutOfAnswers as exc:
            result.error = exc
        except Exception as exc:  # accelerate's rejections: ValueError, AssertionError, ...
            result.error = exc
    return result
