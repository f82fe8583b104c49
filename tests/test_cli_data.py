"""`ingest` and `qa` from the command line on the sample corpus (rule-based: no model, seconds)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from workbench.__main__ import main

SAMPLE = Path(__file__).resolve().parent.parent / "assets" / "sample_corpus"


def test_qa_fallback_builds_a_dataset_and_prints_its_report(workspace, capsys):
    assert main(["qa", str(SAMPLE), "--out", "sample", "--fallback-only", "--split-by", "paraphrase"]) == 0
    out = capsys.readouterr().out
    assert "pairs kept" in out and "coverage: " in out
    folder = workspace.datasets / "sample"
    report = json.loads((folder / "report.json").read_text())
    assert report["counts"]["train"] > 0 and report["counts"]["test"] > 0
    assert report["coverage"]["passages_with_pair"] == report["coverage"]["passages"]
    # a second run refuses to overwrite without being asked
    assert main(["qa", str(SAMPLE), "--out", "sample", "--fallback-only"]) == 2
    assert "already" in capsys.readouterr().err


def test_ingest_reports_each_document(workspace, tmp_path, capsys):
    bad = tmp_path / "empty.txt"
    bad.write_text("")
    assert main(["ingest", str(SAMPLE), str(bad), "--out", "passages-only"]) == 0
    out = capsys.readouterr().out
    assert "ingested" in out and "empty.txt" in out
    assert (workspace.datasets / "passages-only" / "passages.jsonl").exists()


def test_qa_refuses_missing_inputs_and_bad_settings(workspace, capsys):
    assert main(["qa", "/no/such/dir", "--out", "x", "--fallback-only"]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    assert main(["qa", str(SAMPLE), "--out", "x", "--fallback-only", "--test-fraction", "5"]) == 2
    assert "test_fraction" in capsys.readouterr().err


def test_names_given_on_the_command_line_stay_inside_the_workspace(workspace, capsys):
    for name in ("..", ".", "a\n"):
        assert main(["qa", str(SAMPLE), "--out", name, "--fallback-only"]) == 2
        assert "dataset name" in capsys.readouterr().err
    assert not (workspace.root / "report.json").exists() and not (workspace.root / "train.jsonl").exists()
    pairs = workspace.root / "pairs.jsonl"
    pairs.write_text(json.dumps({"question": "When was the crane built?", "answer": "In 1911."}) + "\n")
    assert main(["train", "--data", str(pairs), "--model", "tiny", "--run-dir", "../outside"]) == 2
    assert "run name" in capsys.readouterr().err
    assert not (workspace.root / "outside").exists() and not any(workspace.runs.glob("*"))


def test_qa_defaults_to_facts_and_facts_prints_the_ledger(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "ws"))
    doc = tmp_path / "depot.md"
    doc.write_text("# The Orrin Valley Depot\n\nThe Orrin Valley Depot was built by the firm Orrin & Kell in 1990. "
                   "It employs 86 drivers and 12 fitters. Its manager, Ada Pell, joined in 2011.\n")
    assert main(["qa", str(doc), "--out", "depot"]) == 0
    out = capsys.readouterr().out
    assert "pairs kept" in out and "generator: facts" in out
    assert main(["facts", "depot"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"depot: \d+ facts, \d+ asked by training pairs", out)
    assert "Orrin & Kell" in out and "86 drivers" in out
    assert main(["facts", "no-such-dataset"]) == 2


def test_export_data_writes_each_format_and_refuses_what_it_cannot(workspace, tmp_path, capsys):
    assert main(["qa", str(SAMPLE), "--out", "sample", "--fallback-only"]) == 0
    capsys.readouterr()
    assert main(["export-data", "sample", "--format", "messages", "--out", str(tmp_path / "out")]) == 0
    lines = (tmp_path / "out" / "sample_train_messages.jsonl").read_text().splitlines()
    first = json.loads(lines[0])
    assert [m["role"] for m in first["messages"]] == ["user", "assistant"] and first["source"]
    assert main(["export-data", "sample", "--format", "alpaca", "--into", str(tmp_path / "nowhere")]) == 2
    assert "dataset_info.json" in capsys.readouterr().err
    assert main(["export-data", "no-such-dataset"]) == 2
    assert "no dataset at" in capsys.readouterr().err


def test_qa_with_a_model_writes_to_a_folder_given_as_a_path_like_the_rules_do(workspace, tmp_path, capsys):
    """The model generator runs as a listed, queued job; --out may still be a folder outside the workspace."""
    from workbench import jobs

    out = tmp_path / "elsewhere" / "depot-qa"
    doc = tmp_path / "depot.md"
    doc.write_text("# The Orrin Depot\n\nThe Orrin depot was built in 1902. It held 40 trams.\n")
    code = main(["qa", str(doc), "--out", str(out), "--generator", "tiny", "--max-new-tokens", "16",
                 "--pairs-per-passage", "1"])
    assert code == 0, capsys.readouterr().err
    assert (out / "train.jsonl").is_file() and (out / "report.json").is_file()
    assert any(r["kind"] == "qa" for r in jobs.list_runs(workspace))
    assert not (workspace.datasets / "depot-qa").exists()
