"""Train one run: base model -> method -> HF Trainer with our callbacks -> adapter/ in the run folder.

Called by the worker process with a RunDir whose config.json holds a TrainConfig. Writes metrics.jsonl
and status.json through the RunDir; never starts processes and never touches the UI.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import shutil
import random
import time
from pathlib import Path
from typing import Any

import torch
from transformers import EarlyStoppingCallback, Trainer, TrainerCallback, TrainingArguments, set_seed

from .errors import UserError
from . import answer_loss, augment, distributed, lane_dropout, methods, models, packing, provenance, replay, statements
from .config import GenParams, TrainConfig, check_device, to_dict, train_config_of
from .formatting import WEIGHTS, DynamicPadCollator, encode_pairs, encode_text, encode_trainable
from .generation import answer_questions
from .rundir import CHECKPOINT_COMPLETE, CHECKPOINT_WRITING, RunDir, atomic_write_json, atomic_write_text
from .schedule import phase_bounds, phased_scheduler, restarts

log = logging.getLogger(__name__)


class DataError(UserError, ValueError):
    """The training data is missing, empty or malformed."""


# data -----------------------------------------------------------------------------------------

def load_data(cfg: TrainConfig) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, eval) pairs: the dataset's test split, else a seeded share of train held out."""
    if not cfg.data:
        raise DataError("no training data given: pass a dataset folder or a JSONL file of question/answer pairs")
    from .qa.dataset import load_split

    path = Path(cfg.data)
    if not path.exists():
        raise DataError(f"training data {path} does not exist")
    train = load_split(path, "train")
    if not train:
        raise DataError(f"{path} holds no question/answer pairs to train on")
    test = load_split(path, "test") if path.is_dir() else []
    if not test and cfg.eval_fraction > 0 and len(train) >= 10:
        shuffled = train[:]
        random.Random(cfg.seed).shuffle(shuffled)
        cut = max(1, int(len(shuffled) * cfg.eval_fraction))
        test, train = shuffled[:cut], shuffled[cut:]
    return train, test


# callbacks ------------------------------------------------------------------------------------

class RunLogger(TrainerCallback):
    """Writes train/eval records to metrics.jsonl and progress to status.json; obeys the STOP file."""

    def __init__(self, run: RunDir, collator: DynamicPadCollator | packing.PackingCollator):
        self.run, self.collator = run, collator
        self.t0 = time.time()
        self.tokens0 = 0
        self.step0 = 0

    def on_train_begin(self, args, state, control, **kw):
        self.t0, self.step0, self.tokens0 = time.time(), state.global_step, self.collator.tokens_seen
        self.run.write_status(state="running", step=state.global_step, total_steps=state.max_steps)

    def on_step_end(self, args, state, control, **kw):
        if self.run.stop_requested():
            control.should_training_stop = True
            control.should_save = True  # a stopped run can resume from here
        if state.global_step % max(1, args.logging_steps) == 0 or control.should_training_stop:
            self.run.write_status(step=state.global_step, total_steps=state.max_steps, eta_s=self._eta(state),
                                  tokens_per_s=self._tps())
        return control

    def on_log(self, args, state, control, logs=None, **kw):
        logs = dict(logs or {})
        split = "eval" if any(k.startswith("eval_") for k in logs) else "train"
        if split == "train" and "loss" not in logs:
            return
        record = {"step": state.global_step, "split": split, "epoch": round(state.epoch or 0.0, 4)}
        for key, value in logs.items():
            name = key.removeprefix("eval_")
            if name in ("loss", "learning_rate", "grad_norm", "runtime"):
                record["lr" if name == "learning_rate" else name] = float(value)
        if split == "train":
            record["tokens_per_s"] = self._tps()
        self.run.append_metric(record)

    def _tps(self) -> float:
        elapsed = time.time() - self.t0
        return round((self.collator.tokens_seen - self.tokens0) / elapsed, 1) if elapsed > 0 else 0.0

    def _eta(self, state) -> float | None:
        done = state.global_step - self.step0
        if done <= 0 or not state.max_steps:
            return None
        return round((time.time() - self.t0) / done * (state.max_steps - state.global_step), 1)


