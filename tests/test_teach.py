"""Teach in one job: documents -> dataset -> trained run -> evaluation, each stage a run of its own, on the
tiny model; bad settings are refused before anything is queued."""

from __future__ import annotations

import json

import pytest

from workbench import jobs, launch
from workbench.config import ConfigError
from workbench.rundir import RunDir
from workbench.workspace import Workspace

DOC = """# The Orrin Valley Depot

The Orrin Valley Depot is a tram depot in the town of Selby Marsh. It was built by the firm Orrin & Kell in 1990.
In 2004 the depot added a second shed, which holds 24 trams. Its manager, Ada Pell, joined in 2011.
"""
TINY = {"model": "tiny", "max_steps": 4, "eval_steps": 0, "probe_size": 0, "replay": 0.0, "threads": 1,
        "method_params": {"rank": 4}}


def start_on_the_depot(tmp_path) -> tuple[Workspace, RunDir]:
    pytest.importorskip("spacy")
    ws = Workspace(tmp_path / "ws")
    doc = tmp_path / "depot.md"
    doc.write_text(DOC)
    return ws, launch.start_teach(ws, [doc], "depot", train=TINY)


def test_a_teach_job_builds_trains_and_evaluates_in_order(tmp_path):
    ws, run = start_on_the_depot(tmp_path)
    assert jobs.wait(run, timeout=600) == "finished", run.log_tail(30)
    status = run.read_status()
    result = status["result"]
    assert status["stage"] == "eval" and status["step"] == 3 and status["total_steps"] == 3
    assert (ws.datasets / "depot" / "facts.jsonl").is_file() and result["pairs"] > 0
    trained = RunDir(ws.runs / result["train_run"])
    assert trained.read_config()["train"]["data"] == str(ws.datasets / "depot")
    # every value resolved, the method included, as a run started from the Train tab records it
    assert trained.read_config()["train"]["method"] == "lora" and "learning_rate" in trained.read_config()["train"]
    assert trained.read_status()["state"] == "finished" and result["steps"] == 4
    scores = json.loads((trained.eval_dir / "scores.json").read_text())
    assert scores["n"] > 0 and "fact_acc" in scores["tuned"] and "forgetting" in scores
    assert {RunDir(ws.runs / result[k]).read_status()["state"] for k in ("qa_run", "eval_run")} == {"finished"}


def test_bad_settings_are_refused_before_a_job_is_queued(tmp_path):
    ws = Workspace(tmp_path / "ws")
    doc = tmp_path / "depot.md"
    doc.write_text(DOC)
    with pytest.raises(ConfigError, match="learning_rate"):
        launch.start_teach(ws, [doc], "depot", train={**TINY, "learning_rate": -1})
    with pytest.raises(ConfigError, match="no documents"):
        launch.start_teach(ws, [], "depot")
    with pytest.raises(ValueError, match="dataset name"):
        launch.start_teach(ws, [doc], "../out")
    assert not list(ws.runs.glob("*")) if ws.runs.exists() else True


def test_the_teach_command_follows_its_stages(tmp_path, monkeypatch, capsys):
    pytest.importorskip("spacy")
    from workbench.__main__ import main

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "ws"))
    doc = tmp_path / "depot.md"
    doc.write_text(DOC)
    sets = [x for k, v in TINY.items() if k != "method_params" for x in ("--set", f"{k}={v}")]
    assert main(["teach", str(doc), "--out", "depot", *sets, "--set", "rank=4"]) == 0
    out = capsys.readouterr().out
    assert "stage 1/3 qa" in out and "stage 3/3 eval" in out and "held-out rewordings answered" in out
    assert main(["teach", str(doc), "--out", "depot", "--set", "learning_rate=-1"]) == 2


def test_the_data_tab_panel_starts_a_teach_job_and_finds_it_again_after_a_reload(tmp_path):
    from workbench.ui import teach as panel

    ws, run = start_on_the_depot(tmp_path)
    assert panel.latest_teach_job(ws) == run.id  # what a reloaded page's first tick picks up
    assert "Teaching" in panel.status_text(ws, run.id) or "Done" in panel.status_text(ws, run.id)
    assert jobs.wait(run, timeout=600) == "finished"
    text = panel.status_text(ws, run.id)
    assert text.startswith("**Done.**") and run.read_status()["result"]["train_run"] in text
    rows = panel.ledger_rows(ws, run.read_status()["result"])
    assert rows and {r[6] for r in rows} <= {"yes", "no", "-"} and any(r[6] != "-" for r in rows)
