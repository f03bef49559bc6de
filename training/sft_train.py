#!/usr/bin/env python
"""Supervised fine-tuning, started by `accelerate launch` (or plain `python` for one process).

    accelerate launch --config_file CONFIG training/sft_train.py [ARGS]
    python training/sft_train.py --help

Full fine-tuning, LoRA or QLoRA of a causal LM with TRL's SFTTrainer on chat (`messages`) or
prompt/response data; single process, DDP, FSDP 1 and 2, as the accelerate config says. With no
model and no data it trains a tiny Llama-style model built locally on a bundled chat dataset, so
it runs anywhere without downloads.

Rank 0 reports progress as `SFTPLAY_METRIC {json}` lines on stdout (format:
training/metrics_protocol.py); everything else is ordinary logging. Exit status: 0 completed,
2 a user mistake (one-line message, no traceback), 1 any other failure, 128+N stopped by signal N.

This file only orchestrates; each step lives in a module beside it (arguments, embedded,
data_loading, model_setup, launch_checks, auto_batch, reporting, connector, interrupts).
"""

from __future__ import annotations

import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    # Run as a file by accelerate launch: make the `training` package importable from a checkout.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from training import interrupts  # noqa: E402  (light: only the standard library)
from training.run_reporter import RunReporter, UserError, configure_logging, env_int, guarded_main  # noqa: E402

GPU_LIKE = {"MULTI_GPU", "MULTI_NPU", "MULTI_XPU", "MULTI_MLU", "MULTI_MUSA", "MULTI_HPU", "MULTI_SDAA"}


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes")


def main(argv: list[str] | None = None) -> int:
    reporter = RunReporter(is_main=env_int("RANK") == 0)

    def on_stop(signum: int) -> None:
        reporter.end("interrupted", error=f"stopped by {signal.Signals(signum).name}", timeout=2.0)

    # First, before torch exists: every thread torch starts later inherits the blocked signals.
    interrupts.install(on_stop)
    configure_logging(logging.getLogger("sftplay.train"))  # training.reporting's logger

    def speaks(exc: UserError) -> bool:
        # Argument mistakes are identical on every rank: say it once. Others could be node-local
        # (a file missing on one node): say it once per node.
        return env_int("RANK") == 0 if exc.same_on_every_rank else env_int("LOCAL_RANK") == 0

    return guarded_main(lambda: _train(argv, reporter), reporter, script="sft_train.py", speaks=speaks)


def _resolve_resume(value: str | None, output_dir: str) -> str | None:
    if not value:
        return None
    from transformers.trainer_utils import get_last_checkpoint

    if value.lower() in ("latest", "last", "true"):
        last = get_last_checkpoint(output_dir) if os.path.isdir(output_dir) else None
        if last is None:
            raise UserError(f"--resume_from_checkpoint {value}: no checkpoint-* directory in {output_dir}")
        return str(last)
    if not os.path.isdir(value):
        raise UserError(f"--resume_from_checkpoint: {value} is not a directory")
    return value


def _local_parameter_elements(model: Any) -> int:
    """Parameter elements this rank holds: a shard under FSDP (DTensor / flat shard), all under DDP."""
    total = 0
    for p in model.parameters():
        local = p.to_local() if hasattr(p, "to_local") else p
        total += int(local.numel())
    return total


