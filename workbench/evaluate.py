"""Evaluate a tuned run against its own base model on a QA set.

Both sides answer the same questions with the same decoding settings (``GenParams``, greedy by default),
in left-padded batches. For PEFT runs ONE model is loaded: the base side runs first with every adapter layer
switched off, nested ones too (``methods.common.adapters_disabled``), then the tuned side with the adapter (a
LoRA adapter folded into the weights, ``methods.common.merge_lora_for_answers``); full and partial fine-tunes
load the base separately, after the tuned model is freed. The base side's answers and reference NLLs are kept
across evaluations (base_answers.py). Results go to
``<train run>/eval/`` (and a copy to the eval run's own eval/ folder when run as a job): ``predictions.jsonl``
(one row per question with both answers and their per-example scores), ``forgetting.jsonl`` (the
general-knowledge probe) and ``scores.json`` ({"base", "tuned", "delta"} plus perplexity of the references,
settings, the sacreBLEU signature, the BERTScore encoder, timings and an optional LLM judge's marks).

Also here: the eval job's description (``EvalJob``) and its worker entry (``run_job``). Launching an
evaluation is launch.py's, reading its results eval_results.py's and the LLM judge judge.py's.

This module does not define metrics (metrics.py), draw figures (plots.py) or train. Torch, transformers
and peft are imported only inside the functions that run a model, so launching an evaluation or reading
its results does not load them.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .base_answers import BaseAnswers
from .card import model_card
from .config import EvalConfig, GenParams, from_dict, to_dict
from .rundir import RunDir, atomic_write_json, atomic_write_text, read_json
from .eval_results import SIDES, EvalError, delta, numbers_only
from .judge import JudgeSpec, run_judge
from .served import ServeSpec, parity_report, served_answers

log = logging.getLogger(__name__)

FORGETTING_METRICS = ("fact_acc", "rouge")
class EvalStopped(Exception):
    """A stop was requested while the evaluation ran; nothing was written."""


# the job description ----------------------------------------------------------------------------

@dataclass
class EvalJob:
    """Everything an evaluation needs; stored as the "eval" part of an eval run's config.json."""

    run: str  # the trained run's folder
    data: str = ""  # dataset folder (its test split) or QA file; empty = the run's held-out pairs
    gen: GenParams = field(default_factory=GenParams)
    settings: EvalConfig = field(default_factory=EvalConfig)
    judge: JudgeSpec | None = None
    limit: int = 0  # use only the first N questions; 0 = all
    probe: bool = True  # also answer the general-knowledge forgetting probe
    base_cache: str = ""  # folder of base-side results shared by evaluations of the same base (a study's cells)
    serve: ServeSpec | None = None  # answers from a serving engine (served.py) instead of the local model

    def __post_init__(self) -> None:
        if self.limit < 0:
            raise EvalError(f"limit {self.limit} must be 0 (all questions) or a positive number")
        if self.serve is not None and self.gen.num_beams > 1:
            raise EvalError("a serving engine answers greedily or by sampling through the chat API: beam search "
                            "(num_beams > 1) needs the local model; drop --serve-url or set num_beams to 1")

    def to_dict(self) -> dict[str, Any]:
        return {"run": str(self.run), "data": str(self.data or ""), "gen": to_dict(self.gen),
                "metrics": self.settings.metric_names(), "lang": self.settings.lang,
                "judge": {"model": self.judge.model, "url": self.judge.url} if self.judge else None,
                "limit": self.limit, "probe": self.probe, "base_cache": str(self.base_cache or ""),
                "serve": self.serve.to_dict() if self.serve else None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EvalJob:
        if not isinstance(data, dict) or not data.get("run"):
            raise EvalError("the eval config needs 'run': the folder of the trained run to evaluate")
        known = {"run", "data", "gen", "metrics", "lang", "judge", "limit", "probe", "base_cache", "serve"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise EvalError(f"unknown eval setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        settings: dict[str, Any] = {"lang": data.get("lang", "auto")}
        if data.get("metrics") is not None:
            settings["metrics"] = data["metrics"]
        judge = data.get("judge")
        return cls(run=str(data["run"]), data=str(data.get("data") or ""),
                   gen=from_dict(GenParams, data.get("gen") or {}), settings=from_dict(EvalConfig, settings),
                   judge=JudgeSpec(**judge) if judge else None, limit=int(data.get("limit") or 0),
                   probe=bool(data.get("probe", True)), base_cache=str(data.get("base_cache") or ""),
                   serve=ServeSpec.from_dict(data.get("serve")))


# progress and stopping ------------------------------------------------------------------------------

@dataclass
class Progress:
    """Counts answered questions (the slow part) and reports them; raises EvalStopped when asked to stop."""

    total: int = 0
    report: Callable[[int, int, str], None] | None = None
    should_stop: Callable[[], bool] | None = None
    done: int = 0

    def advance(self, n: int, phase: str) -> None:
        self.done += n
        self.check(phase)

    def check(self, phase: str) -> None:
        if self.should_stop is not None and self.should_stop():
            raise EvalStopped(phase)
        if self.report is not None:
            self.report(self.done, self.total, phase)


# data ------------------------------------------------------------------------------------------

def load_eval_pairs(job: EvalJob) -> tuple[list[dict[str, Any]], str]:
    """The QA pairs to evaluate on and a description of where they came from.

    A dataset folder gives its test split; a file gives all its pairs; no data gives the pairs the run
    itself held out (its dataset's test split, or the seeded share it kept aside for eval loss).
    """
    if job.data:
        pairs, where = explicit_pairs(Path(job.data))
    else:
        from .methods.loading import run_config
        from .train import load_data, pinned  # torch is imported only when an evaluation runs

        run = RunDir(Path(job.run))
        _, pairs = load_data(pinned(run, run_config(run), create=False))
        where = "pairs the run held out from training"
        if not pairs:
            raise EvalError("the run's training data has no held-out pairs (no test split, fewer than 10 pairs or "
                            "eval_fraction 0); pass evaluation data with --data")
    if not pairs:
        raise EvalError(f"{where} holds no question/answer pairs")
    if job.limit:
        pairs = pairs[: job.limit]
    return pairs, where


def explicit_pairs(path: Path) -> tuple[list[dict[str, Any]], str]:
    """A dataset folder's test split, or every pair of a QA file, and a description. Torch-free."""
    from .qa.dataset import load_split

    if not path.exists():
        raise EvalError(f"evaluation data {path} does not exist")
    if path.is_dir():
        pairs, where = load_split(path, "test"), f"test split of {path.name}"
        if not pairs:
            raise EvalError(f"dataset {path.name} has no test split to evaluate on; pass a QA file with "
                            "--data, or rebuild the dataset with a test fraction above 0")
    else:
        pairs, where = load_split(path, "train"), path.name
    if not pairs:
        raise EvalError(f"{where} holds no question/answer pairs")
    return pairs, where


def pair_keys(pairs: Sequence[dict[str, Any]]) -> list[list[str] | None]:
    """Explicit key facts of each pair (a list of strings), or None to let fact accuracy extract them."""
    out: list[list[str] | None] = []
    for p in pairs:
        keys = p.get("keys")
        out.append([keys] if isinstance(keys, str) else list(keys) if isinstance(keys, list) and keys else None)
    return out


# running one side --------------------------------------------------------------------------------

@dataclass
class SideResult:
    answers: list[str]
    probe_answers: list[str]
    nll: list[tuple[float, int]]  # per reference: summed negative log-likelihood of its answer tokens, count
    seconds: float
    tokens: int
    parity: dict[str, Any] | None = None  # served answers checked against the local model's (served.py)


def answer_in_batches(model: Any, tok: Any, questions: Sequence[str], gen: GenParams, system_prompt: str | None,
                      progress: Progress, phase: str) -> list[str]:
    """Answers in the same batches ``generate_batch`` would form (longest prompts first), reporting each batch."""
    from .formatting import messages_for, prompt_text
    from .generation import generate_batch

    order = sorted(range(len(questions)), key=lambda i: -len(prompt_text(tok, questions[i], system_prompt)))
    answers: dict[int, str] = {}
    for start in range(0, len(order), gen.batch_size):
        idx = order[start:start + gen.batch_size]
        replies = generate_batch(model, tok, [messages_for(questions[i], system_prompt) for i in idx], gen)
        answers.update(zip(idx, replies))
        progress.advance(len(idx), phase)
    return [answers[i] for i in range(len(questions))]


def answer_nll(model: Any, tok: Any, pairs: Sequence[dict[str, Any]], system_prompt: str | None, batch_size: int = 8,
               max_len: int = 1024) -> list[tuple[float, int]]:
    """Per pair: the summed negative log-likelihood (nats) of the reference answer's tokens given the prompt
    under the chat template, and how many answer tokens there were. Prompt tokens are not scored.

    Batches are packed (packing.py: the shared prompt head once, no padding) and the output layer is computed
    at answer positions only (answer_loss.py) where the model allows; prompt-learning models take the padded
    path with full logits."""
    import torch

    from . import packing
    from .formatting import encode_pair

    examples = [encode_pair(tok, p["question"], p["answer"], system_prompt, max_len) for p in pairs]
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i]["input_ids"]))
    packed = packing.supported(model) is None
    out: dict[int, tuple[float, int]] = {}
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = [examples[i] for i in idx]
            sums = _packed_nll(model, batch) if packed else _padded_nll(model, tok, batch)
            out.update(zip(idx, sums))
    return [out[i] for i in range(len(examples))]


