"""Differential fidelity: our question graph vs accelerate 1.15's own `get_user_input()`.

Random answer scripts (valid and invalid answers, every branch) are typed into both. For each
script the two must show the same prompts in the same order, fail on the same answer, and write
the same config. Hosts are simulated the way accelerate detects them (DeepSpeed importable, fp8
backends, NPU/XPU/MPS/Neuron machines), so rules that depend on the machine are covered too.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.accelerate_oracle import run_accelerate_config
from tests.support.random_answers import random_script
from tui.core.accelerate_config import dump_config, validate_config
from tui.core.answers import ReplayError, replay_answers
from tui.core.graph import QUESTIONS
from tui.core.host import HostCapabilities
from tui.core.session import WizardSession

HOSTS = [
    HostCapabilities(transformers=True),
    HostCapabilities(transformers=True, deepspeed=True),
    HostCapabilities(deepspeed=True, torchao=True, transformer_engine=True, msamp=True),
    HostCapabilities(npu=True, deepspeed=True, transformers=True),
    HostCapabilities(mps=True, transformers=True),
    HostCapabilities(neuron=True, deepspeed=True),
    HostCapabilities(xpu=True, transformers=True, torchao=True),
]


def _compare(script: list[str], host: HostCapabilities, tmp_path: Path | None = None) -> set[str]:
    oracle = run_accelerate_config(script, host)
    try:
        ours = replay_answers(script, host)
    except ReplayError as exc:
        assert oracle.error is not None, f"we rejected {script!r} ({exc.message}) but accelerate accepted it"
        # accelerate shows the next prompt before some crashes; everything we showed it showed too.
        assert oracle.prompts[: len(exc.prompts)] == exc.prompts
        return set()
    assert oracle.error is None, f"accelerate raised {oracle.error!r} for {script!r}; we accepted it"
    assert ours.prompts == oracle.prompts
    assert ours.config == oracle.config
    assert validate_config(ours.config) == []
    if tmp_path is not None:
        from accelerate.commands.config.config_args import load_config_from_file

        target = tmp_path / "config.yaml"
        target.write_text(dump_config(ours.config))
        if ours.config["compute_environment"] == "AMAZON_SAGEMAKER" and ours.config["distributed_type"] == "NO":
            # accelerate 1.15 cannot read back its own SageMaker config without distribution: its
            # loader adds num_processes, which SageMakerConfig lacks. Same file as accelerate, same bug.
            with pytest.raises(ValueError, match="num_processes"):
                load_config_from_file(str(target))
        else:
            loaded = load_config_from_file(str(target))
            assert loaded.distributed_type.value == ours.config["distributed_type"]
    return set(ours.session.remembered)


def test_random_sessions_match_accelerate(tmp_path: Path) -> None:
    reached: set[str] = set()
    for seed in range(1500):
        host = HOSTS[seed % len(HOSTS)]
        script = random_script(WizardSession(host=host), random.Random(seed))
        reached |= _compare(script, host, tmp_path if seed % 25 == 0 else None)
    for host, script in DEEP_SCRIPTS:
        reached |= _compare(script, host, tmp_path)
    # Every question of the graph was exercised (the TPU command loop beyond a few turns aside).
    expected = {q.id for q in QUESTIONS if not q.id.startswith(("tpu_command_", "tpu_add_another_"))}
    assert expected - reached == set()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(min_value=0, max_value=2**32 - 1), host=st.sampled_from(HOSTS))
def test_hypothesis_sessions_match_accelerate(seed: int, host: HostCapabilities) -> None:
    script = random_script(WizardSession(host=host), random.Random(seed))
    _compare(script, host)


DEEP_SCRIPTS = [
    # TPU pod with a loop of three start-up commands.
    (
        HostCapabilities(transformers=True),
        [
            "This machine",
            "TPU",
            "",
            "",
            "train",
            "yes",
            "my-pod",
            "us-central2-b",
            "",
            "yes",
            "no",
            "pip install -r req.txt",
            "yes",
            "echo hi",
            "yes",
            "ls",
            "no",
            "vm1,vm2",
            "A=1,B=2",
        ],
    ),
    # DeepSpeed ZeRO-3, NVMe offload, multi-node with the pdsh launcher and both filters.
    (
        HostCapabilities(transformers=True, deepspeed=True),
        [
            "This machine",
            "multi-GPU",
            "2",
            "1",
            "10.0.0.1",
            "29500",
            "no",
            "c10d",
            "",
            "",
            "yes",
            "",
            "3",
            "nvme",
            "nvme",
            "/nvme/p",
            "/nvme/o",
            "2",
            "yes",
            "",
            "yes",
            "yes",
            "yes",
            "MixtralSparseMoeBlock",
            "pdsh",
            "/job/hostfile",
            "yes",
            "node1:0",
            "yes",
            "node2",
            "16",
            "bf16",
        ],
    ),
    # fp8 with TransformerEngine, every GEMM override asked.
    (
        HostCapabilities(transformers=True, transformer_engine=True),
        [
            "This machine",
            "multi-GPU",
            "",
            "",
            "",
            "",
            "",
            "",
            "4",
            "",
            "",
            "fp8",
            "te",
            "no",
            "0",
            "1",
            "E4M3",
            "",
            "most_recent",
            "yes",
            "yes",
            "no",
            "yes",
        ],
    ),
]


@pytest.mark.parametrize(("host", "script"), DEEP_SCRIPTS)
def test_deep_branches_match_accelerate(host: HostCapabilities, script: list[str]) -> None:
    reached = _compare(script, host)
    assert reached, "the script should complete"
