"""Documents -> dataset folder: ingestion, generation (LLM, rules, or LLM topped up by rules), paraphrases,
filters, train/test split, files.

``ingest`` stops after the passages; ``build_dataset`` goes all the way and returns the report it writes
to report.json; ``start_job``/``run_job`` run a build as a background job in a run folder (kind "qa").
With ``fallback_only`` nothing imports torch and a small corpus takes about a second.
This module holds no generation, filtering or file-format logic of its own: it calls corpus, fallback,
generate, filters and dataset in order and times each step.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import UserError
from .. import corpus
from ..timed_read import READ_SECONDS
from ..config import QAGenConfig, from_dict, to_dict
from ..rundir import RunDir, atomic_write_json
from . import dataset, fallback, filters
from . import ledger as fact_ledger

Progress = Callable[[int, int], None]


class PipelineError(UserError, RuntimeError):
    """The dataset cannot be built (no readable passage, folder already holds a dataset, ...)."""


class PipelineStopped(RuntimeError):
    """A stop was requested; nothing was written."""


def filter_settings(cfg: QAGenConfig) -> filters.FilterSettings:
    return filters.FilterSettings(
        min_grounding=cfg.min_grounding, min_relevance=cfg.min_relevance,
        grounding_metric=cfg.grounding_metric, dedup_threshold=cfg.dedup_threshold,
        min_question_tokens=cfg.min_question_tokens, max_question_tokens=cfg.max_question_tokens,
        max_answer_tokens=cfg.max_answer_tokens)


def _ingest_report(paths: Sequence[str | Path], cfg: QAGenConfig) -> corpus.IngestReport:
    return corpus.ingest_files(paths, unit=cfg.chunk_unit, size=cfg.chunk_size, overlap=cfg.chunk_overlap,
                               max_bytes=cfg.max_file_mb * 2**20, seconds=READ_SECONDS)


def ingest(paths: Sequence[str | Path], out_dir: str | Path, cfg: QAGenConfig | None = None) -> dict[str, Any]:
    """Read, clean and chunk the inputs; write passages.jsonl and ingest.json to ``out_dir``."""
    cfg = cfg or QAGenConfig()
    report = _ingest_report(paths, cfg)
    out = Path(out_dir)
    dataset.write_jsonl(out / "passages.jsonl", [p.to_dict() for p in report.passages])
    summary = report.to_dict()
    atomic_write_json(out / "ingest.json", summary)
    return summary


# pair records --------------------------------------------------------------------------------------

class _Pairs:
    """Collects pair records with unique ids; a paraphrase shares its original's group."""

    def __init__(self, passages: dict[str, dict[str, Any]]) -> None:
        self.passages = passages
        self.records: list[dict[str, Any]] = []
        self.taken: set[str] = set()

    def add(self, question: str, answer: str, passage_id: str, *, generator: str, origin: str,
            group: str | None = None, rule: str | None = None, keys: list[str] | None = None) -> dict[str, Any]:
        passage = self.passages[passage_id]
        pair_id = dataset.make_pair_id(passage_id, question, self.taken)
        record = {"id": pair_id, "question": question, "answer": answer, "source": passage["source"],
                  "passage_id": passage_id, "page": passage.get("page"), "passage": passage["text"],
                  "generator": generator, "origin": origin, "kind": "paraphrase" if group else "original",
                  "group": group or pair_id}
        if rule:
            record["rule"] = rule
        if keys:
            record["keys"] = keys  # the fact the question asks for: evaluation's fact accuracy checks it
        self.records.append(record)
        return record


def _rule_pairs(passage: dict[str, Any], pairs: _Pairs, n: int, paraphrases: int) -> int:
    """Add up to ``n`` rule-based pairs (with their rule paraphrases) for one passage; returns how many."""
    found = fallback.passage_pairs(corpus.split_sentences(passage["text"]), n, paraphrases)
    for item in found:
        keys = [fallback.fact_key(item["fact"])] if item.get("fact") else None
        original = pairs.add(item["question"], item["answer"], passage["id"], generator="rules", origin="rules",
                             rule=item["rule"], keys=keys)
        for q in item["paraphrases"][:paraphrases]:
            pairs.add(q, item["answer"], passage["id"], generator="rules", origin="rules", group=original["id"],
                      rule=item["rule"], keys=keys)
    return len(found)


# generation ----------------------------------------------------------------------------------------

