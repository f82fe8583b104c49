"""Dataset folders of question-answer pairs: write, load, split, export, import and edit.

A dataset folder ``datasets/<name>/`` holds:
  train.jsonl, test.jsonl  one pair per line: id, question, answer, source, passage_id, passage, generator,
                           scores, group (the fact a paraphrase belongs to), kind (original | paraphrase), ...
  passages.jsonl           the passages the pairs came from
  dropped.jsonl            pairs removed by a filter or deleted by hand, each with drop_filter/drop_reason
  report.json              counts (kept, dropped per filter, train/test), generator, timings, coverage
  config.json              the settings that built it
  export/                  the dataset in other tools' formats, on request (see formats.py)

Every file is replaced atomically; edits hold a lock on the folder so two editors never lose each other's
changes. This module does not generate or filter pairs (see generate.py, fallback.py, filters.py) nor
write other tools' formats (formats.py). No torch import (layer 2).
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import json
import random
import time
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from filelock import FileLock

from .. import jsonl
from ..errors import UserError
from ..metrics import contains_fact
from ..rundir import atomic_write_json, atomic_write_text, read_json
from . import filters

SPLITS = ("train", "test")
SplitBy = Literal["passage", "pair", "paraphrase"]
_Q_KEYS = ("question", "instruction", "prompt", "query", "q", "input")
_A_KEYS = ("answer", "output", "response", "completion", "a", "target")


class DatasetError(UserError, ValueError):
    """A dataset file or folder is missing, unreadable or lacks questions/answers; the message says which."""


# JSONL ---------------------------------------------------------------------------------------------

def read_jsonl(path: Path) -> list[dict[str, Any]]:
    """The records of a dataset file ([] when it does not exist); a bad line is a DatasetError."""
    return jsonl.read_jsonl(path, DatasetError)


def write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    atomic_write_text(Path(path), "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))


# pair records ------------------------------------------------------------------------------------

def make_pair_id(passage_id: str, question: str, taken: set[str] | None = None) -> str:
    """A short stable id from passage and question; suffixed when ``taken`` already holds it."""
    base = "q" + hashlib.sha1(f"{passage_id}\n{question}".encode()).hexdigest()[:10]
    pair_id, n = base, 1
    while taken is not None and pair_id in taken:
        n += 1
        pair_id = f"{base}-{n}"
    if taken is not None:
        taken.add(pair_id)
    return pair_id


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    return next((record[k] for k in keys if isinstance(record.get(k), str) and record[k].strip()), None)


def normalise_pair(record: dict[str, Any], where: str = "") -> dict[str, Any]:
    """A pair with ``question`` and ``answer`` from common spellings (instruction/output, prompt/response,
    a messages/conversations list). Raises DatasetError naming ``where`` when either is missing."""
    if isinstance(record.get("conversations") or record.get("messages"), list):
        question, answer = _from_turns(record.get("conversations") or record.get("messages"))
    else:
        question, answer = _first(record, _Q_KEYS), _first(record, _A_KEYS)
        if record.get("instruction") and record.get("input") and "question" not in record:
            question = f"{record['instruction']}\n{record['input']}"
    if not question or not answer:
        raise DatasetError(f"{where or 'record'} has no question/answer (looked for question, instruction, "
                           "prompt or conversations, and answer, output or response)")
    pair = {k: v for k, v in record.items() if k not in ("instruction", "input", "output", "conversations",
                                                          "messages", "prompt", "response")}
    pair.update(question=str(question).strip(), answer=str(answer).strip())
    return pair


def _from_turns(turns: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    user = next((t for t in turns if (t.get("from") or t.get("role")) in ("human", "user")), None)
    bot = next((t for t in turns if (t.get("from") or t.get("role")) in ("gpt", "assistant")), None)
    return _turn_text(user), _turn_text(bot)


def _turn_text(turn: dict[str, Any] | None) -> str | None:
    return (turn.get("value") or turn.get("content")) if turn else None


# split -------------------------------------------------------------------------------------------

def _take_groups(groups: dict[str, list[int]], n_total: int, test_fraction: float, seed: int) -> set[int]:
    """Indices of whole groups, drawn in a seeded order until ``test_fraction`` of the pairs is reached."""
    keys = sorted(groups)
    random.Random(seed).shuffle(keys)
    target = round(n_total * test_fraction)
    if test_fraction > 0 and target == 0 and len(keys) > 1:
        target = 1
    chosen: set[int] = set()
    for key in keys:
        if len(chosen) >= target:
            break
        if len(chosen) + len(groups[key]) < n_total:  # never move every pair to test
            chosen.update(groups[key])
    return chosen


def split_pairs(pairs: list[dict[str, Any]], test_fraction: float = 0.2, seed: int = 42,
                by: SplitBy = "passage") -> tuple[list[dict], list[dict]]:
    """(train, test), both in input order.
    passage: all pairs of a passage on the same side (tests questions about unseen text).
    pair: a fact with its paraphrases on the same side (no reworded copy of a test question in train).
    paraphrase: one reworded phrasing of some facts goes to test while the others stay in train, from the facts
    with three or more wordings first (tests whether trained facts are recalled under new wording)."""
    if not 0 <= test_fraction < 1:
        raise DatasetError(f"test fraction {test_fraction} must be at least 0 and below 1")
    groups: dict[str, list[int]] = defaultdict(list)
    if by == "paraphrase":
        return _split_paraphrase(pairs, test_fraction, seed)
    for i, p in enumerate(pairs):
        key = p.get("passage_id") if by == "passage" else p.get("group")
        groups[str(key or p.get("id") or i)].append(i)
    if by not in ("passage", "pair"):
        raise DatasetError(f"unknown split {by!r}; use passage, pair or paraphrase")
    test = _take_groups(groups, len(pairs), test_fraction, seed)
    return ([p for i, p in enumerate(pairs) if i not in test], [p for i, p in enumerate(pairs) if i in test])


def _split_paraphrase(pairs: list[dict[str, Any]], test_fraction: float, seed: int) -> tuple[list[dict], list[dict]]:
    """One wording of some facts goes to test, each fact keeping the others in train; the facts with three or more
    wordings give theirs first (in seeded order), those with two only when the others are not enough. A fact
    asked in one training wording was recalled from a reader's new wording about a fifth as often as one asked in
    two or more (bench/knowledge.py), so a fact with two keeps both while others have wordings to spare."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(pairs):
        groups[str(p.get("group") or p.get("id") or i)].append(i)
    rng = random.Random(seed)
    candidates = [g for g in sorted(groups) if len(groups[g]) > 1]
    rng.shuffle(candidates)
    candidates.sort(key=lambda g: len(groups[g]) < 3)  # stable: the seeded order within each side
    target = max(1 if test_fraction > 0 and candidates else 0, round(len(pairs) * test_fraction))
    test = {groups[g][-1] for g in candidates[:target]}
    return ([p for i, p in enumerate(pairs) if i not in test], [p for i, p in enumerate(pairs) if i in test])


