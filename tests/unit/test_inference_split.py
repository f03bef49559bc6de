"""The length-balanced split that decides which process generates which record (training/connector.py).

Every process computes the split on its own from the same lengths, so the properties must hold for
the union of all processes' answers: each index exactly once, and token counts evened out.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from training.connector import Connector, split_balanced, split_contiguous

lengths_strategy = st.lists(st.integers(min_value=0, max_value=4096), min_size=0, max_size=200)
procs_strategy = st.integers(min_value=1, max_value=9)


def _parts(lengths: list[int], procs: int) -> list[list[int]]:
    return [split_balanced(lengths, procs, index) for index in range(procs)]


@settings(max_examples=300, deadline=None)
@given(lengths=lengths_strategy, procs=procs_strategy)
def test_every_index_lands_on_exactly_one_process(lengths: list[int], procs: int) -> None:
    parts = _parts(lengths, procs)
    owned = [i for part in parts for i in part]
    assert sorted(owned) == list(range(len(lengths)))  # nothing lost, nothing twice
    assert all(part == sorted(part) for part in parts)  # ascending, so results gather back in order


@settings(max_examples=300, deadline=None)
@given(lengths=lengths_strategy, procs=procs_strategy)
def test_token_counts_are_balanced(lengths: list[int], procs: int) -> None:
    if not lengths:
        return
    loads = [sum(max(lengths[i], 1) for i in part) for part in _parts(lengths, procs)]
    longest = max(max(lengths), 1)
    # Longest-first greedy: the busiest process got its last record while it was the least busy,
    # so it exceeds any other by at most one record, and the average by at most one record.
    assert max(loads) - min(loads) <= longest, loads
    assert max(loads) <= sum(loads) / procs + longest, loads


def test_one_long_record_does_not_pile_short_ones_on_the_same_process() -> None:
    lengths = [1000] + [10] * 100
    first, second = _parts(lengths, 2)
    assert first == [0]  # the long record alone...
    assert len(second) == 100  # ...and every short one on the other process


@settings(max_examples=100, deadline=None)
@given(n=st.integers(min_value=0, max_value=500), procs=procs_strategy)
def test_contiguous_slices_concatenate_to_the_original_order(n: int, procs: int) -> None:
    # infer.py tokenizes contiguous slices and gathers the lengths in process order.
    assert [i for p in range(procs) for i in split_contiguous(n, procs, p)] == list(range(n))


def test_a_single_process_keeps_everything_and_broadcast_is_the_identity() -> None:
    conn = Connector(cpu=True)
    records = ["a", "bb", "ccc"]
    assert conn.split(records, lengths=[1, 2, 3]) == [(0, "a"), (1, "bb"), (2, "ccc")]
    assert conn.broadcast({"done": [1, 2]}) == {"done": [1, 2]}
    assert conn.gather([3]) == [3]