def _train(argv: list[str] | None, reporter: RunReporter) -> int:
    from training import launch_checks
    from training.arguments import parse_args
    from training.auto_batch import plan_batch
    from training.connector import Connector
    from training.data_loading import load_data
    from training.embedded import EMBEDDED_NAME, ensure_embedded_model
    from training.model_setup import setup_model

    log = logging.getLogger("sftplay.train")

    parsed = parse_args(argv)  # builds TrainingArguments, which connects the processes
    targs = parsed.training
    output_dir = str(targs.output_dir)  # always set: the script supplies a default
    reporter.output_dir = output_dir
    conn = Connector(cpu=bool(targs.use_cpu))

    # ---- how were we launched? ------------------------------------------------------------
    import torch

    fsdp_requested = _env_flag("ACCELERATE_USE_FSDP") or bool(targs.fsdp)
    fsdp_engages = fsdp_requested and conn.distributed_type in GPU_LIKE
    sched_size, sched_var = launch_checks.scheduler_local_size(os.environ)
    view = launch_checks.LaunchView(
        launched_world_size=env_int("WORLD_SIZE") or 1,
        local_world_size=env_int("LOCAL_WORLD_SIZE") or 1,
        accelerate_num_processes=conn.num_processes,
        distributed_type="FSDP" if fsdp_engages else conn.distributed_type,
        visible_gpus=torch.cuda.device_count(),
        use_cpu=bool(targs.use_cpu) or _env_flag("ACCELERATE_USE_CPU"),
        fsdp_requested=fsdp_requested,
        scheduler_local_size=sched_size,
        scheduler_var=sched_var,
        cpu_cores=os.cpu_count(),
    )
    findings = launch_checks.check_launch(view)
    for finding in findings:
        if finding.level == "warning" and conn.is_local_main_process:
            log.warning("warning: %s", finding.message)
    errors = [f.message for f in findings if f.level == "error"]
    if errors:
        raise UserError(errors[0])
    if conn.is_main_process:
        log.info(
            "%d process(es), distributed type %s, %d visible GPU(s)",
            conn.num_processes,
            view.distributed_type,
            view.visible_gpus,
        )

    # ---- checkpointing: transformers' or FSDP's, never both ---------------------------------
    fsdp_ac = fsdp_engages and _env_flag("FSDP_ACTIVATION_CHECKPOINTING")
    keep_gc, gc_line = launch_checks.checkpointing_choice(bool(targs.gradient_checkpointing), fsdp_ac)
    if not keep_gc and targs.gradient_checkpointing:
        targs.activation_checkpointing = targs.gradient_checkpointing = False
    gc_mode = "fsdp" if fsdp_ac else "transformers" if keep_gc else "off"
    if conn.is_main_process:
        log.info(gc_line)

    # ---- model, tokenizer, data --------------------------------------------------------------
    if parsed.embedded_model:
        model_path = conn.load_once(lambda: str(ensure_embedded_model(parsed.model.cache_dir)))
        model_name = EMBEDDED_NAME
        if conn.is_main_process:
            log.info("no --model_name_or_path: using the embedded tiny Llama model from %s", model_path)
    else:
        model_path = model_name = str(parsed.model.model_name_or_path)
    with conn.main_process_first():
        data = load_data(parsed.data, parsed.model.cache_dir, seed=targs.seed)
    with conn.main_process_first():
        loaded = setup_model(model_path, model_name, parsed.model, parsed.lora, conn.local_process_index, keep_gc)
    model, tokenizer = loaded.model, loaded.tokenizer
    if data.format == "chat" and not getattr(tokenizer, "chat_template", None):
        raise UserError(
            f"{model_name}'s tokenizer has no chat template, so chat ('messages') data cannot be rendered; "
            "use prompt/response data or a model with a chat template"
        )
    if conn.is_main_process:
        log.info(
            "model %s: %s parameters, %s trainable (%s); data %s: %d training / %s eval records (%s format)",
            model_name,
            f"{loaded.num_parameters:,}",
            f"{loaded.trainable_parameters:,}",
            loaded.peft,
            data.source,
            len(data.train),
            len(data.eval) if data.eval is not None else 0,
            data.format,
        )

    # The Trainer copies args.use_cache onto model.config.use_cache (transformers 5). Hand it the
    # model's own value so that copy changes nothing and the saved config keeps its KV cache
    # setting; the cache is off during training anyway (TRL passes use_cache=False per forward).
    if "use_cache" not in parsed.explicit:
        targs.use_cache = bool(getattr(model.config, "use_cache", False))

    # ---- FSDP wrap class ---------------------------------------------------------------------
    fsdp_wrap: str | None = None
    if fsdp_engages:
        class_names = {type(m).__name__ for m in model.modules()}
        try:
            value, wrap_line = launch_checks.fsdp_wrap_classes(
                os.environ, getattr(model, "_no_split_modules", None), class_names
            )
        except ValueError as exc:
            raise UserError(str(exc)) from exc
        if value is not None:
            os.environ["FSDP_TRANSFORMER_CLS_TO_WRAP"] = value
        fsdp_wrap = os.environ.get("FSDP_TRANSFORMER_CLS_TO_WRAP")
        if conn.is_main_process:
            log.info(wrap_line)

    # ---- batch size ----------------------------------------------------------------------------
    world = conn.num_processes
    estimate_mib: float | None = None
    if parsed.run.auto_batch_size:
        plan = plan_batch(
            _model_shape(model, loaded.num_parameters, loaded.trainable_parameters),
            _batch_request(parsed, conn, loaded.weight_bytes, fsdp_engages, keep_gc or fsdp_ac),
        )
        targs.per_device_train_batch_size = plan.per_device_batch_size
        targs.gradient_accumulation_steps = plan.gradient_accumulation_steps
        estimate_mib = (plan.static_bytes + plan.per_device_batch_size * plan.per_sample_bytes) / 2**20
        if conn.is_main_process:
            for line in plan.lines:
                log.info(line)
    samples_per_step = targs.per_device_train_batch_size * targs.gradient_accumulation_steps * world

    resume = _resolve_resume(targs.resume_from_checkpoint, output_dir)
    sft_config = _sft_config(targs, parsed.data, data.format)

    from trl import SFTTrainer

    from training.reporting import MetricsCallback

    trainer: Any = None

    def start_fields(wrapped: Any, state: Any) -> dict[str, Any]:
        acc = trainer.accelerator
        dist = str(acc.distributed_type).split(".")[-1]
        local = _local_parameter_elements(wrapped) if wrapped is not None else None
        return {
            "world_size": world,
            "distributed_type": dist,
            "model": model_name,
            "num_parameters": loaded.num_parameters,
            "trainable_parameters": loaded.trainable_parameters,
            "output_dir": output_dir,
            "resumed_from_step": int(state.global_step),
            "local_parameter_elements": local,
            "gradient_checkpointing_active": _checkpointing_active(trainer.model),
            "config": {
                "mixed_precision": str(acc.mixed_precision),
                "distributed": _distributed_label(acc),
                "per_device_train_batch_size": targs.per_device_train_batch_size,
                "gradient_accumulation_steps": targs.gradient_accumulation_steps,
                "global_batch_size": samples_per_step,
                "max_steps": int(state.max_steps),
                "max_seq_length": parsed.data.max_seq_length,
                "packing": parsed.data.packing,
                "gradient_checkpointing": gc_mode,
                "peft": loaded.peft,
                "learning_rate": targs.learning_rate,
                "auto_batch_size": parsed.run.auto_batch_size,
                "estimated_peak_memory_mib": round(estimate_mib, 1) if estimate_mib is not None else None,
                "fsdp_wrap": fsdp_wrap,
                "data": data.source,
                "data_format": data.format,
            },
        }

    def on_wrapped(wrapped: Any) -> None:
        if wrapped is None:
            return
        local = _local_parameter_elements(wrapped)
        log.info(
            "rank %d holds %s of %s parameter elements (%s)",
            conn.process_index,
            f"{local:,}",
            f"{loaded.num_parameters:,}",
            type(wrapped).__name__,
        )

    from training.fsdp_resume import init_optimizer_state, needs_state_before_load

    class SftplayTrainer(SFTTrainer):  # type: ignore[misc]
        def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
            if checkpoint is not None and needs_state_before_load(self):
                init_optimizer_state(self.optimizer)  # see training/fsdp_resume.py
            super()._load_optimizer_and_scheduler(checkpoint)

    trainer = SftplayTrainer(
        model=model,
        args=sft_config,
        train_dataset=data.train,
        eval_dataset=data.eval,
        processing_class=tokenizer,
        callbacks=[MetricsCallback(reporter, start_fields, samples_per_step, on_wrapped)],
    )
    if parsed.data.packing and getattr(trainer, "padding_free", False):
        from training.packing import RowPackedCollator, needs_row_packing

        attn = getattr(model.config, "_attn_implementation", None)
        if needs_row_packing(attn):
            trainer.data_collator = RowPackedCollator(pad_token_id=tokenizer.pad_token_id)
            if conn.is_main_process:
                log.info("packing: one row per packed bin (attention %s has no variable-length kernel)", attn)
    trainer.train(resume_from_checkpoint=resume)
    _save_final(trainer, output_dir)
    if conn.is_main_process:
        log.info("saved to %s", output_dir)
    conn.close()  # every rank has finished saving; a clean teardown keeps the exit status 0
    reporter.end("completed")
    return 0


