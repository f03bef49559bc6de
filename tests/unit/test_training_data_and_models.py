"""Data loading/normalisation, the embedded model cache, and model-setup errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from training.arguments import DataArguments
from training.data_loading import DataError, load_data
from training.embedded import DEFAULT_DATA, MARKER, ensure_embedded_model


def _write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_bundled_chat_data_is_small_and_chat_shaped(tmp_path: Path) -> None:
    total = sum(p.stat().st_size for p in DEFAULT_DATA.parent.iterdir() if p.is_file())
    assert total < 1_000_000
    data = load_data(DataArguments(), cache_dir=str(tmp_path))
    assert data.format == "chat" and data.train.column_names == ["messages"] and len(data.train) >= 500


def test_prompt_response_columns_become_prompt_completion_and_extras_are_dropped(tmp_path: Path) -> None:
    path = _write_jsonl(tmp_path / "d.jsonl", [{"question": f"q{i}", "answer": f"a{i}", "id": i} for i in range(10)])
    args = DataArguments(data_path=str(path), prompt_column="question", response_column="answer", eval_fraction=0.2)
    data = load_data(args, cache_dir=str(tmp_path / "cache"))
    assert data.format == "prompt_completion" and data.train.column_names == ["prompt", "completion"]
    assert len(data.train) == 8 and data.eval is not None and len(data.eval) == 2
    assert list((tmp_path / "cache").iterdir()), "--cache_dir was not used for the dataset"


@pytest.mark.parametrize(
    ("setup", "expected"),
    [
        (lambda p: str(p / "missing.jsonl"), "data file not found"),
        (lambda p: str(_write_jsonl(p / "d.csv", [{"a": 1}])), "unsupported file type '.csv'"),
        (lambda p: str(_write_jsonl(p / "d.jsonl", [{"text": "x"}])), "expected a 'messages' column"),
        (lambda p: str(_write_jsonl(p / "d.jsonl", [{"messages": "hello"}])), "must hold lists of"),
    ],
)
def test_data_mistakes_are_one_line(tmp_path: Path, setup: object, expected: str) -> None:
    with pytest.raises(DataError) as info:
        load_data(DataArguments(data_path=setup(tmp_path)), cache_dir=str(tmp_path / "c"))  # type: ignore[operator]
    assert expected in str(info.value) and "\n" not in str(info.value)


@pytest.mark.slow
def test_embedded_model_builds_once_even_when_raced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from training import embedded

    # Real builds, but both must finish building before either renames: the race is certain.
    barrier = threading.Barrier(2)
    real_build = embedded._build

    def build_then_wait(target: Path) -> None:
        real_build(target)
        barrier.wait(timeout=60)

    monkeypatch.setattr(embedded, "_build", build_then_wait)
    results: list[Path] = []
    errors: list[BaseException] = []

    def build() -> None:
        try:
            results.append(ensure_embedded_model(tmp_path))
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=build) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    assert len(set(results)) == 1 and (results[0] / MARKER).is_file()
    root = tmp_path / "sftplay-tui"
    assert [p.name for p in root.iterdir()] == [results[0].name], "a temporary build directory was left behind"

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(results[0])
    text = tok.apply_chat_template(
        [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}], tokenize=False
    )
    assert text.startswith(tok.bos_token) and text.count(tok.eos_token) == 2
    model = AutoModelForCausalLM.from_pretrained(results[0])
    assert model.config.use_cache is True and model.config.vocab_size == len(tok)
    assert ensure_embedded_model(tmp_path) == results[0]  # cached: no rebuild


def test_qlora_without_cuda_and_bitsandbytes_is_a_clear_error() -> None:
    import importlib.util

    import torch

    from training.model_setup import ModelSetupError, check_4bit_available

    if torch.cuda.is_available() and importlib.util.find_spec("bitsandbytes") is not None:
        pytest.skip("this machine can load 4-bit models")
    with pytest.raises(ModelSetupError, match="needs a CUDA GPU and bitsandbytes, but"):
        check_4bit_available()
