"""Pure split logic of training/connector.py (the 2-process gather runs in tests/integration)."""

from __future__ import annotations

import random

import pytest

from training.connector import Connector, split_balanced, split_contiguous


@pytest.mark.parametrize(("n", "procs"), [(0, 2), (1, 2), (11, 2), (12, 4), (7, 8), (100, 3)])
def test_contiguous_split_covers_everything_once_with_sizes_within_one(n: int, procs: int) -> None:
    parts = [list(split_contiguous(n, procs, i)) for i in range(procs)]
    assert [i for part in parts for i in part] == list(range(n))
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


@pytest.mark.parametrize("seed", range(5))
def test_balanced_split_covers_everything_once_and_evens_out_the_load(seed: int) -> None:
    rng = random.Random(seed)
    lengths = [rng.randint(1, 500) for _ in range(rng.randint(1, 60))]
    procs = rng.randint(1, 5)
    parts = [split_balanced(lengths, procs, i) for i in range(procs)]
    assert sorted(i for part in parts for i in part) == list(range(len(lengths)))
    assert all(part == sorted(part) for part in parts)
    loads = [sum(lengths[i] for i in part) for part in parts]
    if len(lengths) >= procs:
        # greedy longest-first: no process exceeds another by more than the longest record
        assert max(loads) - min(loads) <= max(lengths)


def test_single_process_connector_is_the_identity() -> None:
    conn = Connector(cpu=True)
    assert conn.num_processes == 1 and conn.is_main_process and conn.process_index == 0
    items = ["a", "b", "c"]
    share = conn.split(items, lengths=[3, 1, 2])
    assert share == [(0, "a"), (1, "b"), (2, "c")]
    assert conn.gather_indexed([(i, x.upper()) for i, x in reversed(share)]) == ["A", "B", "C"]
    assert conn.load_once(lambda: 42) == 42
    with pytest.raises(ValueError, match="2 lengths for 3 items"):
        conn.split(items, lengths=[1, 2])
