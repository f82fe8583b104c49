"""Typed configuration dataclasses with help text and UI ranges in field metadata.

Each config validates itself in ``__post_init__`` and can be built from a plain dict (JSON, YAML,
``--set key=value`` strings). This module knows nothing of models, files or the UI.
Standard library only (layer 1).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, get_args, get_origin

from .errors import UserError
from .rundir import train_settings

T = TypeVar("T")


class ConfigError(UserError, ValueError):
    """A configuration value is missing, of the wrong type or out of range."""


def param(default: Any, help: str, *, lo: float | None = None, hi: float | None = None,
          choices: tuple | None = None, step: float | None = None, ui: bool = True) -> Any:
    """A dataclass field carrying its help text, range and choices for CLI --help and UI forms."""
    meta = {"help": help, "lo": lo, "hi": hi, "choices": choices, "step": step, "ui": ui}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    if get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def coerce(value: Any, tp: Any, name: str) -> Any:
    """Convert ``value`` (often a string from the CLI) to the annotated type ``tp``."""
    base, optional = _strip_optional(tp)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null", "")):
        return None
    origin = get_origin(base)
    try:
        if origin is Literal:
            allowed = get_args(base)
            if value not in allowed:
                raise ConfigError(f"{name}: {value!r} is not one of {', '.join(map(str, allowed))}")
            return value
        if base is bool:
            if isinstance(value, str):
                if value.lower() in ("1", "true", "yes", "on"):
                    return True
                if value.lower() in ("0", "false", "no", "off"):
                    return False
                raise ConfigError(f"{name}: {value!r} is not a boolean (use true or false)")
            return bool(value)
        if base is int:
            if isinstance(value, float) and not value.is_integer():
                raise ConfigError(f"{name}: {value} is not a whole number")
            return int(float(value)) if isinstance(value, str) else int(value)
        if base is float:
            return float(value)
        if base is str:
            return str(value)
        if origin is list or base is list:
            if isinstance(value, str):
                value = json.loads(value) if value.strip().startswith("[") else [v for v in value.split(",") if v]
            return list(value)
        if origin is dict or base is dict:
            return json.loads(value) if isinstance(value, str) else dict(value)
    except (TypeError, ValueError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"{name}: cannot read {value!r} as {getattr(base, '__name__', base)}") from None
    return value


def check_ranges(obj: Any) -> None:
    """Raise ConfigError for any field outside its declared range or choices."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        meta = f.metadata
        if value is None or not meta:
            continue
        if meta.get("choices") and value not in meta["choices"]:
            raise ConfigError(f"{f.name}: {value!r} is not one of {', '.join(map(str, meta['choices']))}")
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            if meta.get("lo") is not None and value < meta["lo"]:
                raise ConfigError(f"{f.name}: {value} is below the minimum {meta['lo']} ({meta['help']})")
            if meta.get("hi") is not None and value > meta["hi"]:
                raise ConfigError(f"{f.name}: {value} is above the maximum {meta['hi']} ({meta['help']})")


def from_dict(cls: type[T], data: dict[str, Any]) -> T:
    """Build ``cls`` from a dict, refusing unknown keys and coercing strings to field types."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"unknown setting(s) for {cls.__name__}: {', '.join(unknown)}; "
                          f"known: {', '.join(sorted(names))}")
    kwargs = {k: coerce(v, hints[k], k) for k, v in data.items()}
    return cls(**kwargs)


def to_dict(obj: Any) -> dict[str, Any]:
    return dataclasses.asdict(obj)


def describe(cls: type) -> list[dict[str, Any]]:
    """Field descriptions for help screens and generated forms."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        default = f.default if f.default is not dataclasses.MISSING else (
            f.default_factory() if f.default_factory is not dataclasses.MISSING else None)
        out.append({"name": f.name, "type": hints[f.name], "default": default, **dict(f.metadata)})
    return out


SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup", "cosine_with_restarts", "polynomial")
OPTIMIZERS = ("adamw_torch", "adamw_torch_fused", "adafactor", "sgd",
              "adamw_bnb_8bit", "paged_adamw_8bit", "paged_adamw_32bit")
CUDA_ONLY_OPTIMIZERS = ("paged_adamw_8bit", "paged_adamw_32bit")