def _facts_stage(passages: list[dict[str, Any]], pairs: _Pairs, cfg: QAGenConfig,
                 progress: Progress | None) -> tuple[dict[str, Any], list[Any]]:
    """Every fact of every sentence, each asked in up to ``cfg.wordings`` wordings with one answer sentence."""
    from . import facts, rewrite

    found = facts.document_facts(passages, name_subject=cfg.name_subject)
    for i, fact in enumerate(found, 1):
        keys = [fallback.fact_key(fact.span)]
        # the names the fact's reading resolved ("it" -> the X Authority) count as its source's words
        placed = [p["text"] for p in fact.frame.get("parts", []) if p.get("dep") == "topic"]
        names = (fact.subject, fact.span, fact.frame.get("about"), fact.frame.get("subject"),
                 fact.frame.get("owner"), *placed)
        resolved = " ".join(x for x in names if x)
        first = None
        for question, answer in rewrite.wordings(fact, cfg.wordings, short=cfg.short_questions):
            record = pairs.add(question, answer, fact.passage_id, generator="facts", origin="facts",
                               group=first["id"] if first else None, rule=fact.role, keys=keys)
            record.update(fact_id=fact.id, clause=fact.answer, sentence=fact.sentence, resolved=resolved,
                          kind="paraphrase" if first else "original")
            if placed and placed[0] in question:
                record["placed"] = placed[0]  # "at the X Authority": the reading's, not the sentence's words
            first = first or record
        if progress:
            progress(i, len(found))
    return {"generator": "facts", "mode": "facts", "facts": len(found)}, found


def _fallback_stage(passages: list[dict[str, Any]], pairs: _Pairs, cfg: QAGenConfig,
                    progress: Progress | None) -> dict[str, Any]:
    for i, passage in enumerate(passages, 1):
        _rule_pairs(passage, pairs, cfg.pairs_per_passage, cfg.paraphrases)
        if progress:
            progress(i, len(passages))
    return {"generator": "rules", "mode": "fallback"}


def _surviving(records: list[dict[str, Any]], settings: filters.FilterSettings) -> list[dict[str, Any]]:
    """The records that pass every filter, dedup included (filtered as copies: records stay unmarked)."""
    passed = filters.apply_filters([dict(r) for r in records], {}, settings).kept
    ids = {r["id"] for r in passed}
    return [r for r in records if r["id"] in ids]


def _llm_stage(passages: list[dict[str, Any]], pairs: _Pairs, cfg: QAGenConfig, generator: Any,
               progress: Progress | None, timings: dict[str, float]) -> dict[str, Any]:
    from . import generate

    templates = generate.PromptTemplates.from_config(cfg)
    n_passages = len(passages)
    expected = n_passages + n_passages * cfg.pairs_per_passage * cfg.paraphrases

    def gen_progress(done: int, _total: int) -> None:
        if progress:
            progress(done, expected)

    gen_progress(0, expected)  # the model is loaded: the status says it is writing now
    t0 = time.perf_counter()
    result = generate.generate_pairs(passages, generator, n=cfg.pairs_per_passage, templates=templates,
                                     batch_size=cfg.batch_size, max_new_tokens=cfg.max_new_tokens,
                                     temperature=cfg.temperature, top_p=cfg.top_p, progress=gen_progress)
    timings["generate_s"] = time.perf_counter() - t0
    settings = filter_settings(cfg)
    originals = [pairs.add(p["question"], p["answer"], p["passage_id"], generator=generator.name, origin="llm")
                 for p in result.pairs]
    usable = _surviving(originals, settings)
    info: dict[str, Any] = {"generator": generator.name, "mode": "llm+fallback" if cfg.top_up else "llm",
                            "llm": result.to_dict(), "llm_usable_pairs": len(usable),
                            "raw_samples": [s[:1500] for s in result.samples]}
    info["paraphrase_malformed"] = _llm_paraphrases(usable, pairs, cfg, generator, templates, progress,
                                                    n_passages, timings)
    if cfg.top_up:
        t0 = time.perf_counter()
        info.update(_top_up(passages, usable, pairs, cfg))
        timings["fallback_s"] = time.perf_counter() - t0
    return info


