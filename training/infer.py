#!/usr/bin/env python
"""Batch inference: a completion for every record of a dataset, one process or many.

    python training/infer.py --data FILE --output OUT.jsonl [--model_name_or_path DIR] [options]
    accelerate launch --config_file CONFIG training/infer.py --use_accelerate --data FILE --output OUT.jsonl

Records hold chat `messages` (rendered with the model's chat template; a final assistant turn is
taken as the reference answer and generated again) or a `prompt` (as plain text, the way training
saw prompt/response data; `--prompt_chat_template` wraps it as a user turn). Generation is batched
(left padding), greedy when `--temperature 0` (the default), sampled otherwise.

With `--use_accelerate` under `accelerate launch`, the records are split across the processes
balanced by prompt length (each record exactly once, training/connector.py), each process
generates its share batch by batch, and after every round of batches the results are gathered on
the main process, which alone writes them. Without it the script runs as one process, as before.

The output is JSONL, one line per record, in the input's order at the end: `index` (0-based
position in the input), `completion`, `finish_reason` ("stop"/"length"), `prompt_tokens`,
`completion_tokens`, `error` (null, or why this record failed: it is kept, not dropped),
`reference` and `id` when the record had them. A run that is interrupted resumes when started
again with the same arguments: records already in the output are skipped (training/inference_io.py).

No `--model_name_or_path`: the embedded tiny model that training uses by default. A trained
output directory works as it is, LoRA adapters included (the base model is read from
adapter_config.json, or `--base_model_name_or_path`).

Rank 0 reports on stdout as `SFTPLAY_METRIC {json}` lines (training/metrics_protocol.py): start,
infer_progress after each round (done, total, records_per_second, eta_s), end. Exit status: 0
completed (even with failed records, which the output and the end record count), 2 a user
mistake (one line, no traceback), 1 any other failure, 128+N stopped by signal N.
"""

from __future__ import annotations

import copy
import json
import logging
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a file by accelerate launch: make the `training` package importable from a checkout.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training import embedded, interrupts  # noqa: E402
from training import inference_io as io  # noqa: E402  (standard library only)
from training import metrics_protocol as mp  # noqa: E402
from training.run_reporter import RunReporter, UserError, configure_logging, env_int, guarded_main  # noqa: E402

log = logging.getLogger("sftplay.infer")