# tracker name -> the package transformers' reporting callback needs
TRACKERS = {"tensorboard": "tensorboard", "mlflow": "mlflow", "wandb": "wandb", "trackio": "trackio"}


@dataclass
class TrainConfig:
    """One fine-tuning run. Defaults are the knowledge-teaching preset measured on SmolLM2."""

    data: str = param("", "dataset folder (train.jsonl/test.jsonl) or a JSONL file of question/answer pairs",
                      ui=False)
    model: str = param("smollm2", "base model: alias (smollm2, gemma3-270m, tiny), HF directory, GGUF file "
                       "or hub id", ui=False)
    method: str = param("lora", "fine-tuning method (see `python -m workbench methods`)", ui=False)
    method_params: dict = param({}, "the method's own parameters (rank, virtual tokens, ...)", ui=False)
    learning_rate: float | None = param(None, "peak learning rate; empty = the method's default",
                                        lo=1e-7, hi=1.0)
    lr_scheduler: str = param("cosine", "learning-rate schedule after warm-up", choices=SCHEDULERS)
    warmup_ratio: float = param(0.03, "share of steps spent warming the learning rate up", lo=0.0, hi=0.5,
                                step=0.01)
    # Four passes over four wordings per fact show each fact about 16 times, as eight passes over two did when
    # 23 of 30 reworded questions were answered (MEASURED.md); the held-out probe reached 8/8 after three.
    epochs: float = param(4.0, "passes over the training set (ignored when max_steps > 0)", lo=0.01, hi=1000,
                          step=0.5)
    max_steps: int = param(-1, "stop after this many optimiser steps; -1 = use epochs", lo=-1, hi=10_000_000)
    batch_size: int = param(4, "examples per device step", lo=1, hi=1024)
    grad_accum: int = param(1, "steps to accumulate before each optimiser update", lo=1, hi=1024)
    weight_decay: float = param(0.0, "AdamW weight decay", lo=0.0, hi=1.0, step=0.01)
    max_grad_norm: float = param(1.0, "gradient clipping norm; 0 = off", lo=0.0, hi=100.0, step=0.1)
    optimizer: str = param("adamw_torch", "optimiser (8-bit and paged variants need bitsandbytes; paged "
                           "ones need CUDA)", choices=OPTIMIZERS)
    seed: int = param(42, "random seed for data order and initialisation", lo=0, hi=2**31 - 1)
    max_seq_len: int = param(512, "longest tokenised example kept (longer ones are truncated)", lo=16,
                             hi=131072)
    eval_steps: int = param(0, "evaluate every N steps; 0 = once per epoch", lo=0, hi=1_000_000)
    save_steps: int = param(0, "save a checkpoint every N steps; 0 = once per epoch", lo=0, hi=1_000_000)
    save_total_limit: int = param(2, "checkpoints kept on disk (older ones are deleted)", lo=1, hi=100)
    logging_steps: int = param(5, "log train loss every N steps", lo=1, hi=10_000)
    report_to: str = param("none", "experiment trackers that also receive the metrics, comma-separated: "
                           "tensorboard (event files in the run's tensorboard/ folder), mlflow, wandb, trackio "
                           "(each where installed); none = the workbench's own metrics only")
    early_stopping_patience: int = param(0, "stop when eval loss has not improved for N evaluations; 0 = off",
                                         lo=0, hi=1000)
    early_stopping_threshold: float = param(0.0, "smallest eval-loss improvement that counts", lo=0.0, hi=10.0)
    gradient_checkpointing: bool = param(False, "recompute activations to save memory (slower)")
    # Measured (bench/train_throughput.py, one epoch of 120 pairs): batches ordered by length left the loss on
    # the trained pairs 12% above random batches; packing leaves no padding for it to save.
    group_by_length: bool = param(False, "batch examples of similar length together (less padding when packing "
                                  "is off; the length order measured to learn worse)")
    # Measured (bench/knowledge.py, technical document): share 0.2 held the forgetting probe at 0.60 from 0.62
    # (0.52 with 0.1), the same 14 of 30 reworded questions, 12% more steps.
    replay: float = param(0.2, "share of replay pairs in the training mix: general questions (not the forgetting "
                          "probe's) answered by the base model before training, against forgetting; 0 = off",
                          lo=0.0, hi=0.5, step=0.05)
    # Measured (bench/knowledge.py, technical document): 15 of 30 reworded questions with the passages, 11
    # without; about 3% more training time.
    train_on_passages: bool = param(True, "also train on the dataset's passages as plain text (every token "
                                    "learned), besides its question/answer pairs")
    # Measured (bench/knowledge.py, biography, with replay 0.2): 14 of 30 reworded questions with them, 17
    # without (replay 0.1); 512 steps at 1.7 s instead of 440 at 1.3 s. Off until a form of it pays.
    train_on_statements: bool = param(False, "also train on the pairs' distinct answer sentences as plain text, "
                                      "grouped by passage in shuffled order: each fact in the several "
                                      "statements of its answers, not only the source's words (datasets built "
                                      "from documents)")
    # Measured (bench/knowledge.py, 2026-11-28, the same pairs as with 1; knowledge_key_weight3.json): weight 3
    # answered 46 of the three documents' 90 reworded questions against 38, and its held-out rewordings rose on each
    # (0.90-0.97 against 0.86-0.94), but the validation documents gave 19 of 60 against 21 and the catalogue's
    # forgetting probe fell 17 points: the weights raise each answer's share of the gradient against the replay
    # pairs'. Kept within each answer (key_weight_keep_total, knowledge_key_weight3_kept.json): 45 of 90 and 18 of
    # 60, the probe down 10 and 7 points on two documents. Off: the gain is the development documents' only.
    key_weight: float = param(1.0, "loss weight of the answer tokens that state the fact a pair asks for (its keys: "
                              "the name, number or date) and of the word leading into them; 1 = every answer token "
                              "alike", lo=0.1, hi=10.0, step=0.5)
    key_weight_keep_total: bool = param(True, "scale each answer's key weights to sum to its token count, so the key "
                                        "gains only against the rest of its answer and the answers' share against "
                                        "replay pairs and passages stays (off = the weights add to it)")
    # Measured (bench/knowledge.py, 2026-12-06, knowledge_question_dropout0.3.json): 0.3 answered 8 and 5 of the
    # validation documents' 30 reworded questions against 11 and 8 without it the same day. Off. Probably
    # because a question that lost its topic words asks for any fact of its subject, so the model learns to answer
    # such a question with whichever fact it holds best.
    question_dropout: float = param(0.0, "share of each training question's common words left out, a new choice "
                                    "every time the pair is drawn (names, numbers and the question word stay), so "
                                    "that an answer does not hang on the question's exact words; 0 = off",
                                    lo=0.0, hi=0.9, step=0.05)
    # Measured (bench/knowledge.py, 2026-12-07, report, alpha 10 with packing, about the paper's noise relative to
    # SmolLM2's embeddings): 16 and 7 of the two 30-question sets against 13 and 10 the same day (23 of 60 both),
    # the probe the same. Off: no gain beyond one run's spread.
    neftune_alpha: float = param(0.0, "NEFTune: uniform noise added to the input embeddings while training, of size "
                                 "alpha / sqrt(tokens x width) per row (a packed row counts all its tokens); 5-15 in "
                                 "the paper; 0 = off", lo=0.0, hi=100.0, step=1.0)
    packing: bool = param(True, "pack each batch into one row without padding, the prompt head the examples share "
                          "(system turn, user header) computed once (same loss, less work; not for prefix tuning)")
    fused_kernels: str = param("off", "liger = Liger's fused Triton kernels for RMSNorm, RoPE and SwiGLU (CUDA GPU, "
                               "`pip install liger-kernel`); its fused cross-entropy is left off, the answer-only "
                               "logits already skip the prompt's", choices=("off", "liger"))
    answer_only_logits: bool = param(True, "compute the output layer only at answer tokens while training (same "
                                     "loss, less work: the prompt's logits are never used)")
    precision: str = param("auto", "auto = bf16 on a CUDA GPU that supports it or a CPU with bf16 instructions "
                           "(AVX512-BF16, AMX), else fp32",
                           choices=("auto", "fp32", "bf16", "fp16"))
    system_prompt: str = param("", "system message used in the chat template while training and answering")
    # Measured (bench/knowledge.py, report document): an empty system turn trained 8% faster but the forgetting
    # probe fell 19 points against 2 with the template's default, and fewer reworded questions were answered.
    template_system_prompt: bool = param(True, "with an empty system_prompt, let the chat template add its own "
                                         "default system message (SmolLM2's is about 20 tokens per example); off = "
                                         "an empty system turn, the same in training, evaluation and chat (faster, "
                                         "but measured to forget more)")
    eval_fraction: float = param(0.1, "share of train pairs held out for eval loss when the data has no test "
                                 "split", lo=0.0, hi=0.5, step=0.05)
    probe_size: int = param(8, "test questions answered at every evaluation for live BLEU/ROUGE/fact metrics; "
                            "0 = off", lo=0, hi=256)
    probe_max_new_tokens: int = param(48, "answer length limit for the probe", lo=1, hi=1024)
    threads: int = param(0, "CPU threads for torch; 0 = the CPU quota", lo=0, hi=1024)
    trust_remote_code: bool = param(False, "run model code shipped with a hub model (only for models you trust)")
    devices: int = param(1, "processes to train on, one per GPU (on a CPU: gloo processes); more than 1 starts the "
                         "run with torchrun and DDP, batch_size per device", lo=1, hi=1024)
    nodes: int = param(1, "machines taking part (torchrun --nnodes); each runs the same job, meeting at "
                       "$WORKBENCH_RDZV_ENDPOINT (see README)", lo=1, hi=4096)
    strategy: str = param("ddp", "how several devices share the work: ddp (each holds the whole model) or fsdp "
                          "(shards it; CUDA GPUs)", choices=("ddp", "fsdp"))

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.max_steps == 0:
            raise ConfigError("max_steps: 0 would train nothing; use -1 to train for `epochs` instead")
        if self.learning_rate is not None and self.learning_rate <= 0:
            raise ConfigError("learning_rate must be positive")
        self.trackers()

    def trackers(self) -> list[str]:
        """The trackers ``report_to`` names, each checked to be known and installed."""
        names = [n.strip().lower() for n in self.report_to.split(",") if n.strip() and n.strip().lower() != "none"]
        for name in names:
            if name not in TRACKERS:
                raise ConfigError(f"report_to: unknown tracker {name!r}; use none or some of {', '.join(TRACKERS)}")
            if importlib.util.find_spec(TRACKERS[name]) is None:
                raise ConfigError(f"report_to: {name} is not installed here; `pip install {TRACKERS[name]}` or "
                                  "leave it out")
        return names

    def system_message(self) -> str | None:
        """The system turn the run trains and answers with: its own text, an empty turn, or None for the chat
        template's default."""
        if self.system_prompt or not self.template_system_prompt:
            return self.system_prompt
        return None