class PhaseSwitch(TrainerCallback):
    """Sequential methods: at each step only the current phase's parameters learn."""

    def __init__(self, model: torch.nn.Module, phases: list[methods.Phase]):
        self.model, self.phases = model, phases
        self.trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        self.current: str | None = None

    def phase_at(self, step: int, total: int) -> methods.Phase:
        for phase, (_, end) in zip(self.phases, phase_bounds(self.phases, total)):
            if step < end:
                return phase
        return self.phases[-1]

    def on_step_begin(self, args, state, control, **kw):
        phase = self.phase_at(state.global_step, state.max_steps)
        if phase.name != self.current:
            for name, p in self.trainable:
                p.requires_grad_(phase.trains(name))
                if not p.requires_grad:
                    p.grad = None  # AdamW skips parameters without a gradient
            self.current = phase.name
            log.info("step %d: phase %s", state.global_step, phase.name)


TRAINABLE_FILE = "trainable.safetensors"


class TrainableSnapshot(TrainerCallback):
    """Saves every parameter that trains, by name, beside each checkpoint.

    Trainer checkpoints of composed models hold only what the outer PEFT wrapper knows (a prefix-tuning
    wrapper saves its prompt embeddings, not the LoRA layers injected under it), so resuming from them
    alone would silently restart those layers. ``restore`` puts the snapshot back before resuming, and
    at the end of an early-stopped run it completes the Trainer's best-model reload the same way.
    """

    def __init__(self, model: torch.nn.Module, keep: int = 2):
        self.params = {n: p for n, p in model.named_parameters() if p.requires_grad}
        self.keep = keep

    def on_save(self, args, state, control, **kw):
        """Completes the checkpoint the Trainer just wrote: trainable weights (under a WRITING marker), then
        the COMPLETE marker, and only then the deletion of older checkpoints (the Trainer's own rotation is
        off, since it deleted them before this checkpoint was whole)."""
        from safetensors.torch import save_file

        ckpt = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        if not ckpt.is_dir() or not state.is_world_process_zero:  # rank 0 completes and rotates checkpoints
            return
        writing = ckpt / CHECKPOINT_WRITING
        writing.touch()
        tmp = ckpt / f".{TRAINABLE_FILE}.tmp"
        save_file({n: p.detach().cpu().contiguous() for n, p in self.params.items()}, tmp)
        os.replace(tmp, ckpt / TRAINABLE_FILE)
        atomic_write_text(ckpt / CHECKPOINT_COMPLETE, f"{state.global_step}\n")
        writing.unlink()
        self._rotate(Path(args.output_dir), state.best_model_checkpoint)

    def _rotate(self, folder: Path, best: str | None) -> None:
        """Delete complete checkpoints beyond the newest ``keep`` (the best one stays), and any left unfinished
        by an earlier crash that is older than the newest complete one."""
        run = RunDir(folder.parent)
        done = run.complete_checkpoints()
        keep = set(done[-self.keep:]) | ({Path(best)} if best else set())
        newest = int(done[-1].name.split("-")[-1]) if done else -1
        for ckpt in folder.glob("checkpoint-*"):
            step = ckpt.name.split("-")[-1]
            stale = ckpt not in done and step.isdigit() and int(step) < newest
            if (ckpt in done and ckpt not in keep) or stale:
                shutil.rmtree(ckpt, ignore_errors=True)

    def on_train_end(self, args, state, control, **kw):
        # Runs after the Trainer's own best-model reload, which restored only the outer wrapper's weights.
        best = state.best_model_checkpoint
        if args.load_best_model_at_end and best and (Path(best) / TRAINABLE_FILE).exists():
            self.restore(Path(best))

    def restore(self, checkpoint: Path) -> None:
        from safetensors.torch import load_file

        path = checkpoint / TRAINABLE_FILE
        if not path.exists():
            raise DataError(f"{checkpoint} has no {TRAINABLE_FILE}; it was not written by this version and "
                            "cannot be resumed exactly")
        saved = load_file(path)
        missing = sorted(set(self.params) - set(saved))
        if missing:
            raise DataError(f"{path} lacks {len(missing)} trained parameters (e.g. {missing[0]}); cannot resume")
        with torch.no_grad():
            for name, param in self.params.items():
                param.copy_(saved[name].to(param.device, param.dtype))