def _packed_nll(model: Any, batch: list[dict[str, list[int]]]) -> list[tuple[float, int]]:
    """(summed NLL, answer tokens) of each example of one packed row."""
    import torch

    from . import answer_loss, packing

    weight = next(model.parameters())
    inputs = packing.collator_for(model, weight.dtype)(batch)
    head = packing.shared_head(batch)
    owner = packing.segment_ids(head, [len(ex["input_ids"]) - head for ex in batch]) - 1  # example of each position
    nll, keep = answer_loss.answer_token_nll(model, {k: v.to(weight.device) for k, v in inputs.items()})
    who = owner[keep[0].cpu()]  # no kept position lies in the head: its targets are all ignored
    sums = torch.zeros(len(batch), dtype=torch.float64).index_add_(0, who, nll.cpu().double())
    counts = torch.bincount(who, minlength=len(batch))
    return [(float(s), int(c)) for s, c in zip(sums, counts)]


def _padded_nll(model: Any, tok: Any, batch: list[dict[str, list[int]]]) -> list[tuple[float, int]]:
    """(summed NLL, answer tokens) of each example, padded in rows, full logits."""
    import torch
    import torch.nn.functional as F

    from .formatting import IGNORE, DynamicPadCollator

    device = next(model.parameters()).device
    collate = DynamicPadCollator(pad_id=tok.pad_token_id if tok.pad_token_id is not None else 0)
    inputs = {k: v.to(device) for k, v in collate(batch).items()}
    with torch.inference_mode():  # scores only: no graph, whoever calls it
        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"]).logits
    labels = inputs["labels"][:, 1:]
    width = inputs["input_ids"].shape[1]
    logits = logits[:, -width:-1]  # prompt-learning methods may prepend virtual-token positions
    nll = F.cross_entropy(logits.float().transpose(1, 2), labels, ignore_index=IGNORE, reduction="none")
    counts = (labels != IGNORE).sum(dim=1)
    return [(float(nll[j].sum()), int(counts[j])) for j in range(len(batch))]


