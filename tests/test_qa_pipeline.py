"""The whole build: documents -> dataset folder, with rules only, a fake endpoint and the tiny model."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from test_qa_generate import FakeServer
from workbench.config import QAGenConfig
from workbench import launch
from workbench.qa import dataset, generate, pipeline
from workbench.qa.pipeline import PipelineError

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "sample_corpus"
PAIR_KEYS = {"id", "question", "answer", "source", "passage_id", "passage", "generator", "scores", "group", "kind"}


def test_fallback_only_builds_the_sample_dataset_in_seconds_without_torch(tmp_path: Path):
    out = tmp_path / "sample"
    code = (
        "import sys, json, time\n"
        "from workbench.config import QAGenConfig\n"
        "from workbench.qa.pipeline import build_dataset\n"
        "t = time.perf_counter()\n"
        f"r = build_dataset([{str(SAMPLE)!r}], {str(out)!r}, QAGenConfig(fallback_only=True, split_by=\"passage\"))\n"
        "print(json.dumps({'s': time.perf_counter() - t, 'torch': 'torch' in sys.modules}))\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["torch"] is False and result["s"] < 15

    report = json.loads((out / "report.json").read_text())
    counts = report["counts"]
    assert report["generator"] == "rules" and report["mode"] == "fallback"
    assert counts["passages"] >= 8 and counts["documents_ingested"] == 4
    assert counts["generated"] == counts["kept"] + counts["dropped"] == counts["originals"] + counts["paraphrases"]
    assert counts["kept"] == counts["train"] + counts["test"] and counts["test"] > 0
    assert report["coverage"]["ratio"] == 1.0
    assert set(report["timings"]) >= {"ingest_s", "fallback_s", "filter_split_s", "write_s", "total_s"}

    passages = {p["id"]: p for p in dataset.load_passages(out)}
    for split in ("train", "test"):
        for pair in dataset.read_jsonl(out / f"{split}.jsonl"):
            assert set(pair) >= PAIR_KEYS
            assert pair["passage"] == passages[pair["passage_id"]]["text"]
            assert pair["answer"] in pair["passage"]
    assert {p["passage_id"] for p in dataset.load_split(out, "train")}.isdisjoint(
        p["passage_id"] for p in dataset.load_split(out, "test"))
    assert json.loads((out / "config.json").read_text())["fallback_only"] is True
    with pytest.raises(PipelineError, match="already holds a dataset"):
        pipeline.build_dataset([SAMPLE], out, QAGenConfig(fallback_only=True))


def test_progress_and_max_passages(tmp_path: Path):
    calls = []
    report = pipeline.build_dataset([SAMPLE], tmp_path / "d", QAGenConfig(fallback_only=True, max_passages=3),
                                    progress=lambda d, t: calls.append((d, t)))
    assert calls == [(1, 3), (2, 3), (3, 3)]
    assert report["counts"]["passages"] == 3


def test_nothing_readable_is_an_error(tmp_path: Path):
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(PipelineError, match="no passage could be read.*empty.txt: the file is empty"):
        pipeline.build_dataset([tmp_path / "empty.txt"], tmp_path / "out", QAGenConfig(fallback_only=True))


def test_ingest_writes_passages_only(tmp_path: Path):
    summary = pipeline.ingest([SAMPLE], tmp_path / "p", QAGenConfig(chunk_unit="sentences", chunk_size=4,
                                                                     chunk_overlap=1))
    lines = dataset.read_jsonl(tmp_path / "p" / "passages.jsonl")
    assert len(lines) == summary["counts"]["passages"] > 10
    assert not (tmp_path / "p" / "train.jsonl").exists()


def test_llm_from_endpoint_topped_up_by_rules(tmp_path: Path):
    with FakeServer(api_key="secret") as server:
        # "What does the text say first?" shares no word with its answer's sentence: the relevance filter
        # drops it (checked below); switched off here so that dedup and the rewording are seen.
        cfg = QAGenConfig(endpoint_url=server.url, endpoint_model="fake", api_key="secret", pairs_per_passage=2,
                          paraphrases=1, max_passages=4, min_relevance=0.0)
        report = pipeline.build_dataset([SAMPLE], tmp_path / "llm", cfg)
        strict = pipeline.build_dataset([SAMPLE], tmp_path / "strict", replace(cfg, min_relevance=0.3))
        one = pipeline.build_dataset([SAMPLE], tmp_path / "one", replace(cfg, max_passages=1))
    assert strict["counts"]["dropped_by"]["relevance"] == 4 and strict["llm_usable_pairs"] == 0
    assert report["generator"] == "endpoint:fake" and report["mode"] == "llm+fallback"
    llm = report["llm"]
    assert llm["outputs"] == 4 and llm["pairs"] == 4 and llm["malformed_items"] == 4
    counts = report["counts"]
    # The fake model asks the same question of every passage, answered by each passage's first sentence: a
    # question with four answers teaches none, so all four are dropped and rules fill every passage.
    assert counts["dropped_by"]["ambiguous"] == 4 and report["llm_usable_pairs"] == 0
    assert report["topped_up_passages"] == 4 and counts["kept_by_origin"]["rules"] > 0
    # Asked of one passage, the question is kept and reworded.
    assert one["llm_usable_pairs"] == 1 and one["paraphrase_malformed"] == 0
    llm_kept = sorted((p["kind"], p["question"]) for p in dataset.load_pairs(tmp_path / "one") if p["origin"] == "llm")
    assert llm_kept == [("original", "What does the text say first?"),
                        ("paraphrase", "In other words, what does the text say first?")]
    dropped = dataset.read_jsonl(tmp_path / "llm" / "dropped.jsonl")
    assert all(d["drop_reason"] for d in dropped)
    assert json.loads((tmp_path / "llm" / "config.json").read_text())["api_key"] == "(hidden)"


def test_tiny_model_garbage_is_counted_and_rules_fill_in(tiny, tmp_path: Path):
    model, tok = tiny
    gen = generate.LocalGenerator(model, tok, name="local:tiny")
    cfg = QAGenConfig(max_passages=3, max_new_tokens=16, batch_size=3, paraphrases=1)
    t = time.perf_counter()
    report = pipeline.build_dataset([SAMPLE], tmp_path / "tiny", cfg, generator=gen)
    assert time.perf_counter() - t < 120
    assert report["llm"]["outputs"] == 3 and report["llm"]["malformed_outputs"] == 3
    assert report["llm_usable_pairs"] == 0 and report["paraphrase_malformed"] == 0
    assert report["topped_up_passages"] == 3
    assert report["counts"]["kept_by_origin"] == {"rules": report["counts"]["kept"]}
    assert report["coverage"]["ratio"] == 1.0
    assert len(report["raw_samples"]) == 3


@pytest.mark.slow
def test_smollm2_builds_a_dataset(tmp_path: Path):
    cfg = QAGenConfig(strategy="llm", max_passages=2, max_new_tokens=160, batch_size=2, paraphrases=1)
    report = pipeline.build_dataset([SAMPLE], tmp_path / "smol", cfg)
    assert report["generator"] == "local:smollm2" and report["llm"]["outputs"] == 2
    assert report["counts"]["kept"] > 0 and report["coverage"]["ratio"] == 1.0
    assert report["llm"]["pairs"] + report["llm"]["malformed_outputs"] >= 1


def test_run_job_in_a_run_folder_and_stop(tmp_path: Path):
    from workbench.rundir import RunDir

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_config({"kind": "qa", "qa": pipeline.job_config([SAMPLE], tmp_path / "ds",
                                                              QAGenConfig(fallback_only=True, max_passages=4))})
    result = pipeline.run_job(run)
    assert result["kept"] > 0 and result["coverage"] == 1.0 and result["passages"] == 4
    status = run.read_status()
    assert status["step"] == status["total_steps"] == 4
    stopped = RunDir(tmp_path / "run2")
    stopped.path.mkdir()
    stopped.write_config({"kind": "qa", "qa": pipeline.job_config([SAMPLE], tmp_path / "ds2",
                                                                  QAGenConfig(fallback_only=True))})
    stopped.request_stop()
    assert pipeline.run_job(stopped) == {"stopped": True}
    assert not (tmp_path / "ds2").exists()


def test_start_job_runs_in_a_worker(workspace):
    run = launch.start_qa(workspace, [SAMPLE], "sample-rules", QAGenConfig(fallback_only=True))
    deadline = time.time() + 120
    while run.effective_state() not in ("finished", "failed", "crashed") and time.time() < deadline:
        time.sleep(0.3)
    status = run.read_status()
    assert status["state"] == "finished", run.log_tail()
    assert status["result"]["kept"] > 0
    assert dataset.load_pairs(workspace.datasets / "sample-rules")
    with pytest.raises(PipelineError, match="already exists"):
        launch.start_qa(workspace, [SAMPLE], "sample-rules", QAGenConfig(fallback_only=True))


def test_rule_pairs_carry_the_fact_they_ask_for_and_evaluation_checks_it(tmp_path: Path):
    from workbench.evaluate import pair_keys
    from workbench.metrics import fact_accuracy

    pipeline.build_dataset([SAMPLE], tmp_path / "d", QAGenConfig(fallback_only=True, paraphrases=1))
    pairs = dataset.load_pairs(tmp_path / "d")
    assert pairs and all(p.get("keys") for p in pairs)
    by_group: dict[str, set] = {}
    for p in pairs:
        by_group.setdefault(p["group"], set()).add(tuple(p["keys"]))
    assert all(len(keys) == 1 for keys in by_group.values())  # a rewording asks for the same fact
    mayor = next(p for p in pairs if p["question"] == "Who became mayor of Vellmouth in 2002?")
    assert mayor["keys"] == ["Ines Carraway"]
    keys = pair_keys([mayor, mayor])
    assert fact_accuracy(["It was Ines Carraway.", "The mayor was elected in 2002."], [mayor["answer"]] * 2,
                         keys) == 0.5


def test_an_api_key_never_lands_in_the_run_folder(tmp_path, monkeypatch):
    """The key reaches the worker through its environment; config.json (shown by `runs show`) has none."""
    from workbench import jobs
    from workbench.workspace import Workspace

    seen = {}

    class FakeProc:
        pid = 12345

    def fake_popen(cmd, **kwargs):
        seen["env"] = kwargs["env"]
        return FakeProc()

    monkeypatch.setattr(jobs.subprocess, "Popen", fake_popen)
    monkeypatch.setattr(jobs, "_await_announcement", lambda run, proc: None)
    ws = Workspace(tmp_path / "ws")
    cfg = QAGenConfig(endpoint_url="http://127.0.0.1:9/v1", api_key="sk-secret-123")
    run = launch.start_qa(ws, [SAMPLE], "keyed", cfg)
    assert "sk-secret-123" not in run.config_file.read_text()
    assert seen["env"]["WORKBENCH_QA_API_KEY"] == "sk-secret-123"