class GenerationProbe(TrainerCallback):
    """After every evaluation, answer a fixed sample of test questions and log BLEU-4, ROUGE-L, facts."""

    def __init__(self, run: RunDir, model, tok, probe: list[dict[str, Any]], cfg: TrainConfig):
        self.run, self.model, self.tok, self.probe, self.cfg = run, model, tok, probe, cfg

    def on_evaluate(self, args, state, control, **kw):
        from .metrics import score_all

        if not state.is_world_process_zero:  # the probe's answers are rank 0's to write
            return
        was_training = self.model.training
        self.model.eval()
        gen = GenParams(max_new_tokens=self.cfg.probe_max_new_tokens, batch_size=len(self.probe))
        t0 = time.time()
        answers = answer_questions(self.model, self.tok, [p["question"] for p in self.probe], gen,
                                   self.cfg.system_message())
        if was_training:
            self.model.train()
        scores = score_all(answers, [p["answer"] for p in self.probe], metrics=["bleu4", "rougeL", "fact_acc"],
                           keys=[p.get("keys") for p in self.probe])
        record = {"step": state.global_step, "split": "probe", "epoch": round(state.epoch or 0.0, 4),
                  "seconds": round(time.time() - t0, 2), "example": {"q": self.probe[0]["question"],
                                                                     "a": answers[0]}}
        record.update({k: v for k, v in scores.items() if isinstance(v, (int, float))})
        self.run.append_metric(record)


# trainer assembly -----------------------------------------------------------------------------

class PhasedTrainer(Trainer):
    """A Trainer whose learning-rate schedule restarts at the phases that ask for it (schedule.py)."""

    def __init__(self, *args, phases: list[methods.Phase] | None = None, answer_only: bool = False, **kwargs):
        self.phases = phases or []
        self.answer_only = answer_only
        super().__init__(*args, **kwargs)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """Training steps and the eval loss compute the output layer at answer positions only
        (answer_loss.py). Evaluation asks for the outputs too, but only to collect logits that
        ``prediction_loss_only`` throws away, so it gets none: the Trainer would otherwise keep a
        (examples, length, vocabulary) tensor of every eval batch."""
        inputs.pop("skip_logits", None)  # the Trainer's hint to Liger's fused loss, which is not applied
        wants_outputs = return_outputs and not self.args.prediction_loss_only
        weighted = WEIGHTS in inputs  # key_weight: the Trainer's own loss knows no per-token weights
        if (self.answer_only or weighted) and not wants_outputs:
            loss = answer_loss.answer_only_loss(model, inputs, num_items_in_batch, full_logits=not self.answer_only)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                # the count is of every rank's tokens and DDP averages gradients over ranks (as the Trainer's
                # own loss does)
                loss = loss * self.accelerator.num_processes
            return (loss, {}) if return_outputs else loss
        return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                    num_items_in_batch=num_items_in_batch)

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        if self.lr_scheduler is None and restarts(self.phases):
            self.lr_scheduler = phased_scheduler(self.args, optimizer or self.optimizer, self.phases,
                                                 num_training_steps)
        return super().create_scheduler(num_training_steps, optimizer)


def write_yaml_config(run: RunDir, cfg: TrainConfig) -> None:
    """``config.yaml``: every setting the run trains with, the learning rate resolved; ``train --config`` reads
    it back (and the Train tab loads it) to train the same run again."""
    import yaml

    pinned = f"# the data as this run saw it is pinned in {run.pinned}\n" if run.pinned_data() else ""
    header = f"# run {run.id}: python -m workbench train --config config.yaml\n{pinned}"
    settings = {**to_dict(cfg), "data": train_config_of(run.read_config()).data}  # the dataset, not the copy
    atomic_write_text(run.path / "config.yaml", header + yaml.safe_dump(settings, sort_keys=False))