def perplexity(nll: Sequence[tuple[float, int]]) -> float | None:
    """exp(total NLL / total answer tokens) over all references; None when there is no answer token."""
    tokens = sum(n for _, n in nll)
    return math.exp(sum(s for s, _ in nll) / tokens) if tokens else None


def run_side(model: Any, tok: Any, pairs: Sequence[dict[str, Any]], probe: Sequence[dict[str, Any]],
             gen: GenParams, system_prompt: str | None, progress: Progress, side: str,
             known: BaseAnswers | None = None, served: tuple[ServeSpec, str] | None = None) -> SideResult:
    """Answers to the pairs and the probe, asked together in one set of batches (fewer, fuller batches), and
    the references' NLL; with ``known``, a question or reference it holds is not computed again (its time and
    tokens are then not counted). With ``served`` (a serving spec and the model name there), the server
    answers and the local model answers only the spec's parity questions, for the check."""
    t0 = time.perf_counter()
    questions = [p["question"] for p in [*pairs, *probe]]
    phase = f"{side} answers" + (" and forgetting probe" if probe else "")
    parity = None
    if served is None:
        replies = _answers(model, tok, questions, gen, system_prompt, progress, phase, known)
    else:
        replies, parity = _served(model, tok, questions, gen, system_prompt, progress, phase, served)
    answers, probe_answers = replies[:len(pairs)], replies[len(pairs):]
    seconds = time.perf_counter() - t0
    progress.check(f"{side} perplexity")
    nll = _nll(model, tok, pairs, system_prompt, known)
    asked = [a for a, q in zip(replies, questions) if known is None or q in known.asked]
    tokens = sum(len(tok(a, add_special_tokens=False)["input_ids"]) for a in asked)
    return SideResult(answers, probe_answers, nll, seconds, tokens, parity)