def train_config_of(raw: dict[str, Any]) -> TrainConfig:
    """The TrainConfig of a run folder's config.json. Runs written before ``template_system_prompt`` existed
    trained with the chat template's default system message, and keep answering with it."""
    data = train_settings(raw)
    data.setdefault("template_system_prompt", True)
    return from_dict(TrainConfig, data)


def check_device(cfg: TrainConfig, device: str) -> None:
    """Refuse settings this device cannot run, saying what to use instead."""
    if cfg.optimizer in CUDA_ONLY_OPTIMIZERS and device != "cuda":
        raise ConfigError(f"optimizer {cfg.optimizer} needs a CUDA GPU; use adamw_torch (or adamw_bnb_8bit) here")
    if cfg.precision == "fp16" and device != "cuda":
        raise ConfigError("precision fp16 needs a CUDA GPU; use fp32 (or bf16) on the CPU")
    if cfg.fused_kernels == "liger" and device != "cuda":
        raise ConfigError("fused_kernels liger runs Triton kernels on a CUDA GPU; use off here")
    if cfg.fused_kernels == "liger" and importlib.util.find_spec("liger_kernel") is None:
        raise ConfigError("fused_kernels liger needs the liger-kernel package: pip install liger-kernel (or use off)")
    if cfg.strategy == "fsdp" and device != "cuda":
        raise ConfigError("strategy fsdp shards the model over CUDA GPUs; use ddp on the CPU")