def _trackers(cfg: TrainConfig, run: RunDir) -> list[str] | str:
    """transformers' reporting callbacks for ``report_to``; TensorBoard writes into the run's own folder (this
    worker process trains one run, so the variable its callback reads is set here)."""
    names = cfg.trackers()
    if "tensorboard" in names:
        os.environ["TENSORBOARD_LOGGING_DIR"] = str(run.path / "tensorboard")
    return names or "none"


# Liger's kernels that leave the model's outputs as they are; its fused linear cross-entropy would replace the
# output layer that answer_loss swaps for the answer positions.
LIGER_KERNELS = {"rope": True, "rms_norm": True, "swiglu": True, "cross_entropy": False,
                 "fused_linear_cross_entropy": False}


def training_args(cfg: TrainConfig, run: RunDir, device: str, dtype: torch.dtype, has_eval: bool) -> TrainingArguments:
    check_device(cfg, device)
    per_epoch = cfg.eval_steps == 0
    eval_strategy = "no" if not has_eval else ("epoch" if per_epoch else "steps")
    save_strategy = "epoch" if cfg.save_steps == 0 else "steps"
    early = cfg.early_stopping_patience > 0 and has_eval
    if early and (eval_strategy != save_strategy or (save_strategy == "steps" and cfg.save_steps % cfg.eval_steps)):
        # Early stopping keeps the best checkpoint, so it must save whenever it evaluates.
        save_strategy = eval_strategy
    return TrainingArguments(
        output_dir=str(run.checkpoints),
        learning_rate=cfg.learning_rate, lr_scheduler_type=cfg.lr_scheduler, warmup_steps=float(cfg.warmup_ratio),
        num_train_epochs=cfg.epochs, max_steps=cfg.max_steps, per_device_train_batch_size=cfg.batch_size,
        # evaluation keeps no activations for a backward pass: fewer, fuller batches cost less per example
        per_device_eval_batch_size=max(cfg.batch_size, 8), gradient_accumulation_steps=cfg.grad_accum,
        weight_decay=cfg.weight_decay, max_grad_norm=cfg.max_grad_norm, optim=cfg.optimizer, seed=cfg.seed,
        eval_strategy=eval_strategy, eval_steps=cfg.eval_steps or None,
        save_strategy=save_strategy, save_steps=cfg.save_steps or 500, save_total_limit=None,  # TrainableSnapshot
        load_best_model_at_end=early, metric_for_best_model="eval_loss" if early else None,
        greater_is_better=False if early else None,
        logging_steps=cfg.logging_steps, logging_first_step=True, report_to=_trackers(cfg, run), disable_tqdm=True,
        activation_checkpointing=cfg.gradient_checkpointing,  # transformers 5's name; the old one warns
        train_sampling_strategy="group_by_length" if cfg.group_by_length else "random",
        bf16=dtype == torch.bfloat16, fp16=dtype == torch.float16, use_cpu=device == "cpu",
        ddp_backend=("gloo" if device == "cpu" else "nccl") if distributed.world_size() > 1 else None,
        fsdp="full_shard auto_wrap" if cfg.strategy == "fsdp" and distributed.world_size() > 1 else "",
        remove_unused_columns=False, dataloader_pin_memory=device == "cuda",
        # The eval loss is all the runs log; without this the Trainer gathers every eval batch's full-vocabulary
        # logits. Memory, mostly: 97 held-out pairs took 9.5-10.9 s an epoch against 10.1-11.6 s (2-core CPU).
        prediction_loss_only=True,
        neftune_noise_alpha=cfg.neftune_alpha or None,  # transformers' NEFTune hook on the input embeddings
        use_liger_kernel=cfg.fused_kernels == "liger", liger_kernel_config=LIGER_KERNELS,
    )