def _served(model: Any, tok: Any, questions: list[str], gen: GenParams, system_prompt: str | None,
            progress: Progress, phase: str, served: tuple[ServeSpec, str]) -> tuple[list[str], dict[str, Any]]:
    """The server's answers, then the parity check's local answers (not counted as progress)."""
    from .formatting import messages_for

    spec, name = served
    conversations = [messages_for(q, system_prompt) for q in questions]
    replies = served_answers(spec, name, conversations, gen, lambda n: progress.advance(n, f"{phase} ({name})"))
    checked = questions[:spec.parity]
    progress.check(f"{phase}: parity check of {len(checked)} against the local model")
    local = answer_in_batches(model, tok, checked, gen, system_prompt, Progress(), phase) if checked else []
    return replies, {"url": spec.url, "model": name, **parity_report(replies[:len(checked)], local, checked)}


def _answers(model: Any, tok: Any, questions: list[str], gen: GenParams, system_prompt: str | None,
             progress: Progress, phase: str, known: BaseAnswers | None) -> list[str]:
    if known is None:
        return answer_in_batches(model, tok, questions, gen, system_prompt, progress, phase)
    todo = sorted({q for q in questions if known.get(q) is None})
    fresh = set(todo)
    progress.advance(sum(q not in fresh for q in questions), phase)
    for q, a in zip(todo, answer_in_batches(model, tok, todo, gen, system_prompt, progress, phase)):
        known.put(q, a)
    return [known.get(q) or "" for q in questions]


def _nll(model: Any, tok: Any, pairs: Sequence[dict[str, Any]], system_prompt: str | None,
         known: BaseAnswers | None) -> list[tuple[float, int]]:
    """The references' NLL (rows of 8: a packed row's attention grows with its square); with ``known``, only
    those of pairs it does not hold, which it keeps."""
    if known is None:
        return answer_nll(model, tok, pairs, system_prompt)
    todo = [p for p in pairs if known.get_nll(p["question"], p["answer"]) is None]
    for p, value in zip(todo, answer_nll(model, tok, todo, system_prompt) if todo else []):
        known.put_nll(p["question"], p["answer"], value)
    return [known.get_nll(p["question"], p["answer"]) for p in pairs]


def served_by(serve: ServeSpec | None, side: str) -> tuple[ServeSpec, str] | None:
    """The serving spec and the model name that answer for ``side``, or None where the local model answers."""
    name = serve.model_for(side) if serve else None
    return (serve, name) if serve and name else None


def base_cache_file(job: EvalJob, info: dict[str, Any], quantized: bool, pairs: Sequence[dict[str, Any]],
                    probe: Sequence[dict[str, Any]]) -> Path | None:
    """Where the base side's results for exactly these inputs are kept: greedy answers of the same base model
    to the same prompts do not change from one tuned run to the next."""
    if not job.base_cache:
        return None
    inputs = {"model": info["model"], "device": info["device"], "dtype": info["dtype"], "quantized": quantized,
              "system_prompt": info["system_prompt"], "gen": to_dict(job.gen),
              "pairs": [[p["question"], p["answer"]] for p in pairs], "probe": [p["question"] for p in probe]}
    digest = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:24]
    return Path(job.base_cache) / f"base-{digest}.json"


def read_cached_side(path: Path | None) -> SideResult | None:
    raw = read_json(path) if path else None
    if not raw:
        return None
    return SideResult(raw["answers"], raw["probe_answers"], [tuple(x) for x in raw["nll"]], raw["seconds"],
                      raw["tokens"])