# folders -----------------------------------------------------------------------------------------

def write_dataset(folder: Path, *, train: list[dict], test: list[dict], passages: list[dict],
                  dropped: list[dict], report: dict[str, Any], config: dict[str, Any]) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_jsonl(folder / "train.jsonl", train)
    write_jsonl(folder / "test.jsonl", test)
    write_jsonl(folder / "passages.jsonl", passages)
    write_jsonl(folder / "dropped.jsonl", dropped)
    atomic_write_json(folder / "config.json", config)
    atomic_write_json(folder / "report.json", report)
    return folder


def is_dataset_folder(path: Path) -> bool:
    return Path(path).is_dir() and (Path(path) / "train.jsonl").exists()


def load_split(path: str | Path, split: str = "train") -> list[dict[str, Any]]:
    """The pairs of one split: a dataset folder's train.jsonl/test.jsonl; a single file counts as all
    train (its test split is empty)."""
    if split not in SPLITS:
        raise DatasetError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    path = Path(path)
    if path.is_dir():
        if not is_dataset_folder(path):
            raise DatasetError(f"{path} is not a dataset folder (no train.jsonl)")
        return [normalise_pair(r, f"{path.name}/{split}.jsonl line {n}")
                for n, r in enumerate(read_jsonl(path / f"{split}.jsonl"), 1)]
    return import_pairs(path) if split == "train" else []


def split_sizes(folder: str | Path) -> dict[str, int]:
    """{"train": n, "test": n}: the pair count of each split of a dataset folder (0 for a missing split)."""
    return {split: _count_records(Path(folder) / f"{split}.jsonl") for split in ("train", "test")}