def collator_for(cfg: TrainConfig, model, tok, dtype: torch.dtype) -> DynamicPadCollator | packing.PackingCollator:
    """The packing collator where the model and method allow it (packing.py), else padding to each batch's
    longest example."""
    why_not = packing.supported(model) if cfg.packing else "packing is off"
    if why_not is None:
        return packing.collator_for(model, dtype)
    if cfg.packing:
        log.info("batches are padded, not packed: %s", why_not)
    return DynamicPadCollator(pad_id=tok.pad_token_id)


def build_optimizer(model, method: methods.Method, params: Any, args: TrainingArguments):
    """Optimiser with the method's own parameter groups (separate learning rates), or None for the default."""
    if method.param_groups is None:
        return None
    groups = [g for g in method.param_groups(model, params, args.learning_rate) if g["params"]]
    cls, kwargs = Trainer.get_optimizer_cls_and_kwargs(args, model)
    kwargs.pop("lr", None)
    for g in groups:
        g.setdefault("weight_decay", args.weight_decay)
    return cls(groups, lr=args.learning_rate, **kwargs)


def passages_of(cfg: TrainConfig) -> list[dict[str, Any]]:
    """The passages of the dataset folder the run trains on (none for a plain JSONL file of pairs)."""
    from .qa.dataset import load_passages

    folder = Path(cfg.data)
    return load_passages(folder) if folder.is_dir() and (folder / "passages.jsonl").exists() else []


def plain_texts(cfg: TrainConfig, pairs: list[dict[str, Any]]) -> list[str]:
    """What trains as plain text beside the pairs, for a dataset built from documents: its passages and the
    pairs' answers as statements (statements.py), each as the settings ask."""
    passages = passages_of(cfg)
    texts = [p["text"] for p in passages] if cfg.train_on_passages else []
    if cfg.train_on_statements and passages:
        texts += statements.fact_texts(pairs, seed=cfg.seed)
    return texts


def training_examples(cfg: TrainConfig, tok, domain: list[dict[str, Any]], replayed: list[dict[str, Any]],
                      ) -> list[dict[str, list]] | augment.TrainExamples:
    """The encoded training set: the domain pairs, the replay pairs and the plain texts. With question dropout the
    domain pairs are re-encoded on each draw with some question words left out (augment.py); the replay pairs stay
    the base model's exact questions and answers."""
    settings = (cfg.system_message(), cfg.max_seq_len, cfg.key_weight, cfg.key_weight_keep_total)
    texts = [encode_text(tok, text, cfg.max_seq_len) for text in plain_texts(cfg, domain)]
    if cfg.question_dropout > 0:
        return augment.TrainExamples(encode_pairs(tok, replayed, *settings) + texts, domain,
                                     lambda pair: encode_trainable(tok, pair, *settings), cfg.question_dropout,
                                     cfg.seed)
    return encode_pairs(tok, domain + replayed, *settings) + texts


def replay_pairs(run: RunDir, cfg: TrainConfig, model, tok, info: models.ModelInfo, n_train: int,
                 ) -> list[dict[str, Any]]:
    """The base model's own answers to general questions (replay.py), before any adapter is built; written
    to the run folder so a reader sees exactly what was mixed in."""
    n = replay.count(cfg.replay, n_train, len(replay.questions()))
    if not n:
        return []
    run.write_status(phase="answering replay questions with the base model")
    key = f"{info.path}|{info.dtype}|4bit={getattr(model, 'is_loaded_in_4bit', False)}"
    found = replay.pairs(model, tok, n, model_key=key, system_prompt=cfg.system_message())
    if distributed.is_main():
        atomic_write_text(run.path / "replay.jsonl", "".join(json.dumps(p) + "\n" for p in found))
    return found


def discard_unfinished_checkpoints(run: RunDir) -> None:
    """Delete checkpoint folders a killed process left half-written, so the resumed run writes them anew."""
    done = set(run.complete_checkpoints())
    for ckpt in run.checkpoints.glob("checkpoint-*") if run.checkpoints.is_dir() else ():
        if ckpt not in done:
            log.warning("discarding the unfinished checkpoint %s", ckpt.name)
            shutil.rmtree(ckpt, ignore_errors=True)