def eval_precision(device: str) -> str | None:
    """The precision evaluation loads models in: fp32 on a CPU, else the run's own (None).

    Measured on SmolLM2 (58 questions, greedy, 64 new tokens): in bf16 on a CPU, 31 of 58 answers changed
    between batches of 16 and of 64 (the kernels round differently at another batch shape); in fp32 none did.
    The reused base answers and the comparison of runs rely on an answer that does not depend on which
    questions shared its batch, and fp32 in batches of 64 with answered rows dropped was faster than bf16 in
    batches of 16 with transformers' generate (bench/eval_speed.py)."""
    return "fp32" if device == "cpu" else None


def run_both_sides(job: EvalJob, pairs: list[dict[str, Any]], probe: list[dict[str, Any]],
                   progress: Progress) -> tuple[dict[str, SideResult], dict[str, Any]]:
    """Answers of the tuned model and of its base, with one model in memory at a time."""
    from . import models
    from .generation import free_memory
    from .methods import precision_for
    from .methods.common import adapters_disabled, merge_lora_for_answers
    from .methods.loading import load_tuned

    progress.check("loading the tuned model")
    tuned = load_tuned(job.run, precision=eval_precision(models.pick_device()))
    cfg = tuned.config
    models.set_threads(cfg.threads)
    sp = cfg.system_message()
    info = {"model": tuned.info.spec, "method": cfg.method, "device": tuned.info.device, "dtype": tuned.info.dtype,
            "system_prompt": sp, "base_from": "disable_adapter" if tuned.shares_base else "separate load"}
    served_base, served_tuned = (served_by(job.serve, side) for side in SIDES)
    cache = None if served_base else base_cache_file(job, info, cfg.method == "qlora", pairs, probe)
    cached = read_cached_side(cache)
    known = None if cached is not None or served_base else BaseAnswers(
        {**{k: info[k] for k in ("model", "device", "dtype", "system_prompt")}, "quantized": cfg.method == "qlora",
         "gen": to_dict(job.gen), **model_identity(tuned.info)})
    results: dict[str, SideResult] = {}
    if cached is not None:
        info["base_from"] += " (cached from an earlier evaluation of the same base and questions)"
        results["base"] = cached
    elif tuned.shares_base:  # the base side first: the tuned side may then fold its adapter into the weights
        with adapters_disabled(tuned.model):
            results["base"] = run_side(tuned.model, tuned.tokenizer, pairs, probe, job.gen, sp, progress, "base",
                                       known, served_base)
    if merge_lora_for_answers(tuned.model):
        info["tuned_from"] = "the LoRA adapter folded into the base weights (methods.common.merge_lora_for_answers)"
    results["tuned"] = run_side(tuned.model, tuned.tokenizer, pairs, probe, job.gen, sp, progress, "tuned",
                                served=served_tuned)
    device = tuned.info.device
    del tuned
    free_memory()
    if "base" not in results:
        precision = precision_for(cfg.method, eval_precision(device) or cfg.precision, device)  # as load_tuned
        progress.check("loading the base model")
        base, tok, _ = models.load_model(cfg.model, precision=precision, device=device,
                                         trust_remote_code=cfg.trust_remote_code)
        results["base"] = run_side(base, tok, pairs, probe, job.gen, sp, progress, "base", known, served_base)
        del base
        free_memory()
    if cache is not None and cached is None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(cache, results["base"].__dict__)
    for side in SIDES:
        if results[side].parity is not None:
            info.setdefault("served", {})[side] = results[side].parity
    if known is not None:
        known.save()
        reused = len(pairs) + len(probe) - len(known.asked)
        info["base_answers_reused"] = reused
        if reused:
            info["base_from"] += f" ({reused} answers reused from earlier evaluations of the same base)"
    return results, info


def model_identity(info: Any) -> dict[str, Any]:
    """What tells one base model's files and libraries from another's: its folder, the size and time of its
    weight files, and the versions of torch and transformers."""
    import torch
    import transformers

    folder = Path(info.path)
    weights = sorted(folder.glob("*.safetensors")) + sorted(folder.glob("*.bin")) if folder.is_dir() else []
    stamp = [[w.name, w.stat().st_size, int(w.stat().st_mtime)] for w in weights]
    return {"path": str(folder), "architecture": info.architecture, "params": info.params, "weights": stamp,
            "torch": torch.__version__, "transformers": transformers.__version__}