NUM_BEAMS_HELP = ("beam search width: 1 = one token at a time (greedy or sampled; chat streams it); more = keep "
                  "that many candidate answers and return the likeliest (chat shows it when complete)")


@dataclass
class GenParams:
    """Decoding settings shared by evaluation, probes and chat."""

    max_new_tokens: int = param(128, "longest answer in tokens", lo=1, hi=4096)
    temperature: float = param(0.0, "0 = greedy (deterministic); higher = more varied", lo=0.0, hi=2.0, step=0.05)
    top_p: float = param(1.0, "nucleus sampling mass (used when temperature > 0)", lo=0.05, hi=1.0, step=0.05)
    repetition_penalty: float = param(1.1, "values above 1 discourage repeating", lo=1.0, hi=2.0, step=0.05)
    # bench/eval_throughput.py: batch 16 answered 6.6x faster than one at a time on a 2-core CPU; with answered
    # rows dropped (drop_finished), 58 questions in one batch of 64 took half the time of batches of 16 (fp32).
    batch_size: int = param(64, "questions answered at once (left-padded)", lo=1, hi=256)
    drop_finished: bool = param(True, "greedy answers: a question leaves its batch as soon as it is answered "
                                "(decode.py); off = transformers' generate, which computes every row until the "
                                "longest answer ends")
    # Measured (the tuned runs of bench/knowledge.py, each adapter answering both ways): two beams answered 47 of
    # the three documents' 90 reworded questions against 38 greedy, 23 of the validation documents' 60 against
    # 21; but the evaluation took 311 s instead of 140 s (transformers' beam search keeps every row to the
    # longest answer) and the forgetting probe fell 9.5 points instead of rising 7 (the base model gains more
    # from beams on general questions). So greedy stays the default.
    num_beams: int = param(1, NUM_BEAMS_HELP, lo=1, hi=16)

    def __post_init__(self) -> None:
        check_ranges(self)