@dataclasses.dataclass(frozen=True)
class FollowerRun(RunDir):
    """The run folder as a rank other than 0 of a distributed run sees it: it reads, rank 0 writes."""

    def write_status(self, **fields: Any) -> dict[str, Any]:
        return {}

    def append_metric(self, record: dict[str, Any]) -> None:
        return None

    def drop_metrics_after(self, step: int) -> int:
        return 0

    def pin_data(self, source: Path) -> Path:
        """Rank 0 makes the copy; the others wait for it rather than copy beside it."""
        deadline = time.time() + 600
        while self.pinned_data() is None:
            if time.time() > deadline:
                raise DataError(f"rank {distributed.rank()}: rank 0 did not pin the data of run {self.id}")
            time.sleep(0.2)
        return self.pinned


def _finished_checkpoint(checkpoint: Path | None, max_steps: int) -> dict[str, Any] | None:
    """The checkpoint's trainer state when it was saved at the run's last step (``max_steps`` when the run sets
    it, else the step count the checkpoint's run planned), else None."""
    state = json.loads((checkpoint / "trainer_state.json").read_text()) if checkpoint and (
        checkpoint / "trainer_state.json").is_file() else {}
    last = max_steps if max_steps > 0 else state.get("max_steps") or 0
    return state if last and (state.get("global_step") or 0) >= last else None


def _last_train_loss(run: RunDir) -> float:
    losses = [r["loss"] for r in run.read_metrics(0)[0] if r.get("split") == "train" and "loss" in r]
    return float(losses[-1]) if losses else float("nan")


def parse_config(run: RunDir) -> TrainConfig:
    return train_config_of(run.read_config())


def pinned(run: RunDir, cfg: TrainConfig, create: bool = True) -> TrainConfig:
    """``cfg`` reading the run's own copy of its data (made at the first start, rundir.RunDir.pin_data), so an
    edit of the dataset afterwards changes neither a resume nor an evaluation of this run. Without
    ``create`` (an evaluation), a run from before pinning keeps reading its dataset where it is."""
    if run.pinned_data() is not None or (create and cfg.data and Path(cfg.data).exists()):
        return dataclasses.replace(cfg, data=str(run.pin_data(Path(cfg.data))))
    return cfg