# scores -------------------------------------------------------------------------------------------

def score_sides(answers: dict[str, list[str]], pairs: Sequence[dict[str, Any]], metric_names: Sequence[str],
                lang: str) -> tuple[dict[str, dict[str, Any]], dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Corpus scores and per-example scores for each side; texts that describe the scoring are split off."""
    from . import metrics

    refs, keys = [p["answer"] for p in pairs], pair_keys(pairs)
    corpus, rows, notes = {}, {}, {}
    for side, preds in answers.items():
        scores = metrics.score_all(preds, refs, metrics=list(metric_names), keys=keys, lang=lang)
        for name in ("sacrebleu_signature", "bertscore_encoder"):
            if isinstance(scores.get(name), str) and not metrics.is_unavailable(scores[name]):
                notes[name] = scores.pop(name)
        corpus[side] = scores
        rows[side] = metrics.per_example(preds, refs, metrics=list(metric_names), keys=keys, lang=lang)
    return corpus, rows, notes


def prediction_rows(pairs: Sequence[dict[str, Any]], results: dict[str, SideResult],
                    rows: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    out = []
    for i, pair in enumerate(pairs):
        row: dict[str, Any] = {"index": i, "id": pair.get("id"), "question": pair["question"],
                               "reference": pair["answer"], "keys": pair_keys([pair])[0]}
        row.update({side: results[side].answers[i] for side in SIDES})
        scores = {}
        for side in SIDES:
            nll, count = results[side].nll[i]
            scores[side] = {**rows[side][i], "ppl": math.exp(nll / count) if count else None}
        row["scores"] = scores
        out.append(row)
    return out


def forgetting_scores(probe: list[dict[str, Any]], results: dict[str, SideResult],
                      lang: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    answers = {side: results[side].probe_answers for side in SIDES}
    corpus, rows, _ = score_sides(answers, probe, FORGETTING_METRICS, lang)
    summary = {"n": len(probe), "base": corpus["base"], "tuned": corpus["tuned"],
               "delta": delta(corpus["base"], corpus["tuned"])}
    records = [{"index": i, "question": p["question"], "reference": p["answer"], "keys": p.get("keys"),
                "base": answers["base"][i], "tuned": answers["tuned"][i],
                "scores": {side: rows[side][i] for side in SIDES}} for i, p in enumerate(probe)]
    return summary, records


# the whole evaluation -------------------------------------------------------------------------------

def evaluate(job: EvalJob, out_dirs: Sequence[Path] = (), progress: Progress | None = None) -> dict[str, Any]:
    """Answer, score and compare; write predictions.jsonl, forgetting.jsonl and scores.json into each of
    ``out_dirs`` (default: the trained run's eval/ folder) and return the scores."""
    from .metrics import load_forgetting_probe

    t_start = time.perf_counter()
    progress = progress or Progress()
    pairs, where = load_eval_pairs(job)
    probe = load_forgetting_probe() if job.probe else []
    n_judged = 2 * len(pairs) if job.judge else 0
    progress.total = 2 * (len(pairs) + len(probe)) + n_judged
    results, info = run_both_sides(job, pairs, probe, progress)

    progress.check("scoring")
    t0 = time.perf_counter()
    metric_names = job.settings.metric_names()
    corpus, rows, notes = score_sides({s: results[s].answers for s in SIDES}, pairs, metric_names,
                                      job.settings.lang)
    for side in SIDES:
        corpus[side]["perplexity"] = perplexity(results[side].nll)
    metrics_s = time.perf_counter() - t0
    predictions = prediction_rows(pairs, results, rows)

    scores: dict[str, Any] = {
        "run": RunDir(Path(job.run)).id, "n": len(pairs), "data": where, "base": corpus["base"],
        "tuned": corpus["tuned"], "delta": delta(corpus["base"], corpus["tuned"]),
        "sacrebleu_signature": notes.get("sacrebleu_signature"), "bertscore_encoder": notes.get("bertscore_encoder"),
        "settings": {**job.to_dict(), **info, "perplexity": "exp(mean NLL of the reference answer tokens, prompt "
                                                            "tokens excluded)"},
    }
    forgetting_records: list[dict[str, Any]] = []
    if probe:
        scores["forgetting"], forgetting_records = forgetting_scores(probe, results, job.settings.lang)
    if job.judge:
        scores["judge"], marks = run_judge(job.judge, pairs, {s: results[s].answers for s in SIDES}, progress)
        for side, side_marks in marks.items():
            for row, mark in zip(predictions, side_marks):
                row.setdefault("judge", {})[side] = mark
    total_s = time.perf_counter() - t_start
    scores["timings"] = timings(results, len(pairs) + len(probe), metrics_s, total_s)
    scores["created_at"] = time.time()
    write_everywhere(out_dirs or [RunDir(Path(job.run)).eval_dir], scores, predictions, forgetting_records)
    progress.check("done")
    return scores


def timings(results: dict[str, SideResult], questions: int, metrics_s: float, total_s: float) -> dict[str, Any]:
    out: dict[str, Any] = {"metrics_s": round(metrics_s, 2), "total_s": round(total_s, 2)}
    for side in SIDES:
        r = results[side]
        out[f"{side}_generate_s"] = round(r.seconds, 2)
        out[f"{side}_questions_per_min"] = round(questions / r.seconds * 60, 1) if r.seconds else None
        out[f"{side}_tokens_per_s"] = round(r.tokens / r.seconds, 1) if r.seconds else None
    return out


def write_everywhere(outs: list[Path], scores: dict[str, Any], predictions: list[dict[str, Any]],
                     forgetting: list[dict[str, Any]]) -> int:
    """``write_results`` into each run's eval/ folder whose run still exists; returns how many were written."""
    written = 0
    for out in map(Path, outs):
        if not out.parent.is_dir():  # the run was deleted meanwhile: writing would recreate it, unlisted
            log.warning("%s is gone; its evaluation results are not written there", out.parent)
            continue
        write_results(out, scores, predictions, forgetting)
        written += 1
    return written


def write_results(out: Path, scores: dict[str, Any], predictions: list[dict[str, Any]],
                  forgetting: list[dict[str, Any]]) -> None:
    """predictions.jsonl and forgetting.jsonl first, scores.json last: its presence marks a complete result."""
    atomic_write_text(out / "predictions.jsonl", _jsonl(predictions))
    if forgetting:
        atomic_write_text(out / "forgetting.jsonl", _jsonl(forgetting))
    else:
        (out / "forgetting.jsonl").unlink(missing_ok=True)
    atomic_write_json(out / "scores.json", scores)


def _jsonl(records: list[dict[str, Any]]) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, default=float) + "\n" for r in records)