def _checkpointing_active(model: Any) -> bool:
    """Whether transformers' checkpointing is really on (the model's flag, not our intent)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    # transformers 5 renamed is_gradient_checkpointing (deprecated alias) to is_activation_checkpointing.
    name = (
        "is_activation_checkpointing"
        if hasattr(type(base), "is_activation_checkpointing")
        else "is_gradient_checkpointing"
    )
    return bool(getattr(base, name, False))


def _save_final(trainer: Any, output_dir: str) -> None:
    """Save a model that from_pretrained can load, whatever state dict type the checkpoints used.

    With FSDP SHARDED_STATE_DICT the Trainer's save_model writes no loadable weights (only the
    checkpoints, in torch.distributed.checkpoint format), so the final save gathers a full state
    dict on rank 0. For FSDP1 we do that ourselves because accelerate always offloads it to CPU on
    the way, which only makes sense when the parameters live on a GPU (with CPU parameters it
    crashed rank 0 with SIGSEGV: shared/notes/accelerate-launch-facts.md).
    """
    if not getattr(trainer, "is_fsdp_enabled", False):
        trainer.save_model(output_dir)
        return
    plugin = trainer.accelerator.state.fsdp_plugin
    if plugin.fsdp_version == 2:
        if "FULL_STATE_DICT" not in str(plugin.state_dict_type):
            plugin.state_dict_config = plugin.optim_state_dict_config = None
            plugin.set_state_dict_type("FULL_STATE_DICT")
        trainer.save_model(output_dir)
        return
    import torch
    from torch.distributed.fsdp import FullStateDictConfig, StateDictType
    from torch.distributed.fsdp import FullyShardedDataParallel as FSDP

    config = FullStateDictConfig(offload_to_cpu=torch.cuda.is_available(), rank0_only=True)
    with FSDP.state_dict_type(trainer.model, StateDictType.FULL_STATE_DICT, config):
        state_dict = trainer.model.state_dict()  # a collective: every rank takes part
    os.makedirs(output_dir, exist_ok=True)
    trainer._save(output_dir, state_dict=state_dict)  # writes on rank 0 only (args.should_save)


def _distributed_label(acc: Any) -> str:
    dist = str(acc.distributed_type).split(".")[-1]
    if dist == "FSDP":
        return f"fsdp{getattr(acc.state.fsdp_plugin, 'fsdp_version', 1)}"
    if dist == "NO":
        return "none"
    if dist.startswith("MULTI_"):
        return "ddp"
    return dist.lower()


def _model_shape(model: Any, total: int, trainable: int) -> Any:
    from training.auto_batch import ModelShape

    cfg = model.config.get_text_config() if hasattr(model.config, "get_text_config") else model.config
    hidden = int(getattr(cfg, "hidden_size", 0) or 0)
    return ModelShape(
        num_parameters=total,
        trainable_parameters=trainable,
        hidden_size=hidden,
        intermediate_size=int(getattr(cfg, "intermediate_size", 0) or 4 * hidden),
        num_layers=int(getattr(cfg, "num_hidden_layers", 0) or 0),
        num_heads=int(getattr(cfg, "num_attention_heads", 0) or 0),
        vocab_size=int(getattr(cfg, "vocab_size", 0) or 0),
    )


def _batch_request(parsed: Any, conn: Any, weight_bytes: float, fsdp: bool, checkpointing: bool) -> Any:
    import psutil
    import torch

    from training.auto_batch import BatchRequest

    targs = parsed.training
    world = conn.num_processes
    if torch.cuda.is_available() and not targs.use_cpu:
        free, _total = torch.cuda.mem_get_info(conn.local_process_index)
        source = f"free GPU memory on cuda:{conn.local_process_index}"
        overhead = 512 * 2**20  # CUDA context + allocator fragmentation
    else:
        local = max(env_int("LOCAL_WORLD_SIZE"), 1)
        free = int(psutil.virtual_memory().available / local)
        source = f"available RAM / {local} local process{'es' if local > 1 else ''}"
        overhead = 0
    target = parsed.run.global_batch_size or (
        targs.per_device_train_batch_size * targs.gradient_accumulation_steps * world
    )
    precision = "bf16" if targs.bf16 else "fp16" if targs.fp16 else os.environ.get("ACCELERATE_MIXED_PRECISION", "no")
    return BatchRequest(
        free_bytes=int(free),
        memory_source=source,
        world_size=world,
        global_batch_size=int(target),
        seq_len=parsed.data.max_seq_length,
        weight_bytes=weight_bytes,
        mixed_precision=precision,
        optimizer=str(getattr(targs.optim, "value", targs.optim)),
        gradient_checkpointing=checkpointing,
        fsdp_shards=world if fsdp else 1,
        safety_margin=parsed.run.memory_safety_margin,
        overhead_bytes=overhead,
    )


def _sft_config(targs: Any, data_args: Any, data_format: str) -> Any:
    """TRL's SFTConfig from our TrainingArguments plus the data options (TRL's own conversion path)."""
    from trl import SFTConfig

    values = targs.to_dict()
    values["hub_token"] = targs.hub_token  # to_dict hides it
    values.update(max_length=data_args.max_seq_length, packing=data_args.packing)
    if data_format == "chat":
        # Completion-only on chat data = the assistant turns (the template's {% generation %} parts).
        values["assistant_only_loss"] = bool(data_args.completion_only_loss)
    else:
        values["completion_only_loss"] = data_args.completion_only_loss
    return SFTConfig(**values)


if __name__ == "__main__":
    sys.exit(main())