@dataclass
class InferArguments:
    data: str = field(metadata={"help": "Records to answer: .jsonl, .json or .parquet with `messages` or `prompt`."})
    output: str = field(metadata={"help": "JSONL file for the results; an existing one is resumed."})
    use_accelerate: bool = field(
        default=False,
        metadata={"help": "Split the records across the processes of `accelerate launch` and gather the results."},
    )
    base_model_name_or_path: str | None = field(
        default=None,
        metadata={"help": "Base model for a LoRA adapter directory (default: the one in adapter_config.json)."},
    )
    merge_adapter: bool = field(
        default=True, metadata={"help": "Merge LoRA adapters into the weights before generating (faster)."}
    )
    batch_size: int = field(default=16, metadata={"help": "Records generated together per process."})
    max_new_tokens: int = field(default=64, metadata={"help": "Longest completion, in tokens."})
    temperature: float = field(default=0.0, metadata={"help": "0 = greedy (deterministic); above 0 samples."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling threshold (only when sampling)."})
    seed: int = field(default=42, metadata={"help": "Random seed for sampling (process i uses seed + i)."})
    max_samples: int | None = field(default=None, metadata={"help": "Only the first N records."})
    messages_column: str = field(default="messages", metadata={"help": "Field with chat messages."})
    prompt_column: str = field(default="prompt", metadata={"help": "Field with a plain prompt."})
    response_column: str = field(default="response", metadata={"help": "Field with the expected answer."})
    prompt_chat_template: bool = field(
        default=False, metadata={"help": "Render `prompt` records as a user turn with the chat template."}
    )
    include_prompt: bool = field(default=False, metadata={"help": "Also write the rendered prompt text."})
    overwrite: bool = field(default=False, metadata={"help": "Start again instead of resuming an existing output."})

    def __post_init__(self) -> None:
        from training.arguments import ArgumentsError

        checks = [
            (self.batch_size >= 1, f"--batch_size must be at least 1, got {self.batch_size}"),
            (self.max_new_tokens >= 1, f"--max_new_tokens must be at least 1, got {self.max_new_tokens}"),
            (self.temperature >= 0, f"--temperature must be 0 (greedy) or more, got {self.temperature}"),
            (0 < self.top_p <= 1, f"--top_p must be in (0, 1], got {self.top_p}"),
            (
                self.max_samples is None or self.max_samples >= 1,
                f"--max_samples must be positive, got {self.max_samples}",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ArgumentsError(message)


def parse_args(argv: list[str] | None) -> tuple[Any, InferArguments]:
    """(ModelArguments, InferArguments); ArgumentsError (one line) on any mistake."""
    import dataclasses

    from training import arguments as targs

    parser = targs._Parser((targs.ModelArguments, InferArguments), prog="infer.py", allow_abbrev=False)
    argv = list(sys.argv[1:] if argv is None else argv)
    namespace, remaining = parser.parse_known_args(argv)
    if remaining:
        flags = [t for t in remaining if t.startswith("-")]
        if flags:
            raise targs.ArgumentsError(targs.unknown_option_message(flags[0], targs._long_options(parser)))
        raise targs.ArgumentsError(f"unexpected value {remaining[0]!r} (options take the form --name value)")
    values = vars(namespace)
    built = []
    for dtype in (targs.ModelArguments, InferArguments):
        keys = {f.name for f in dataclasses.fields(dtype)}
        try:
            built.append(dtype(**{k: v for k, v in values.items() if k in keys}))
        except (ValueError, TypeError) as exc:
            raise targs.ArgumentsError(" ".join(str(exc).split())) from exc
    return built[0], built[1]


def main(argv: list[str] | None = None) -> int:
    reporter = RunReporter(is_main=env_int("RANK") == 0)

    def on_stop(signum: int) -> None:
        # Never leave in the middle of a batch write: wait (briefly) for it to finish.
        io.WRITE_LOCK.acquire(timeout=5.0)
        reporter.end("interrupted", error=f"stopped by {signal.Signals(signum).name}", timeout=2.0)

    interrupts.install(on_stop)  # before torch starts threads (see training/interrupts.py)
    configure_logging(log)
    return guarded_main(
        lambda: _infer(argv, reporter),
        reporter,
        script="infer.py",
        speaks=lambda _exc: env_int("RANK") == 0,
    )


# -- model --------------------------------------------------------------------------------------


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    name: str
    adapter: str | None  # the adapter directory, when the model is base + LoRA


def load_for_inference(model_args: Any, args: InferArguments, local_process_index: int) -> Loaded:
    """Tokenizer and model from a directory or hub id, the embedded default, or base + LoRA adapter."""
    from training.arguments import LoraArguments
    from training.embedded import ensure_embedded_model
    from training.model_setup import ModelSetupError, load_model, load_tokenizer

    path = model_args.model_name_or_path
    name = path or embedded.EMBEDDED_NAME
    if path is None:
        path = str(ensure_embedded_model(model_args.cache_dir))
    adapter_config = Path(path) / "adapter_config.json"
    if not adapter_config.is_file():
        tokenizer = load_tokenizer(path, model_args)
        model = load_model(path, model_args, LoraArguments(), local_process_index)
        return Loaded(model, tokenizer, name, None)

    try:
        base = args.base_model_name_or_path or json.loads(adapter_config.read_text())["base_model_name_or_path"]
    except (OSError, ValueError, KeyError) as exc:
        raise ModelSetupError(f"{adapter_config}: no base model named ({exc}); pass --base_model_name_or_path") from exc
    has_tokenizer = (Path(path) / "tokenizer_config.json").is_file()
    tokenizer = load_tokenizer(path if has_tokenizer else base, model_args)
    try:
        model = load_model(base, model_args, LoraArguments(), local_process_index)
    except ModelSetupError as exc:
        raise ModelSetupError(f"{exc} (the base model of the adapter {path}; see --base_model_name_or_path)") from exc
    from peft import PeftModel

    model = PeftModel.from_pretrained(model, path)
    if args.merge_adapter:
        model = model.merge_and_unload()
    return Loaded(model, tokenizer, name, path)


def generation_config(model: Any, tokenizer: Any, args: InferArguments) -> Any:
    """The model's own generation settings with ours on top; greedy drops the sampling knobs."""
    config = copy.deepcopy(model.generation_config)
    config.max_new_tokens = args.max_new_tokens
    config.max_length = None  # a checkpoint's max_length (often 20) must not cut max_new_tokens short
    config.pad_token_id = tokenizer.pad_token_id
    if config.eos_token_id is None:
        config.eos_token_id = tokenizer.eos_token_id
    if args.temperature > 0:
        config.do_sample, config.temperature, config.top_p = True, args.temperature, args.top_p
    else:
        # A chat model's generation_config often says do_sample=True with its own temperature: greedy
        # means none of that applies (and transformers warns about knobs that would be ignored).
        config.do_sample, config.temperature, config.top_p, config.top_k = False, None, None, None
    return config


def _eos_ids(config: Any) -> set[int]:
    eos = config.eos_token_id
    return set(eos) if isinstance(eos, list | tuple) else ({int(eos)} if eos is not None else set())


def _max_positions(model: Any) -> int | None:
    config = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    value = getattr(config, "max_position_embeddings", None)
    return int(value) if isinstance(value, int) else None


# -- records ------------------------------------------------------------------------------------


@dataclass
class Rendered:
    index: int
    ids: list[int] | None
    error: str | None = None
    reference: Any = None
    record_id: Any = None
    text: str | None = None


def render(index: int, record: Any, tokenizer: Any, args: InferArguments, limit: int | None) -> Rendered:
    """Token ids of one record's prompt, or the reason it cannot be generated."""
    record_id = record.get("id") if isinstance(record, dict) else None
    try:
        prompt = io.prompt_of(record, io.Columns(args.messages_column, args.prompt_column, args.response_column))
        if prompt.kind == "chat" or args.prompt_chat_template:
            messages = list(prompt.messages) or [{"role": "user", "content": prompt.text}]
            try:
                text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
            except Exception as exc:  # jinja errors on odd messages: this record's problem only
                raise io.RecordError(f"chat template failed: {' '.join(str(exc).split())[:200]}") from exc
            # The template already holds the special tokens (BOS): do not add them twice.
            ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        else:
            text = prompt.text
            ids = tokenizer(text)["input_ids"]  # as TRL tokenizes a plain prompt in training
        if not ids:
            raise io.RecordError("the prompt is empty after tokenization")
        if limit is not None and len(ids) + args.max_new_tokens > limit:
            raise io.RecordError(
                f"prompt is {len(ids)} tokens; with --max_new_tokens {args.max_new_tokens} that exceeds "
                f"the model's {limit} positions"
            )
    except io.RecordError as exc:
        return Rendered(index, None, error=str(exc), record_id=record_id)
    return Rendered(index, list(ids), reference=prompt.reference, record_id=record_id, text=text)


def _result(item: Rendered, args: InferArguments, **fields: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"index": item.index}
    if item.record_id is not None:
        out["id"] = item.record_id
    out.update(
        completion=fields.get("completion"),
        finish_reason=fields.get("finish_reason"),
        prompt_tokens=len(item.ids) if item.ids is not None else None,
        completion_tokens=fields.get("completion_tokens", 0),
        error=fields.get("error", item.error),
    )
    if item.reference is not None:
        out["reference"] = item.reference
    if args.include_prompt and item.text is not None:
        out["prompt"] = item.text
    return out


def generate_batch(model: Any, tokenizer: Any, gen: Any, items: list[Rendered], args: InferArguments) -> list[dict]:
    """Results for `items`; if the batch fails, each record is retried alone and failures recorded."""
    try:
        return _generate(model, tokenizer, gen, items, args)
    except Exception as exc:
        if len(items) == 1:
            return [_result(items[0], args, error=f"generation failed: {type(exc).__name__}: {str(exc)[:300]}")]
        log.warning("a batch of %d failed (%s: %s); retrying one by one", len(items), type(exc).__name__, exc)
        return [r for item in items for r in generate_batch(model, tokenizer, gen, [item], args)]


def _generate(model: Any, tokenizer: Any, gen: Any, items: list[Rendered], args: InferArguments) -> list[dict]:
    import torch

    width = max(len(item.ids or ()) for item in items)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    # Left padding: every prompt then ends at the same column and generation continues from there.
    ids = torch.full((len(items), width), pad, dtype=torch.long)
    mask = torch.zeros((len(items), width), dtype=torch.long)
    for row, item in enumerate(items):
        seq = item.ids or []
        ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
        mask[row, width - len(seq) :] = 1
    device = next(model.parameters()).device
    with torch.inference_mode():
        out = model.generate(input_ids=ids.to(device), attention_mask=mask.to(device), generation_config=gen)
    eos = _eos_ids(gen)
    results = []
    for row, item in enumerate(items):
        new = out[row, width:].tolist()
        stop = next((k for k, token in enumerate(new) if token in eos), None)
        kept = new if stop is None else new[:stop]
        results.append(
            _result(
                item,
                args,
                completion=tokenizer.decode(kept, skip_special_tokens=True),
                finish_reason="length" if stop is None else "stop",
                completion_tokens=len(kept),
                error=None,
            )
        )
    return results


# -- the run ------------------------------------------------------------------------------------


def _settings(args: InferArguments, model_args: Any, data: Path) -> dict[str, Any]:
    """What decides the answers: a resumed output must have been written with the same."""
    return {
        "data_sha256": io.file_digest(data),
        "model": model_args.model_name_or_path or embedded.EMBEDDED_NAME,
        "base_model": args.base_model_name_or_path,
        "max_new_tokens": args.max_new_tokens,
        "temperature": args.temperature,
        "top_p": args.top_p if args.temperature > 0 else None,
        "seed": args.seed if args.temperature > 0 else None,
        "columns": [args.messages_column, args.prompt_column, args.response_column],
        "prompt_chat_template": args.prompt_chat_template,
    }


def _prepare_output(args: InferArguments, model_args: Any, data: Path) -> io.OutputScan:
    """Main process only: check the output can be (re)used; what is already written in it."""
    output = Path(args.output)
    settings = _settings(args, model_args, data)
    if args.overwrite:
        for path in (output, io.settings_path(output)):
            path.unlink(missing_ok=True)
    elif output.exists():
        if not output.is_file():
            raise UserError(f"--output {output} is not a file")
        problem = io.settings_mismatch(output, settings)
        if problem:
            raise UserError(problem)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        io.write_settings(output, settings)
    except OSError as exc:
        raise UserError(f"--output {output}: cannot write there ({exc.strerror or exc})") from exc
    return io.scan_output(output)


def _infer(argv: list[str] | None, reporter: RunReporter) -> int:
    model_args, args = parse_args(argv)
    world = env_int("WORLD_SIZE", 1)
    if world > 1 and not args.use_accelerate:
        raise UserError(
            f"started as {world} processes but without --use_accelerate: each would answer every record "
            "and write the same file; add --use_accelerate (or launch one process)"
        )
    output = Path(args.output)
    reporter.output_dir = str(output)
    data = Path(args.data).expanduser()
    records = io.load_records(data, args.max_samples)  # every process reads the (same) input
    total = len(records)

    from training.connector import Connector, split_contiguous

    conn = Connector()
    # Only the main process reads and writes the output; the others learn what is done from it.
    verdict: dict[str, Any] | None = None
    scan: io.OutputScan | None = None  # the main process's reading of the output, for its writer
    if conn.is_main_process:
        try:
            scan = _prepare_output(args, model_args, data)
            verdict = {"done": sorted(scan.done), "failed": scan.failed, "truncated": scan.truncated}
        except (UserError, OSError) as exc:  # said to every rank, or the others would wait for a peer that left
            verdict = {"error": str(exc)}
    verdict = conn.broadcast(verdict)
    assert verdict is not None
    if "error" in verdict:
        raise UserError(verdict["error"])
    done = set(verdict["done"])
    written = len(done & set(range(total)))
    if conn.is_main_process and done:
        log.info("resuming %s: %d of %d records already written", output, written, total)
        if verdict["truncated"]:
            log.info("the last line of %s was cut off (killed mid-write); it is written again", output)

    loaded = conn.load_once(lambda: load_for_inference(model_args, args, conn.local_process_index))
    model, tokenizer = conn.prepare_model(loaded.model), loaded.tokenizer
    if not getattr(tokenizer, "chat_template", None) and any(
        isinstance(r, dict) and args.messages_column in r for r in records
    ):
        raise UserError(
            f"{loaded.name}'s tokenizer has no chat template, so {args.messages_column!r} records cannot be "
            "rendered; use prompt records or a model with a chat template"
        )
    gen = generation_config(model, tokenizer, args)
    limit = _max_positions(model)
    if args.temperature > 0:
        from transformers import set_seed

        set_seed(args.seed + conn.process_index)

    # Tokenize 1/N of the pending records here, share the lengths, then split the work by length.
    pending = [i for i in range(total) if i not in done]
    rendered: dict[int, Rendered] = {}
    for k in split_contiguous(len(pending), conn.num_processes, conn.process_index):
        rendered[pending[k]] = render(pending[k], records[pending[k]], tokenizer, args, limit)
    # Gathered in process order = pending order, since the slices are contiguous and ascending.
    lengths = conn.gather([len(item.ids or [0]) for item in rendered.values()])
    share = [index for _, index in conn.split(pending, lengths)]
    items = [rendered.get(i) or render(i, records[i], tokenizer, args, limit) for i in share]
    failed_here = [item for item in items if item.ids is None]
    # Longest first: similar lengths share a batch (less padding) and a too-big batch fails early.
    ready = sorted((item for item in items if item.ids is not None), key=lambda it: (-len(it.ids or ()), it.index))
    batches = [ready[k : k + args.batch_size] for k in range(0, len(ready), args.batch_size)]
    rounds = max(conn.gather([max(len(batches), 1 if failed_here else 0)]))
    if pending:
        log.info(
            "process %d of %d: %d record(s), %d prompt tokens, %d batch(es); %d unusable",
            conn.process_index,
            conn.num_processes,
            len(items),
            sum(len(it.ids or ()) for it in ready),
            len(batches),
            len(failed_here),
        )

    writer = io.OutputWriter(output, scan) if scan is not None else None
    failed = int(verdict["failed"])
    if conn.is_main_process:
        log.info(
            "%d records, %d to generate on %d process(es), batches of %d, %s decoding, model %s",
            total,
            len(pending),
            conn.num_processes,
            args.batch_size,
            "greedy" if args.temperature == 0 else f"sampled (temperature {args.temperature}, top_p {args.top_p})",
            loaded.name,
        )
        from training.model_setup import count_parameters

        num_parameters = count_parameters(model)[0]
        reporter.emit(
            mp.start_record(
                world_size=conn.num_processes,
                distributed_type=conn.distributed_type,
                model=loaded.name,
                num_parameters=num_parameters,
                trainable_parameters=0,
                output_dir=str(output),
                config={
                    "batch_size": args.batch_size,
                    "max_new_tokens": args.max_new_tokens,
                    "temperature": args.temperature,
                    "top_p": args.top_p,
                    "seed": args.seed,
                    "data": str(data),
                    "adapter": loaded.adapter,
                },
                task="inference",
                total=total,
                already_done=written,
            )
        )
    began = time.monotonic()
    generated = 0

    def progress() -> None:
        elapsed = time.monotonic() - began
        rate = generated / elapsed if generated and elapsed > 0 else None
        remaining = total - written
        reporter.emit(
            mp.infer_progress_record(
                done=written,
                total=total,
                failed=failed,
                records_per_second=round(rate, 3) if rate else None,
                eta_s=round(remaining / rate, 2) if rate else (0.0 if remaining == 0 else None),
                elapsed_s=round(elapsed, 3),
            )
        )

    if conn.is_main_process:
        progress()
    for round_no in range(rounds):
        local: list[dict] = [_result(item, args) for item in failed_here] if round_no == 0 else []
        if round_no < len(batches):
            local += generate_batch(model, tokenizer, gen, batches[round_no], args)
        results = conn.gather(local)
        if writer is not None:
            results.sort(key=lambda r: r["index"])
            writer.write(results)
            written += len(results)
            generated += len(results)
            failed += sum(r["error"] is not None for r in results)
            progress()

    records_out = failed_out = 0
    if writer is not None:
        writer.close()
        records_out, failed_out = io.finalize(output)  # the input's order, one line per record
        elapsed = time.monotonic() - began
        log.info(
            "wrote %d records (%d failed) to %s; generated %d in %.1fs (%.2f records/s)",
            records_out,
            failed_out,
            output,
            generated,
            elapsed,
            generated / elapsed if elapsed > 0 else 0.0,
        )
        if failed_out:
            log.warning("%d record(s) failed; their `error` field in %s says why", failed_out, output)
    conn.close()  # every rank has finished; a clean teardown keeps the exit status 0
    reporter.end("completed", records=records_out, failed=failed_out, generated=generated)  # rank 0 writes it
    return 0


if __name__ == "__main__":
    sys.exit(main())