# the eval job ------------------------------------------------------------------------------------

def run_job(run: RunDir) -> dict[str, Any]:
    """Worker entry for an eval run: evaluate, write into the trained run's eval/ and a copy into this run's."""
    job = EvalJob.from_dict(run.read_config().get("eval") or {})
    progress = Progress(report=lambda done, total, phase: run.write_status(step=done, total_steps=total,
                                                                           phase=phase),
                        should_stop=run.stop_requested)
    try:
        scores = evaluate(job, [RunDir(Path(job.run)).eval_dir, run.eval_dir], progress)
    except EvalStopped as stop:
        log.info("evaluation stopped during %s; nothing written", stop)
        return {"stopped": True, "phase": str(stop)}
    tuned = RunDir(Path(job.run))
    if tuned.adapter.is_dir():  # the model card quotes the latest scores
        atomic_write_text(tuned.adapter / "README.md", model_card(tuned))
    return summary(scores)


def summary(scores: dict[str, Any]) -> dict[str, Any]:
    """The headline numbers of an evaluation (for status.json and run lists)."""
    out: dict[str, Any] = {"run": scores.get("run"), "n": scores.get("n")}
    for side in (*SIDES, "delta"):
        out[side] = numbers_only(scores.get(side) or {})
    if "forgetting" in scores:
        out["forgetting_delta"] = scores["forgetting"].get("delta")
    if "judge" in scores:
        out["judge"] = {k: scores["judge"].get(k) for k in ("base", "tuned", "delta", "error") if k in scores["judge"]}
    return out