def _llm_paraphrases(usable: list[dict[str, Any]], pairs: _Pairs, cfg: QAGenConfig, generator: Any,
                     templates: Any, progress: Progress | None, offset: int, timings: dict[str, float]) -> int:
    if not cfg.paraphrases or not usable:
        return 0
    from . import generate

    total = offset + len(usable) * cfg.paraphrases

    def para_progress(done: int, _total: int) -> None:
        if progress:
            progress(offset + done, total)

    t0 = time.perf_counter()
    found, malformed = generate.generate_paraphrases(usable, generator, n=cfg.paraphrases, templates=templates,
                                                     batch_size=cfg.batch_size, temperature=cfg.temperature,
                                                     top_p=cfg.top_p, progress=para_progress)
    timings["paraphrase_s"] = time.perf_counter() - t0
    for original, questions in zip(usable, found, strict=True):
        for q in questions:
            pairs.add(q, original["answer"], original["passage_id"], generator=generator.name, origin="llm",
                      group=original["id"])
        if len(questions) < cfg.paraphrases and cfg.top_up:
            for q in fallback.paraphrase_question(original["question"], original["answer"])[
                    :cfg.paraphrases - len(questions)]:
                pairs.add(q, original["answer"], original["passage_id"], generator="rules", origin="rules",
                          group=original["id"], rule="paraphrase")
    return malformed


def _top_up(passages: list[dict[str, Any]], usable: list[dict[str, Any]], pairs: _Pairs,
            cfg: QAGenConfig) -> dict[str, int]:
    have = Counter(r["passage_id"] for r in usable)
    topped, added = 0, 0
    for passage in passages:
        missing = cfg.pairs_per_passage - have[passage["id"]]
        if missing > 0:
            n = _rule_pairs(passage, pairs, missing, cfg.paraphrases)
            topped += n > 0
            added += n
    return {"topped_up_passages": topped, "rule_pairs_added": added}


# the whole build -----------------------------------------------------------------------------------

def _passages(paths: Sequence[str | Path], cfg: QAGenConfig) -> tuple[corpus.IngestReport, list[dict]]:
    report = _ingest_report(paths, cfg)
    passages = [p.to_dict() for p in report.passages]
    if cfg.max_passages:
        passages = passages[:cfg.max_passages]
    if not passages:
        reasons = "; ".join(f"{d.source}: {d.reason}" for d in report.skipped) or "no input files"
        raise PipelineError(f"no passage could be read from the inputs ({reasons})")
    return report, passages


def _coverage(passages: list[dict[str, Any]], kept: list[dict[str, Any]]) -> dict[str, Any]:
    per_passage = Counter(p["passage_id"] for p in kept)
    for p in passages:
        p["kept_pairs"] = per_passage.get(p["id"], 0)
    covered = sum(1 for p in passages if p["kept_pairs"])
    return {"passages": len(passages), "passages_with_pair": covered,
            "ratio": round(covered / len(passages), 4) if passages else 0.0}


def _config_record(cfg: QAGenConfig, paths: Sequence[str | Path]) -> dict[str, Any]:
    record = to_dict(cfg)
    if record.get("api_key"):
        record["api_key"] = "(hidden)"
    record["inputs"] = [str(p) for p in paths]
    return record


def build_dataset(paths: Sequence[str | Path], out_dir: str | Path, cfg: QAGenConfig | None = None,
                  progress: Progress | None = None, *, generator: Any = None, overwrite: bool = False,
                  ) -> dict[str, Any]:
    """Build ``out_dir`` (datasets/<name>/) from documents and return its report.

    ``generator`` (a generate.ChatGenerator) is used instead of loading ``cfg.model``; ``progress(done,
    total)`` is called as passages are processed (LLM runs: prompts, with total revised once the number of
    paraphrase prompts is known). An existing dataset folder is replaced only with ``overwrite``."""
    cfg = cfg or QAGenConfig()
    out = Path(out_dir)
    if dataset.is_dataset_folder(out) and not overwrite:
        raise PipelineError(f"{out} already holds a dataset; choose another name or pass overwrite=True")
    timings: dict[str, float] = {}
    start = t0 = time.perf_counter()
    ingest_report, passages = _passages(paths, cfg)
    timings["ingest_s"] = time.perf_counter() - t0
    pairs = _Pairs({p["id"]: p for p in passages})
    found_facts: list[Any] = []
    if cfg.strategy == "facts" and generator is None:
        t0 = time.perf_counter()
        info, found_facts = _facts_stage(passages, pairs, cfg, progress)
        timings["facts_s"] = time.perf_counter() - t0
    elif cfg.strategy == "rules" and generator is None:
        t0 = time.perf_counter()
        info = _fallback_stage(passages, pairs, cfg, progress)
        timings["fallback_s"] = time.perf_counter() - t0
    else:
        if generator is None:
            from . import generate

            t0 = time.perf_counter()
            generator = generate.make_generator(cfg)
            timings["load_s"] = time.perf_counter() - t0
        info = _llm_stage(passages, pairs, cfg, generator, progress, timings)
    t0 = time.perf_counter()
    result = filters.apply_filters(pairs.records, {p["id"]: p["text"] for p in passages}, filter_settings(cfg))
    train, test = dataset.split_pairs(result.kept, cfg.test_fraction, cfg.seed, cfg.split_by)
    timings["filter_split_s"] = time.perf_counter() - t0
    report = _report(out, cfg, info, ingest_report, passages, pairs.records, result, train, test, timings)
    t0 = time.perf_counter()
    dataset.write_dataset(out, train=train, test=test, passages=passages, dropped=result.dropped, report=report,
                          config=_config_record(cfg, paths))
    if found_facts:
        ledger = fact_ledger.build(found_facts, train, test)
        fact_ledger.write(out, ledger)
        report["facts"] = fact_ledger.summary(ledger)
    report["timings"]["write_s"] = round(time.perf_counter() - t0, 3)
    report["timings"]["total_s"] = round(time.perf_counter() - start, 3)
    atomic_write_json(out / "report.json", report)
    return report