# Presets: starting points for the Train form and `train --preset`. Values measured on SmolLM2 (MEASURED.md).
PRESETS: dict[str, dict[str, Any]] = {
    "knowledge": {  # teaches facts: more passes and a higher rate generalise far better than one pass
        "method": "lora", "epochs": 4.0, "learning_rate": 1e-3, "batch_size": 4,
        "method_params": {"rank": 16, "alpha": 32.0, "targets": "all-linear"},
    },
    # shows the loss falling, teaches little; SmolLM2 on the sample dataset, 2-core CPU: 220 s (about 35 s loading,
    # 60 s for the 30 steps, the rest the three evaluations with their probe answers)
    "quick-demo": {
        "method": "lora", "max_steps": 30, "learning_rate": 1e-3, "batch_size": 4, "eval_steps": 10,
        "probe_size": 4, "method_params": {"rank": 8, "alpha": 16.0, "targets": "attention"},
    },
    "paper-joint": {  # prefix tuning first, then LoRA on the prefix-adapted model
        "method": "prefix+lora", "epochs": 4.0, "batch_size": 4,
        "method_params": {"mode": "sequential"},
    },
    "paper-qlora": {  # 4-bit base, LoRA on attention, as in the Falcon-7B report
        "method": "qlora", "epochs": 4.0, "learning_rate": 5e-4, "batch_size": 4,
        "method_params": {"rank": 16, "alpha": 32.0, "targets": "attention"},
    },
}


# Metric names of workbench.metrics.METRICS (a test keeps the two in step; this layer cannot import metrics).
EVAL_METRICS = ("bleu4", "sacrebleu", "rouge", "meteor", "bertscore", "fact_acc")


