"""The Studies tab: results tables from a summary and from a partial results.csv, progress read from a study
job's status, the refusals (unknown spec, a second job for one study, bad YAML), a tiny two-cell study
started through the app's API and shown in the tab, and a CoRA subspace built from a run and a model."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import time

import gradio as gr
import pytest
import yaml

from helpers import wait_until, write_qa_dataset
from workbench import jobs
from workbench.studies import grid, results, specs
from workbench.rundir import RunDir
from workbench.ui import studies as ui
from workbench.ui import study_results as results_ui
from workbench.ui import subspaces as sub_ui
from workbench.workspace import Workspace

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

T1 = 12.706204736174707  # two-sided 95% Student t quantile, 1 degree of freedom


def tiny_spec(name: str = "tiny-grid", **over) -> dict:
    """One LoRA variant x two seeds on the tiny model: two cells, each a 4-step training and a 3-question eval.
    One torch thread: on a busy 2-core machine two threads made the tiny model's 128-token answers take 37 s
    instead of 0.6 s (threads waiting on each other)."""
    spec = {"name": name, "description": "Two seeds of a small LoRA on made-up facts.", "data": "facts",
            "models": ["tiny"], "sizes": [1.0], "seeds": [1, 2], "baseline": "lora",
            "train": {"max_steps": 4, "eval_steps": 0, "probe_size": 0, "save_total_limit": 1, "threads": 1},
            "variants": [{"name": "lora", "method": "lora", "params": {"rank": 2, "targets": "attention"}}],
            "eval": {"limit": 3, "probe": False}}
    return {**spec, **over}


def dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def rows_for(values: dict[str, list[float]]) -> list[dict]:
    """results.csv rows: one per (variant, seed) with fact_acc and rougeL."""
    rows = []
    for variant, facts in values.items():
        for seed, fact in enumerate(facts, 1):
            rows.append({"variant": variant, "method": variant, "size": 1.0, "model": "tiny", "seed": seed,
                         "run": f"r-{variant}-{seed}", "trainable_params": 1024 if variant == "lora" else 0,
                         "train_seconds": 10.0 * seed if variant == "lora" else "", "tokens_per_s": "",
                         "fact_acc": fact, "rougeL": fact / 2})
    return rows


# results -------------------------------------------------------------------------------------------

SUMMARY = {
    "name": "demo", "baseline": "lora", "metrics": ["fact_acc", "rougeL"], "cells_run": 4, "wall_seconds": 65.0,
    "cells": [
        {"variant": "base", "size": 1.0, "model": "tiny", "n": 2, "trainable_params": 0,
         "fact_acc": {"mean": 0.1, "ci95": None, "n": 1}, "rougeL": {"mean": None, "ci95": None, "n": 0},
         "train_seconds": {"mean": None, "ci95": None, "n": 0}, "tokens_per_s": {"mean": None, "ci95": None, "n": 0}},
        {"variant": "lora", "size": 0.5, "model": "tiny", "n": 2, "trainable_params": 460800,
         "fact_acc": {"mean": 0.5, "ci95": 0.125, "n": 2}, "rougeL": {"mean": 0.25, "ci95": 0.0625, "n": 2},
         "train_seconds": {"mean": 31.6, "ci95": 2.4, "n": 2}, "tokens_per_s": {"mean": 195.2, "ci95": None, "n": 1}},
    ],
    "paired": [{"variant": "base", "vs": "lora", "size": 1.0, "model": "tiny",
                "fact_acc": {"mean": -0.4, "ci95": 0.05, "n": 2}, "rougeL": {"mean": None, "ci95": None, "n": 0}}],
}


def test_results_table_from_a_summary_json(workspace):
    folder = workspace.studies / "demo"
    folder.mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(SUMMARY))
    summary = results.study_summary(folder)
    assert summary["partial"] is False
    assert results_ui.cells_headers(summary) == ["variant", "size", "model", "seeds", "trainable params",
                                                 "fact accuracy", "ROUGE-L", "train s", "tokens/s"]
    assert results_ui.cells_table(summary) == [
        ["base", "100%", "tiny", 2, "0", "0.100", "", "", ""],
        ["lora", "50%", "tiny", 2, "460,800", "0.500 ± 0.125", "0.250 ± 0.062", "32 ± 2", "195"]]
    assert results_ui.paired_headers(summary)[0] == "variant − lora"
    assert results_ui.paired_table(summary) == [["base", "100%", "tiny", "-0.400 ± 0.050", ""]]
    header, cells, paired, figure, images, report = results_ui.results_view(workspace, "demo")
    assert "4 cells; wall time 1:05" in header and cells["value"] == results_ui.cells_table(summary)
    bars = {(t.name, t.xaxis): t.y[0] for t in figure.data}  # one bar per cell in each metric's panel
    assert bars[("base · 100% · tiny", "x")] == 0.1 and bars[("lora · 50% · tiny", "x2")] == 0.25
    assert images == [] and "written when the study finishes" in report


def test_report_figures_are_images_in_report_order_without_links(workspace):
    from PIL import Image

    folder = workspace.studies / "demo"
    (folder / "figures").mkdir(parents=True)
    (folder / "summary.json").write_text(json.dumps(SUMMARY))
    Image.new("RGB", (8, 6), "red").save(folder / "figures" / "rougeL.png")
    Image.new("RGB", (4, 4), "blue").save(folder / "figures" / "fact_acc.png")
    (folder / "report.md").write_text("# Study\n\n![fact_acc](figures/fact_acc.png)\n\n![rougeL](figures/rougeL.png)"
                                      "\n\n![outside](../../secret.png)\n\n| a |\n")
    images = results.report_figures(folder)
    assert [(caption, img.size) for img, caption in images] == [("fact_acc", (4, 4)), ("rougeL", (8, 6))]
    text = results.report_text(folder)
    assert "![" not in text and "# Study" in text and "| a |" in text


def test_partial_results_are_summarised_from_results_csv(workspace):
    folder = workspace.studies / "tiny-grid"
    folder.mkdir(parents=True)
    spec = specs.spec_from_dict(tiny_spec(seeds=[1, 2, 3]))
    (folder / "spec.json").write_text(json.dumps({**spec.__dict__, "variants": [v.__dict__ for v in spec.variants]}))
    grid.write_csv(folder / "results.csv", rows_for({"lora": [0.4, 0.6], "base": [0.1, 0.1]}))
    summary = results.study_summary(folder)
    assert summary["partial"] and summary["baseline"] == "lora" and summary["tuned_rows"] == 2
    lora = next(c for c in summary["cells"] if c["variant"] == "lora")
    assert lora["fact_acc"]["mean"] == pytest.approx(0.5)
    assert lora["fact_acc"]["ci95"] == pytest.approx(T1 * 0.1, rel=1e-6)  # sd 0.1414 / sqrt(2) = 0.1
    assert lora["train_seconds"]["mean"] == pytest.approx(15.0) and lora["trainable_params"] == 1024
    (paired,) = summary["paired"]
    assert paired["variant"] == "base" and paired["fact_acc"]["mean"] == pytest.approx(-0.4)
    header = results_ui.results_view(workspace, "tiny-grid")[0]
    assert "(partial)" in header and "2 of 3 cells done" in header
    # a summary.json older than results.csv belongs to an earlier pass: the partial view wins
    (folder / "summary.json").write_text(json.dumps({**SUMMARY, "name": "tiny-grid"}))
    old = time.time() - 60
    os.utime(folder / "summary.json", (old, old))
    assert results.study_summary(folder)["partial"] is True
    assert results.study_names(workspace) == ["tiny-grid"]


# progress --------------------------------------------------------------------------------------------

def test_progress_is_read_from_the_study_job_and_found_again_after_a_reload(workspace):
    job = jobs.create_run(workspace, "study", {"study": {"spec": "paper-joint", "quick": True},
                                               "needs_accelerator": False}, label="study-paper-joint-quick")
    assert specs.newest_job(workspace, "paper-joint", True) == job.id
    assert specs.newest_job(workspace, "paper-joint", False) is None
    assert ui.study_progress(workspace, job.id) == (f"Job `{job.id}`: **queued**\n\nWaiting to start.", 0.0, True)

    job.write_status(state="running", pid=os.getpid(), started_at=time.time() - 65, step=1, total_steps=4,
                     message="cell 2/4: lora-n100-smollm2-s2")
    cell = jobs.create_run(workspace, "train", {"train": {"method": "lora"}}, run_id="paper-joint-quick-lora-n100"
                                                                                       "-smollm2-s2")
    cell.write_status(state="running", pid=os.getpid(), step=12, total_steps=40)
    text, share, active = ui.study_progress(workspace, job.id)
    assert "1/4 cells done" in text and "Now: cell 2/4: lora-n100-smollm2-s2" in text
    assert "training: 12/40 steps" in text and "running for 1:0" in text
    assert share == 0.25 and active

    job.write_status(state="finished", result={"wall_seconds": 125.0})
    text, share, active = ui.study_progress(workspace, job.id)
    assert "4/4 cells done" in text and "Finished in 2:05" in text and (share, active) == (1.0, False)

    job.write_status(state="failed", error={"kind": "bad_config", "message": "run x ended stopped"})
    assert "**Failed (bad_config):** run x ended stopped" in ui.study_progress(workspace, job.id)[0]
    job.write_status(state="running", pid=dead_pid())
    assert "The study driver died" in ui.study_progress(workspace, job.id)[0]
    assert ui.study_progress(workspace, "20990101-gone")[0].endswith("no longer exists (it was deleted in the "
                                                                     "Runs tab).")


# specs and refusals ------------------------------------------------------------------------------------

def test_specs_are_listed_viewed_and_saved_with_clear_refusals(workspace):
    write_qa_dataset(workspace.datasets / "facts")
    assert ("paper-joint", "paper-joint") in specs.spec_choices(workspace)
    text, overview = ui.spec_view(workspace, "paper-joint", True)
    assert text == specs.spec_text("paper-joint") and "**paper-joint-quick**" in overview

    key = specs.save_workspace_spec(workspace, "tiny-grid", yaml.safe_dump(tiny_spec()))
    assert key == "workspace/tiny-grid" and ("tiny-grid (workspace)", key) in specs.spec_choices(workspace)
    overview = ui.spec_view(workspace, key, False)[1]
    assert "**tiny-grid**: 2 cell(s) = 1 trained variant(s) × 1 size(s) × 1 model(s) × 2 seed(s)" in overview

    refusals = [("tiny-grid", "name: [unclosed", "not valid YAML"),
                ("other", yaml.safe_dump(tiny_spec()), "change it to `name: other`"),
                ("paper-joint", yaml.safe_dump(tiny_spec("paper-joint")), "name of a shipped spec"),
                ("far", yaml.safe_dump(tiny_spec("far", data="/elsewhere")), "must be `sample` or the name of a"),
                ("bad", yaml.safe_dump(tiny_spec("bad", baseline="nope")), "baseline 'nope' is not a variant"),
                ("../up", yaml.safe_dump(tiny_spec("../up")), "must be 1-100 letters")]
    for name, body, needle in refusals:
        with pytest.raises(ValueError, match=needle.replace("[", r"\[")):
            specs.save_workspace_spec(workspace, name, body)
    assert specs.workspace_spec_names(workspace) == ["tiny-grid"]


def test_launch_refuses_unknown_specs_bad_yaml_and_a_second_job(workspace):
    write_qa_dataset(workspace.datasets / "facts")
    with pytest.raises(ui.StudiesError, match="unknown study spec 'nope'; choose one of: architectures"):
        ui.launch_study(workspace, "nope", True)
    with pytest.raises(ui.StudiesError, match="choose a study spec first"):
        ui.launch_study(workspace, None, True)
    (specs.spec_folder(workspace) / "broken.yaml").write_text("name: broken\nvariants: [lora\n")
    with pytest.raises(ui.StudiesError, match=r"not valid YAML: .*\(line 3, column 1\)"):
        ui.launch_study(workspace, "workspace/broken", False)
    assert "**This spec cannot run:** the spec 'workspace/broken' is not valid YAML" in ui.spec_view(
        workspace, "workspace/broken", False)[1]

    key = specs.save_workspace_spec(workspace, "tiny-grid", yaml.safe_dump(tiny_spec()))
    busy = jobs.create_run(workspace, "study", {"study": {"spec": specs.spec_source(workspace, key), "quick": False},
                                                "needs_accelerator": False})
    busy.write_status(state="running", pid=os.getpid())
    before = len(workspace.list_runs())
    with pytest.raises(ui.StudiesError, match=f"study 'tiny-grid' is already running as job {busy.id}"):
        ui.launch_study(workspace, key, False)
    assert len(workspace.list_runs()) == before
    with pytest.raises(ui.StudiesError, match="no cell of this study is running yet"):
        ui.stop_study(workspace, busy.id)
    cell = jobs.create_run(workspace, "train", {"train": {}, "study": "tiny-grid", "cell": "lora-n100-tiny-s1"},
                           run_id="tiny-grid-lora-n100-tiny-s1")
    other = jobs.create_run(workspace, "train", {"train": {}, "study": "tiny-grid-quick"},
                            run_id="tiny-grid-quick-lora-n100-tiny-s1")
    for run in (cell, other):
        run.write_status(state="running", pid=os.getpid())
    assert "Asked `tiny-grid-lora-n100-tiny-s1` to stop" in ui.stop_study(workspace, busy.id)
    assert cell.stop_requested() and not other.stop_requested()
    # a page reload follows the running job, whatever spec the picker showed
    spec, quick, _, _, job_id, *_ = ui.on_load(workspace, "paper-joint", True, None)
    assert (spec["value"], quick["value"], job_id) == (key, False, busy.id)
    # a spec saved after the page was built is among the choices sent with it (else the browser shows an error)
    assert key in [value for _, value in spec["choices"]]
    busy.write_status(state="finished")
    assert ui.on_load(workspace, "paper-joint", True, None)[4] == ""


# end to end ----------------------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_tiny_study_started_through_the_api_shows_real_rows(tmp_path):
    from gradio_client import Client

    from workbench.chat import ChatEngine
    from workbench.ui.app import build_app, launch_options

    ws = Workspace(tmp_path / "ws")
    write_qa_dataset(ws.datasets / "facts")
    key = specs.save_workspace_spec(ws, "tiny-grid", yaml.safe_dump(tiny_spec()))
    demo = build_app(ws, engine=ChatEngine(device="cpu"), prepare=False)
    demo.queue().launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                        **launch_options())
    try:
        client = Client(demo.local_url, verbose=False)
        message, job_id = client.predict({"spec": key, "quick": False}, api_name="/start_study")
        assert job_id in message
        with pytest.raises(Exception, match="unknown study spec"):
            client.predict({"spec": "../../etc", "quick": False}, api_name="/start_study")
    finally:
        demo.close()
    assert specs.newest_job(ws, key, False) == job_id
    wait_until(lambda: not ui.study_progress(ws, job_id)[2], timeout=300, poll=1.0)
    text, share, _ = ui.study_progress(ws, job_id)
    assert "**finished**" in text and "2/2 cells done" in text and share == 1.0, RunDir(ws.runs / job_id).log_tail()

    header, cells, paired, figure, images, report = results_ui.results_view(ws, "tiny-grid")
    assert "### tiny-grid" in header and "2 cells" in header
    rows = {r[0]: r for r in cells["value"]}
    assert set(rows) == {"base", "lora"} and rows["lora"][3] == 2 and int(rows["lora"][4].replace(",", "")) > 0
    summary = json.loads((ws.studies / "tiny-grid" / "summary.json").read_text())
    lora = next(c for c in summary["cells"] if c["variant"] == "lora")
    assert rows["lora"][cells["headers"].index("ROUGE-L")] == results_ui.stat_text(lora["rougeL"])
    assert [r[0] for r in paired["value"]] == ["base"] and paired["headers"][0] == "variant − lora"
    assert "rougeL" in {caption for _, caption in images}
    assert "Paired differences against `lora`" in report and "![" not in report
    attached = ui.attach(ws, key, False, None)
    assert attached[2] == job_id and attached[6]["value"] == "tiny-grid"


# CoRA ------------------------------------------------------------------------------------------------------

@pytest.fixture()
def lora_run(workspace, tiny_path) -> str:
    """A finished LoRA run of the tiny model, with an adapter that changes the weights."""
    import torch

    from workbench import models
    from workbench.methods import METHODS, make_params

    method = METHODS["lora"]
    model = method.build(models.load_model("tiny", precision="fp32", device="cpu")[0],
                         make_params(method, {"rank": 4, "targets": "attention"}))
    torch.manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if ".lora_B." in name:
                p.normal_(0, 0.5)
    run = jobs.create_run(workspace, "train", {"train": {"model": tiny_path, "method": "lora"}}, run_id="src-lora")
    method.save(model, run.adapter)
    run.write_status(state="finished")
    prefix = jobs.create_run(workspace, "train", {"train": {"model": "tiny", "method": "prefix"}}, run_id="src-pre")
    prefix.adapter.mkdir()
    (prefix.adapter / "adapter_config.json").write_text(json.dumps({"peft_type": "PREFIX_TUNING"}))
    prefix.write_status(state="finished")
    return run.id


def test_cora_subspace_built_from_a_run_and_a_model_is_plotted(workspace, lora_run):
    assert sub_ui.cora_source_runs(workspace) == ["src-lora"]  # the prefix run changes no weight matrix
    rel = sub_ui.build_subspace(workspace, "pair", ["src-lora"], "tiny\n# a comment\n", 4, "attention")
    assert rel == "subspaces/pair" and results.subspace_choices(workspace) == ["subspaces/pair"]
    assert [(r["kind"], r["state"]) for r in jobs.list_runs(workspace) if r["kind"] == "cora"] == \
        [("cora", "finished")]  # built in a worker process, not in the UI's
    info, figure, kinds = sub_ui.subspace_view(workspace, rel)
    meta = json.loads((workspace.root / rel / "subspace.json").read_text())
    assert [s["kind"] for s in meta["sources"]] == ["lora-run", "model"] and meta["rank"] == 4
    cumulative = next(t for t in figure.data if t.name == "cumulative")
    assert len(cumulative.y) == 64 and cumulative.y[-1] == pytest.approx(1.0, abs=1e-6)
    assert all(a <= b + 1e-9 for a, b in zip(cumulative.y, cumulative.y[1:]))
    assert math.isclose(sum(next(t for t in figure.data if t.name == "per component").y), 1.0, abs_tol=1e-5)
    assert str((workspace.root / rel).resolve()) in info and "rank 4, 4 modules" in info
    assert sorted(k[0] for k in kinds) == ["q_proj", "v_proj"]
    assert kinds[0][1] == f"{meta['curve_by_kind'][kinds[0][0]][3]:.3g}"

    with pytest.raises(ui.StudiesError, match="'pair' already exists"):
        sub_ui.build_subspace(workspace, "pair", ["src-lora"], "", 4, "attention")
    with pytest.raises(ui.StudiesError, match="choose at least one finished run"):
        sub_ui.build_subspace(workspace, "none", [], " \n", 4, "attention")
    with pytest.raises(ui.StudiesError, match="rank must be a whole number"):
        sub_ui.build_subspace(workspace, "zero", ["src-lora"], "", 0, "attention")
    with pytest.raises(ValueError, match="changes no weight matrix"):
        sub_ui.build_subspace(workspace, "pre", ["src-pre"], "", 4, "attention")
    with pytest.raises(ui.StudiesError, match="no subspace 'subspaces/../../x'"):
        sub_ui.subspace_view(workspace, "subspaces/../../x")
    assert not (sub_ui.subspaces_root(workspace) / "pre").exists()


def test_the_studies_tab_is_wired_into_the_app(workspace):
    from workbench.ui.app import build_app

    demo = build_app(workspace, prepare=False)
    tabs = [b for b in demo.blocks.values() if isinstance(b, gr.Tab)]
    assert [t.label for t in tabs][-1] == "Studies"
    apis = {d.get("api_name") for d in demo.config["dependencies"]}
    assert {"start_study", "build_subspace"} <= apis