def _report(out: Path, cfg: QAGenConfig, info: dict[str, Any], ingest_report: corpus.IngestReport,
            passages: list[dict], records: list[dict], result: filters.FilterReport, train: list[dict],
            test: list[dict], timings: dict[str, float]) -> dict[str, Any]:
    kept = result.kept
    gen_seconds = sum(timings.get(k, 0.0) for k in ("generate_s", "paraphrase_s", "fallback_s", "facts_s"))
    return {
        "name": out.name,
        "created_at": time.time(),
        **info,
        "documents": ingest_report.to_dict()["documents"],
        "counts": {
            "documents": len(ingest_report.documents), "documents_ingested": len(ingest_report.ingested),
            "passages": len(passages), "generated": len(records),
            "originals": sum(1 for r in records if r["kind"] == "original"),
            "paraphrases": sum(1 for r in records if r["kind"] == "paraphrase"),
            "kept": len(kept), "dropped": len(result.dropped), "dropped_by": result.counts,
            "kept_by_origin": dict(Counter(r["origin"] for r in kept)),
            "train": len(train), "test": len(test),
        },
        "coverage": _coverage(passages, kept),
        "split": {"by": cfg.split_by, "test_fraction": cfg.test_fraction, "seed": cfg.seed},
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "kept_pairs_per_minute": round(len(kept) / gen_seconds * 60, 1) if gen_seconds > 0 else None,
    }


# background job ------------------------------------------------------------------------------------

def job_config(paths: Sequence[str | Path], out_dir: str | Path, cfg: QAGenConfig, overwrite: bool = False,
               ) -> dict[str, Any]:
    """The ``qa`` section of a run's config.json (absolute paths: the worker may start elsewhere)."""
    config = to_dict(cfg)
    config["api_key"] = ""  # a key reaches the worker through its environment (start_job), never a file
    return {"inputs": [str(Path(p).resolve()) for p in paths], "out_dir": str(Path(out_dir).resolve()),
            "overwrite": overwrite, "config": config}


def run_job(run: RunDir) -> dict[str, Any]:
    """Worker entry for a "qa" run: build the dataset, reporting progress and honouring STOP."""
    job = run.read_config().get("qa") or {}
    if not job.get("inputs") or not job.get("out_dir"):
        raise PipelineError("the run's config.json has no qa.inputs / qa.out_dir")
    cfg = from_dict(QAGenConfig, job.get("config") or {})

    def progress(done: int, total: int) -> None:
        if run.stop_requested():
            raise PipelineStopped("stop requested")
        run.write_status(step=done, total_steps=total, phase="writing pairs" if cfg.uses_model else "reading facts")

    if cfg.uses_model:  # the first minute or two of a model-written build is loading the model
        run.write_status(phase=f"loading the generator ({cfg.endpoint_url or cfg.model})")
    try:
        report = build_dataset(job["inputs"], job["out_dir"], cfg, progress, overwrite=job.get("overwrite", False))
    except PipelineStopped:
        return {"stopped": True}
    return summary(report, job["out_dir"])


def summary(report: dict[str, Any], out_dir: str | Path) -> dict[str, Any]:
    """The headline numbers of a build (for status.json and run lists)."""
    counts = report["counts"]
    return {"dataset": str(out_dir), "generator": report.get("generator"), "passages": counts["passages"],
            "kept": counts["kept"], "dropped": counts["dropped"], "train": counts["train"], "test": counts["test"],
            "coverage": report["coverage"]["ratio"], "seconds": report["timings"].get("total_s")}