def train(run: RunDir) -> dict[str, Any]:
    """Train the run described by its config.json; resumes from its last checkpoint if there is one. Under
    torchrun every rank trains and rank 0 alone writes the run folder."""
    main = distributed.is_main()
    if not main:
        run = FollowerRun(run.path)
    cfg = pinned(run, parse_config(run))
    method = methods.get(cfg.method)
    params = methods.make_params(method, cfg.method_params)
    models.set_threads(cfg.threads)
    device = models.pick_device()
    if method.check:
        method.check(params, device)
    train_pairs, eval_pairs = load_data(cfg)

    # Seed before the model is built, not only in the Trainer: adapter weights (LoRA's A, a random B) are
    # drawn at build time, and a study's seeds should vary them as well as data order and dropout.
    set_seed(cfg.seed)
    load_kwargs = method.load_kwargs(params, device) if method.load_kwargs else {}
    precision = methods.precision_for(cfg.method, cfg.precision, device)
    run.write_status(phase=f"loading the model ({cfg.model})")
    model, tok, info = models.load_model(cfg.model, precision=precision, device=device,
                                         trust_remote_code=cfg.trust_remote_code, **load_kwargs)
    dtype = getattr(torch, info.dtype)  # what load_model chose: bf16 or fp16 switches on mixed precision
    replayed = replay_pairs(run, cfg, model, tok, info, len(train_pairs))
    run.write_status(phase="training")
    model = method.build(model, params)
    if device == "cpu":
        log.info("%d dropout layers draw their masks in 16-bit lanes", lane_dropout.swap_dropouts(model))
    trainable, total = models.count_params(model)
    if trainable == 0:
        raise methods.MethodError(f"{method.name} left no parameter trainable; check its settings")
    if cfg.gradient_checkpointing and hasattr(model, "enable_input_require_grads"):
        model.enable_input_require_grads()  # frozen embeddings would otherwise cut the gradient path

    train_ds = training_examples(cfg, tok, train_pairs, replayed)
    # the eval loss stays unweighted, so that runs with other key weights compare
    eval_ds = encode_pairs(tok, eval_pairs, cfg.system_message(), cfg.max_seq_len)
    if not train_ds:
        raise DataError("every training example is longer than max_seq_len in its prompt alone; raise max_seq_len")
    lr = methods.learning_rate(cfg)
    cfg_lr = dataclasses.replace(cfg, learning_rate=lr)
    if main:
        write_yaml_config(run, cfg_lr)
    args = training_args(cfg_lr, run, device, dtype, has_eval=bool(eval_ds))
    collator = collator_for(cfg, model, tok, dtype)
    snapshot = TrainableSnapshot(model, keep=cfg.save_total_limit)
    callbacks: list[TrainerCallback] = [RunLogger(run, collator), snapshot]
    phases = method.phases(params) if method.phases else []
    if phases:
        callbacks.append(PhaseSwitch(model, phases))
    if eval_ds and cfg.probe_size > 0:
        callbacks.append(GenerationProbe(run, model, tok, eval_pairs[: cfg.probe_size], cfg))
    if args.load_best_model_at_end:
        callbacks.append(EarlyStoppingCallback(cfg.early_stopping_patience, cfg.early_stopping_threshold))
    trainer = PhasedTrainer(model=model, args=args, data_collator=collator, train_dataset=train_ds,
                            eval_dataset=eval_ds or None, callbacks=callbacks, phases=phases,
                            answer_only=cfg.answer_only_logits and answer_loss.supported(model),
                            optimizers=(build_optimizer(model, method, params, args), None))

    summary = {"model": info.__dict__, "method": method.name, "summary": method.summary,
               "trainable_params": trainable, "total_params": total,
               "trainable_share": round(trainable / total, 6), "learning_rate": lr,
               "train_examples": len(train_ds), "eval_examples": len(eval_ds)}
    if main:
        atomic_write_json(run.path / "summary.json", summary)
    run.write_status(trainable_params=trainable, total_params=total)
    log.info("%s on %s: %d of %d parameters trainable (%.3f%%)", method.name, info.spec, trainable, total,
             100 * trainable / total)

    resume = run.last_checkpoint()
    if main:
        discard_unfinished_checkpoints(run)
    if resume:
        snapshot.restore(resume)
    # steps after the checkpoint (or all, when there is none) were logged by a process that died: they train again
    dropped = run.drop_metrics_after(int(resume.name.rsplit("-", 1)[-1]) if resume else 0)
    if dropped:
        log.info("resuming at %s: %d metric records of steps trained after it are dropped", resume or "step 0",
                 dropped)
    finished = _finished_checkpoint(resume, cfg.max_steps)
    if finished is not None:  # killed after its last step was saved: resuming would train one step more
        log.info("resuming at %s: every step is trained already", resume.name)
        trainer.state.global_step, loss, seconds = finished["global_step"], _last_train_loss(run), 0.0
    else:
        result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
        loss, seconds = result.training_loss, result.metrics.get("train_runtime", 0.0)
    if main:
        method.save(model, run.adapter)
        tok.save_pretrained(run.adapter)
    stopped = run.stop_requested()
    planned = trainer.state.max_steps or 0
    # the early-stopping callback ends a run before its planned steps; a user asking to stop is not that
    early = bool(not stopped and cfg.early_stopping_patience > 0 and 0 < trainer.state.global_step < planned)
    summary.update(train_loss=loss, steps=trainer.state.global_step, planned_steps=planned,
                   train_seconds=round(seconds, 1), best_eval_loss=trainer.state.best_metric, stopped=stopped,
                   early_stopped=early)
    if not math.isfinite(loss):
        raise DataError("the training loss became NaN/inf; lower the learning rate")
    if main:
        atomic_write_json(run.path / "summary.json", summary)
        provenance.describe_run(run, cfg.model)
    return summary