def _count_records(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open(encoding="utf-8") as fh:
        return sum(1 for line in fh if line.strip())


def load_pairs(path: str | Path) -> list[dict[str, Any]]:
    """All kept pairs of a dataset folder (train then test), or of one JSONL/JSON/CSV file of QA pairs."""
    path = Path(path)
    if path.is_dir():
        return load_split(path, "train") + load_split(path, "test")
    return import_pairs(path)


def load_passages(folder: str | Path) -> list[dict[str, Any]]:
    return read_jsonl(Path(folder) / "passages.jsonl")


def read_report(folder: str | Path) -> dict[str, Any]:
    return read_json(Path(folder) / "report.json", {}) or {}


# import ------------------------------------------------------------------------------------------

def _json_records(path: Path) -> list[dict[str, Any]]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path.name} is not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(data, dict):
        data = next((v for v in data.values() if isinstance(v, list)), None)
    if not isinstance(data, list):
        raise DatasetError(f"{path.name} should hold a list of question/answer records")
    return data


def import_alpaca(path: str | Path) -> list[dict[str, Any]]:
    """Alpaca JSON (a list of instruction/input/output records) -> pairs."""
    path = Path(path)
    records = _json_records(path)
    return [_imported(normalise_pair(r, f"{path.name} record {n}"), path) for n, r in enumerate(records, 1)]


def import_sharegpt(path: str | Path) -> list[dict[str, Any]]:
    """ShareGPT JSON (records with a conversations list of from/value turns) -> pairs (first exchange)."""
    return import_alpaca(path)


def _guess_column(header: list[str], keys: tuple[str, ...]) -> str | None:
    lower = {h.strip().lower(): h for h in header}
    return next((lower[k] for k in keys if k in lower), None)


def import_csv(path: str | Path, question_col: str | None = None, answer_col: str | None = None,
               ) -> list[dict[str, Any]]:
    """A CSV with a header row; question/answer columns named explicitly or guessed from common names."""
    path = Path(path)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        q_col = question_col or _guess_column(header, _Q_KEYS)
        a_col = answer_col or _guess_column(header, _A_KEYS)
        if not q_col or not a_col or q_col not in header or a_col not in header:
            raise DatasetError(f"{path.name}: cannot find question/answer columns in {header}; name them "
                               "(for example question_col='Q', answer_col='A')")
        rows = [{"question": r[q_col], "answer": r[a_col]} for r in reader]
    return [_imported(normalise_pair(r, f"{path.name} row {n + 2}"), path) for n, r in enumerate(rows)]


