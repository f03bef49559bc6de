"""The small piece of accelerate glue that training and inference share.

Both `sft_train.py` and the batch-inference script (`training/infer.py`) run under
`accelerate launch` and need the same few things: who am I (process index / count, main
process), wait for the others, do something once before the others (build or download a model),
split a list of records across processes and gather the results back in the original order.
Keeping them here means one tested implementation instead of two copies of accelerate calls.

It works on accelerate's `PartialState`, which the Trainer's `TrainingArguments` also use: creating
a Connector inside the training script attaches to the already initialised process group instead
of starting a second one.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

from accelerate import PartialState
from accelerate.utils import broadcast_object_list, gather_object, parse_flag_from_env

T = TypeVar("T")


def split_contiguous(n_items: int, num_processes: int, index: int) -> range:
    """Indices of process `index`: contiguous, sizes differ by at most one, earlier ones get more."""
    base, extra = divmod(n_items, num_processes)
    start = index * base + min(index, extra)
    return range(start, start + base + (1 if index < extra else 0))


def split_balanced(lengths: Sequence[int], num_processes: int, index: int) -> list[int]:
    """Indices of process `index` so that the summed lengths per process are as even as possible.

    Longest-first greedy (each record goes to the process with the least work so far; ties to the
    lower index), deterministic, so every process computes the same assignment without talking.
    Every index lands on exactly one process. Returned in ascending order.
    """
    loads = [0] * num_processes
    owner = [0] * len(lengths)
    for i in sorted(range(len(lengths)), key=lambda k: (-lengths[k], k)):
        target = min(range(num_processes), key=lambda p: (loads[p], p))
        owner[i] = target
        loads[target] += max(int(lengths[i]), 1)
    return [i for i, p in enumerate(owner) if p == index]


class Connector:
    """Process facts and collective helpers for code started by `accelerate launch` (or plain python)."""

    def __init__(self, cpu: bool = False) -> None:
        # PartialState alone ignores ACCELERATE_USE_CPU (only Accelerator reads it): without this,
        # CPU ranks started by `accelerate launch` would each run alone (see shared/notes).
        self.state = PartialState(cpu=cpu or parse_flag_from_env("ACCELERATE_USE_CPU"))

    @property
    def process_index(self) -> int:
        return int(self.state.process_index)

    @property
    def local_process_index(self) -> int:
        return int(self.state.local_process_index)

    @property
    def num_processes(self) -> int:
        return int(self.state.num_processes)

    @property
    def is_main_process(self) -> bool:
        return bool(self.state.is_main_process)

    @property
    def is_local_main_process(self) -> bool:
        return bool(self.state.is_local_main_process)

    @property
    def device(self) -> Any:
        return self.state.device

    @property
    def distributed_type(self) -> str:
        return str(self.state.distributed_type).split(".")[-1]

    def wait_for_everyone(self) -> None:
        self.state.wait_for_everyone()

    def close(self) -> None:
        """Wait for the others, then tear the process group down.

        Call it at the end of a successful run: a process that exits with the group still up can
        die in C++ teardown ("terminate called without an active exception", SIGABRT), turning a
        finished run into a failed exit status. Not for failure paths: waiting on a dead peer hangs.
        """
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            self.state.wait_for_everyone()
            dist.destroy_process_group()

    @contextlib.contextmanager
    def main_process_first(self) -> Iterator[None]:
        """The main process runs the block first (downloads, cache builds); the others after it."""
        with self.state.main_process_first():
            yield

    def load_once(self, loader: Callable[[], T]) -> T:
        """Call `loader` on the main process first, then on the others (which then hit the cache)."""
        with self.main_process_first():
            return loader()

    def prepare_model(self, model: Any) -> Any:
        """Put an inference model on this process's device in eval mode (training uses the Trainer)."""
        model = model.to(self.device)
        model.eval()
        return model

    def split(self, items: Sequence[T], lengths: Sequence[int] | None = None) -> list[tuple[int, T]]:
        """This process's share of `items` as (original index, item) pairs.

        With `lengths`, balanced by total length (for generation, where cost follows length);
        otherwise contiguous equal-count slices.
        """
        if lengths is not None:
            if len(lengths) != len(items):
                raise ValueError(f"{len(lengths)} lengths for {len(items)} items")
            indices: Sequence[int] = split_balanced(lengths, self.num_processes, self.process_index)
        else:
            indices = split_contiguous(len(items), self.num_processes, self.process_index)
        return [(i, items[i]) for i in indices]

    def gather(self, local: Sequence[T]) -> list[T]:
        """Every process's list, concatenated in process order, returned on all processes."""
        if self.num_processes == 1:
            return list(local)
        return list(gather_object(list(local)))

    def broadcast(self, value: T) -> T:
        """The main process's `value` on every process (the others' arguments are ignored).

        For decisions only the main process can make (it alone reads the output file, say), so
        that every process acts on the same answer instead of some waiting for a peer that left.
        """
        if self.num_processes == 1:
            return value
        return broadcast_object_list([value if self.is_main_process else None])[0]  # type: ignore[no-any-return]

    def gather_indexed(self, local: Sequence[tuple[int, T]]) -> list[T]:
        """Undo `split`: gather (index, result) pairs and return the results in original order."""
        pairs = self.gather(local)
        pairs.sort(key=lambda pair: pair[0])
        indices = [i for i, _ in pairs]
        if len(set(indices)) != len(indices):
            raise RuntimeError("gathered results contain an index twice")
        return [value for _, value in pairs]