@dataclass
class EvalConfig:
    """Which answer-quality metrics an evaluation computes, and an optional LLM judge."""

    metrics: list = param(["bleu4", "sacrebleu", "rouge", "meteor", "fact_acc"],
                          "metrics to compute: " + ", ".join(EVAL_METRICS))
    bertscore: bool = param(False, "also compute BERTScore with the all-MiniLM-L6-v2 encoder (slower: loads a "
                            "23M-parameter model)")
    lang: str = param("auto", "language of the answers for tokenisation; auto = zh when most letters are "
                      "CJK, else en", choices=("auto", "en", "zh"))
    judge_model: str = param("", "model name for an optional LLM judge behind an OpenAI-compatible API; "
                             "empty = no judge")
    judge_url: str = param("", "base URL of the judge's OpenAI-compatible API, e.g. http://127.0.0.1:8000/v1")
    judge_key: str = param("", "API key for the judge; empty = read $WORKBENCH_JUDGE_KEY (a key typed here "
                           "is saved in the run's config.json)", ui=False)

    def __post_init__(self) -> None:
        check_ranges(self)
        unknown = [m for m in self.metrics if m not in EVAL_METRICS]
        if unknown:
            raise ConfigError(f"metrics: unknown {', '.join(map(str, unknown))}; known: {', '.join(EVAL_METRICS)}")
        if not self.metrics and not self.bertscore:
            raise ConfigError("metrics: choose at least one metric")
        if self.judge_url and not self.judge_url.startswith(("http://", "https://")):
            raise ConfigError(f"judge_url: {self.judge_url!r} must start with http:// or https://")
        if bool(self.judge_url) != bool(self.judge_model):
            raise ConfigError("judge_model and judge_url go together: set both to use a judge, or neither")

    def metric_names(self) -> list[str]:
        """The metrics to compute, with bertscore added when switched on."""
        names = list(dict.fromkeys(self.metrics))
        return names + ["bertscore"] if self.bertscore and "bertscore" not in names else names