def import_pairs(path: str | Path) -> list[dict[str, Any]]:
    """Pairs from a .jsonl, .json (Alpaca or ShareGPT) or .csv file."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path} does not exist (expected a dataset folder, .jsonl, .json or .csv file)")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return [_imported(normalise_pair(r, f"{path.name} line {n}"), path)
                for n, r in enumerate(read_jsonl(path), 1)]
    if suffix == ".json":
        return import_alpaca(path)
    if suffix == ".csv":
        return import_csv(path)
    raise DatasetError(f"{path.name}: unsupported QA file type {suffix!r}; use .jsonl, .json or .csv")


def _imported(pair: dict[str, Any], path: Path) -> dict[str, Any]:
    pair.setdefault("source", path.name)
    pair.setdefault("generator", "imported")
    pair.setdefault("passage_id", "")
    return pair


def import_dataset(paths: list[str | Path], folder: str | Path, *, test_fraction: float = 0.2, seed: int = 42,
                   by: SplitBy = "pair") -> dict[str, Any]:
    """Make a dataset folder from QA files (kept as they are: no filters), split by ``by``."""
    pairs = [p for path in paths for p in import_pairs(path)]
    taken: set[str] = set()
    for p in pairs:
        p["id"] = p.get("id") if p.get("id") and p["id"] not in taken else make_pair_id(
            p.get("passage_id", ""), p["question"], taken)
        taken.add(p["id"])
        p.setdefault("group", p["id"])
    train, test = split_pairs(pairs, test_fraction, seed, by)
    report = {"created_at": time.time(), "generator": "imported", "sources": [str(Path(p).name) for p in paths],
              "counts": {"kept": len(pairs), "dropped": 0, "train": len(train), "test": len(test)}}
    write_dataset(Path(folder), train=train, test=test, passages=[], dropped=[], report=report,
                  config={"imported_from": [str(p) for p in paths], "test_fraction": test_fraction, "seed": seed,
                          "split_by": by})
    return report


# editing -----------------------------------------------------------------------------------------

@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    if not is_dataset_folder(folder):
        raise DatasetError(f"{folder} is not a dataset folder (no train.jsonl)")
    # one edit at a time, across processes and threads (each edit takes a lock object of its own)
    with FileLock(str(folder / ".lock"), thread_local=False, preserve_lock_file=True):
        yield


def _find(folder: Path, pair_id: str) -> tuple[str, list[dict], int]:
    for split in SPLITS:
        records = read_jsonl(folder / f"{split}.jsonl")
        for i, r in enumerate(records):
            if r.get("id") == pair_id:
                return split, records, i
    raise DatasetError(f"no pair with id {pair_id!r} in {folder.name}")


def _touch_report(folder: Path, action: str) -> None:
    report = read_report(folder)
    counts = report.setdefault("counts", {})
    for split in SPLITS:
        counts[split] = len(read_jsonl(folder / f"{split}.jsonl"))
    counts["kept"] = counts["train"] + counts["test"]
    edits = report.setdefault("edits", {})
    edits[action] = edits.get(action, 0) + 1
    report["edited_at"] = time.time()
    atomic_write_json(folder / "report.json", report)


def _passage_text(folder: Path, pair: dict[str, Any]) -> str:
    if pair.get("passage"):
        return pair["passage"]
    match = [p for p in load_passages(folder) if p.get("id") == pair.get("passage_id")]
    return match[0]["text"] if match else ""


def edit_pair(folder: str | Path, pair_id: str, *, question: str | None = None, answer: str | None = None,
              ) -> dict[str, Any]:
    """Change a pair's question and/or answer; its scores are recomputed and it is marked edited."""
    folder = Path(folder)
    if question is not None and not question.strip() or answer is not None and not answer.strip():
        raise DatasetError("a question and an answer cannot be empty; delete the pair instead")
    with _locked(folder):
        split, records, i = _find(folder, pair_id)
        pair = records[i]
        if question is not None:
            pair["question"] = question.strip()
        if answer is not None:
            pair["answer"] = answer.strip()
            # Key facts the new answer no longer states would make fact accuracy score a correct model wrong.
            kept_keys = [k for k in pair.get("keys") or [] if contains_fact(pair["answer"], k)]
            if kept_keys:
                pair["keys"] = kept_keys
            else:
                pair.pop("keys", None)
        pair["scores"] = {**pair.get("scores", {}), **filters.score_pair(pair, _passage_text(folder, pair))}
        pair["edited"] = True
        write_jsonl(folder / f"{split}.jsonl", records)
        _touch_report(folder, "edited")
    return pair


def delete_pair(folder: str | Path, pair_id: str) -> dict[str, Any]:
    """Remove a pair from its split; it is kept in dropped.jsonl with reason 'deleted by hand'."""
    folder = Path(folder)
    with _locked(folder):
        split, records, i = _find(folder, pair_id)
        pair = records.pop(i)
        pair.update(drop_filter="manual", drop_reason="deleted by hand", split=split)
        write_jsonl(folder / "dropped.jsonl", [*read_jsonl(folder / "dropped.jsonl"), pair])
        write_jsonl(folder / f"{split}.jsonl", records)
        _touch_report(folder, "deleted")
    return pair


def add_pair(folder: str | Path, question: str, answer: str, *, split: str = "train", passage_id: str = "",
             source: str = "manual") -> dict[str, Any]:
    """Append a hand-written pair to a split and return it (with its new id)."""
    folder = Path(folder)
    if split not in SPLITS:
        raise DatasetError(f"split {split!r} is not one of {', '.join(SPLITS)}")
    if not question.strip() or not answer.strip():
        raise DatasetError("a new pair needs both a question and an answer")
    with _locked(folder):
        taken = {r.get("id") for s in SPLITS for r in read_jsonl(folder / f"{s}.jsonl")}
        pair: dict[str, Any] = {"question": question.strip(), "answer": answer.strip(), "source": source,
                                "passage_id": passage_id, "generator": "manual", "kind": "original"}
        pair["id"] = make_pair_id(passage_id, pair["question"], taken)
        pair["group"] = pair["id"]
        pair["passage"] = _passage_text(folder, pair)
        pair["scores"] = filters.score_pair(pair, pair["passage"])
        records = read_jsonl(folder / f"{split}.jsonl")
        write_jsonl(folder / f"{split}.jsonl", [*records, pair])
        _touch_report(folder, "added")
    return pair