def _check_template(name: str, text: str, required: str, allowed: tuple[str, ...]) -> None:
    """A prompt template must name ``{required}`` and no placeholder outside ``allowed``."""
    import string

    try:
        fields = {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}; write literal braces as {{{{ and }}}}") from None
    if required not in fields:
        raise ConfigError(f"{name}: the template must contain {{{required}}}")
    unknown = sorted(fields - set(allowed))
    if unknown:
        raise ConfigError(f"{name}: unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                          f"allowed: {', '.join('{' + a + '}' for a in allowed)} (literal braces: {{{{ }}}})")


@dataclass
class QAGenConfig:
    """Building a QA dataset from documents: passages, generation (LLM and/or rules), filters, split."""

    model: str = param("smollm2", "generator model: alias, HF folder, GGUF file or hub id (not used with "
                       "endpoint_url)")
    endpoint_url: str = param("", "OpenAI-compatible API base URL, e.g. http://127.0.0.1:8000/v1; empty = run "
                              "`model` on this machine")
    endpoint_model: str = param("", "model name sent to the endpoint; empty = the value of `model`")
    api_key: str = param("", "API key for the endpoint; empty = read $WORKBENCH_QA_API_KEY (never written to the "
                         "dataset's config.json)", ui=False)
    strategy: str = param("facts", "facts = every fact of every sentence, asked from each of its sides in several "
                          "wordings (sentence parser, no model, seconds); llm = model-written pairs topped up by "
                          "rules; rules = the older pattern rules (one question per sentence)",
                          choices=("facts", "llm", "rules"))
    # Measured (bench/knowledge.py, technical document): 16 of 30 reworded questions with 6, 11 with 4; the
    # rules find 6 distinct wordings for few facts, so the pairs grow by about 15%.
    wordings: int = param(6, "question wordings per fact (facts strategy); one is held out as the test "
                          "rewording", lo=1, hi=8)
    # Measured (bench/knowledge.py, 2026-12-07): 46 of 120 reworded questions on four documents (19 of 60 on the
    # second sets) against 51 (25) for the defaults' table run, the probe held; no gain, so off.
    name_subject: bool = param(False, "facts strategy: every question names the document's subject, as readers' "
                               "questions do (\"the board of the X Authority\", \"... at the X Authority?\", a "
                               "biography's works as the person's)")
    # Measured (bench/knowledge.py, 2026-12-08, knowledge_short_questions.json): 47 of 90 on the three documents
    # (40 of 90 on their second sets) and 17 of 60 on the validation documents, against 49 (43) and 17 for the
    # defaults' table run; no gain, so off.
    short_questions: bool = param(False, "facts strategy: also ask each fact without its clause's time, place and "
                                  "doer phrases, as readers do (\"In what year was X set up?\")")
    fallback_only: bool = param(False, "rule-based questions only, no LLM: seconds instead of minutes (same as "
                                "strategy=rules)")
    top_up: bool = param(True, "add rule-based pairs where the LLM gave fewer usable pairs than pairs_per_passage")
    pairs_per_passage: int = param(3, "questions asked per passage", lo=1, hi=20)
    paraphrases: int = param(1, "extra phrasings per question, same answer (0 = none)", lo=0, hi=5)
    batch_size: int = param(8, "passages generated at once (left-padded batch)", lo=1, hi=256)
    max_new_tokens: int = param(320, "longest model reply in tokens", lo=16, hi=4096)
    temperature: float = param(0.0, "0 = greedy (deterministic); higher = more varied", lo=0.0, hi=2.0, step=0.05)
    top_p: float = param(1.0, "nucleus sampling mass (used when temperature > 0)", lo=0.05, hi=1.0, step=0.05)
    system_prompt: str = param("", "system message for generation; empty = the built-in one")
    qa_prompt: str = param("", "question-writing prompt with {passage} and {n}; empty = the built-in one "
                           "(workbench.qa.generate.QA_PROMPT)")
    paraphrase_prompt: str = param("", "rewording prompt with {question} (and optionally {answer}); empty = "
                                   "the built-in one")
    chunk_unit: str = param("chars", "passage size unit", choices=("chars", "sentences"))
    chunk_size: int = param(800, "passage size (characters or sentences)", lo=1, hi=100_000)
    chunk_overlap: int = param(100, "overlap between consecutive passages (same unit)", lo=0, hi=50_000)
    max_file_mb: int = param(50, "larger files are skipped", lo=1, hi=4096)
    max_passages: int = param(0, "use only the first N passages (quick trials); 0 = all", lo=0, hi=10_000_000)
    min_grounding: float = param(0.6, "share of the answer's words that must occur in its passage", lo=0.0,
                                 hi=1.0, step=0.05)
    grounding_metric: str = param("overlap", "overlap = token recall; rouge_l = ROUGE-L recall",
                                  choices=("overlap", "rouge_l"))
    min_relevance: float = param(0.3, "share of the question's content words that must occur in the answer or "
                                 "in the passage sentence it comes from; 0 = off", lo=0.0, hi=1.0, step=0.05)
    dedup_threshold: float = param(0.7, "drop a question whose ROUGE-L F with a kept one is above this", lo=0.1,
                                   hi=1.0, step=0.05)
    min_question_tokens: int = param(3, "shortest question kept (tokens)", lo=1, hi=1000)
    max_question_tokens: int = param(60, "longest question kept (tokens)", lo=1, hi=1000)
    max_answer_tokens: int = param(200, "longest answer kept (tokens)", lo=1, hi=10_000)
    test_fraction: float = param(0.2, "share of pairs held out as the test split", lo=0.0, hi=0.9, step=0.05)
    split_by: str = param("paraphrase", "passage = test questions about unseen passages; pair = a fact and its "
                          "paraphrases stay together; paraphrase = reworded questions of trained facts",
                          choices=("passage", "pair", "paraphrase"))
    seed: int = param(42, "random seed for the split and sampling", lo=0, hi=2**31 - 1)
    threads: int = param(0, "CPU threads for a local model; 0 = the CPU quota", lo=0, hi=1024)

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.chunk_overlap >= self.chunk_size:
            raise ConfigError(f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size "
                              f"({self.chunk_size})")
        if self.chunk_unit == "chars" and self.chunk_size < 50:
            raise ConfigError("chunk_size: passages under 50 characters cannot hold a sentence")
        if self.min_question_tokens > self.max_question_tokens:
            raise ConfigError("min_question_tokens is above max_question_tokens")
        if self.endpoint_url and not self.endpoint_url.startswith(("http://", "https://")):
            raise ConfigError(f"endpoint_url: {self.endpoint_url!r} must start with http:// or https://")
        if self.qa_prompt:
            _check_template("qa_prompt", self.qa_prompt, "passage", ("passage", "n"))
        if self.paraphrase_prompt:
            _check_template("paraphrase_prompt", self.paraphrase_prompt, "question", ("question", "answer"))
        if self.fallback_only:
            self.strategy = "rules"
        elif self.endpoint_url:
            self.strategy = "llm"  # an endpoint writes pairs; the other strategies call none

    @property
    def uses_model(self) -> bool:
        """Whether generation loads a model or calls an endpoint (the llm strategy)."""
        return self.strategy == "llm"
