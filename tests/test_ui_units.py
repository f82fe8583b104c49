"""The UI's pure parts, without a server: generated forms, the train command line, launch validation,
run-folder readers, corpus uploads, chat side names, evaluation tables and login parsing."""

from __future__ import annotations

import functools
import json
import os
import shlex
from pathlib import Path

import gradio as gr
import pytest

from helpers import tiny_train_config, write_qa_dataset
from workbench import methods
from workbench.config import PRESETS, TrainConfig, describe
from workbench.rundir import RunDir
from workbench.served import describe as served_lines
from workbench.ui import chat as ui_chat
from workbench.ui import compare as ui_compare
from workbench.ui import data as ui_data
from workbench.ui import evaluate as ui_eval
from workbench.ui import runs as ui_runs
from workbench.ui import train as ui_train
from workbench.corpus import MAX_FILE_BYTES
from workbench.ui.app import AUTH_ENV, launch_options, launch_warnings, parse_args, read_auth
from workbench.ui.common import UIError, params_text
from workbench.ui.forms import build_form


def train_spec() -> ui_train.TrainSpec:
    with gr.Blocks():
        train_form = build_form(TrainConfig, prefix="tc-")
        method_forms = {name: build_form(m.params_cls) for name, m in methods.METHODS.items()}
    return ui_train.TrainSpec(train_form, method_forms)


# forms ---------------------------------------------------------------------------------------------

def test_train_form_is_built_from_field_metadata():
    form = train_spec().train_form
    by_name = dict(zip(form.names, form.components))
    hidden = {f["name"] for f in describe(TrainConfig) if not f["ui"]}
    assert hidden == {"data", "model", "method", "method_params"} and not hidden & set(form.names)
    assert isinstance(by_name["lr_scheduler"], gr.Dropdown)
    assert [c[0] for c in by_name["lr_scheduler"].choices] == list(TrainConfig.__dataclass_fields__[
        "lr_scheduler"].metadata["choices"])
    slider = by_name["warmup_ratio"]
    assert isinstance(slider, gr.Slider) and (slider.minimum, slider.maximum, slider.step) == (0.0, 0.5, 0.01)
    assert isinstance(by_name["max_steps"], gr.Number)  # 10 million positions is no slider
    # an optional number has an honest empty state: opening its accordion must not turn it into 0
    assert isinstance(by_name["learning_rate"], gr.Textbox) and by_name["learning_rate"].value == ""
    assert form.read([c.value for c in form.components])["learning_rate"] is None
    assert isinstance(by_name["gradient_checkpointing"], gr.Checkbox)
    assert "recompute activations" in by_name["gradient_checkpointing"].info


def test_every_method_gets_a_form_whose_defaults_are_valid_params():
    spec = train_spec()
    for name, method in methods.METHODS.items():
        form = spec.method_forms[name]
        assert form.names == [f["name"] for f in describe(method.params_cls)]
        values = form.read([c.value for c in form.components])
        assert methods.make_params(method, values) == method.params_cls()


def test_form_read_gives_each_field_its_type():
    form = train_spec().train_form
    values = {n: c.value for n, c in zip(form.names, form.components)}
    values.update(batch_size=8.0, learning_rate="", epochs=2.5)
    read = form.read([values[n] for n in form.names])
    assert read["batch_size"] == 8 and isinstance(read["batch_size"], int)
    assert read["learning_rate"] is None and read["epochs"] == 2.5
    values.update(learning_rate=" 2e-4 ")
    assert form.read([values[n] for n in form.names])["learning_rate"] == 2e-4


# settings, command line, presets -------------------------------------------------------------------

def form_values(spec: ui_train.TrainSpec, method: str, train: dict, params: dict) -> list:
    values = [train.get(n, spec.train_form.defaults[n]) for n in spec.train_form.names]
    for name, form in spec.method_forms.items():
        values += [(params if name == method else {}).get(n, form.defaults[n]) for n in form.names]
    return values


def test_command_line_starts_the_same_run_as_the_form(workspace, tmp_path):
    from workbench.__main__ import build_parser
    from workbench.cli.commands import train_settings

    write_qa_dataset(workspace.datasets / "facts")
    spec = train_spec()
    values = form_values(spec, "lora", {"max_steps": 30, "learning_rate": 5e-4, "gradient_checkpointing": True},
                         {"rank": 4, "targets": "q_proj,v_proj", "dropout": 0.1})
    settings = spec.settings("facts", "tiny", "lora", values)
    command = ui_train.cli_command(settings)
    assert "--set max_steps=30" in command and "--set rank=4" in command and "epochs" not in command
    argv = shlex.split(command.replace("\\\n", " "))[3:]  # drop `python -m workbench`
    args = build_parser().parse_args(argv)
    from_cli = train_settings(args, workspace)
    for key in ("max_steps", "learning_rate", "gradient_checkpointing"):
        assert from_cli[key] == str(settings[key]).lower() or from_cli[key] == str(settings[key])
    assert from_cli["method_params"] == {"rank": "4", "targets": "q_proj,v_proj", "dropout": "0.1"}
    assert from_cli["data"] == str(workspace.datasets / "facts") and from_cli["model"] == "tiny"


def test_preset_fills_the_form():
    spec = train_spec()
    updates = ui_train.fill_values(spec, ui_train.preset_settings("quick-demo"), ["facts"])
    n_head = 4 + len(spec.method_forms)
    train_updates = dict(zip(spec.train_form.names, updates[n_head:n_head + len(spec.train_form.names)]))
    assert updates[2]["value"] == "lora"
    assert train_updates["max_steps"]["value"] == PRESETS["quick-demo"]["max_steps"]
    assert train_updates["epochs"]["value"] == TrainConfig().epochs  # not in the preset: back to the default
    offset = n_head + len(spec.train_form.names)
    for name, form in spec.method_forms.items():
        if name == "lora":
            lora = dict(zip(form.names, updates[offset:offset + len(form.names)]))
            assert lora["rank"]["value"] == 8 and lora["targets"]["value"] == "attention"
        offset += len(form.names)
    with pytest.raises(UIError, match="unknown preset"):
        ui_train.preset_settings("fastest")


def test_invalid_training_is_refused_before_any_run_exists(workspace):
    write_qa_dataset(workspace.datasets / "facts")
    cases = [({"method_params": {"rank": 3, "init": "orthogonal"}}, "even rank"),
             ({"max_steps": 0}, "max_steps"),
             ({"method": "nope"}, "unknown method"),
             ({"data": "missing"}, "no dataset called 'missing'"),
             ({"data": "../facts"}, "dataset name")]
    for override, needle in cases:
        settings = {**tiny_train_config(Path("facts")), "data": "facts", **override}
        with pytest.raises(ValueError, match=needle):
            ui_train.launch_training(workspace, settings)
    assert workspace.list_runs() == []


# runs ----------------------------------------------------------------------------------------------

def fake_run(workspace, run_id: str = "20260101-000000-lora-abcd", **status) -> RunDir:
    run = RunDir(workspace.runs / run_id)
    run.path.mkdir(parents=True)
    run.write_config({"kind": "train", "train": {**tiny_train_config(Path("/data/facts")), "learning_rate": 0.001}})
    run.write_status(state=status.pop("state", "finished"), **status)
    return run


def test_live_view_reads_metrics_incrementally(workspace):
    run = fake_run(workspace, state="running", step=2, total_steps=8, trainable_params=8192, total_params=3227968)
    run.append_metric({"step": 1, "split": "train", "loss": 2.0, "lr": 1e-3})
    out = ui_runs.watch_outputs(workspace, run.id, None)
    watch, header = out[0], out[1]
    assert len(watch["records"]) == 1 and watch["offset"] == run.metrics_file.stat().st_size
    assert "8,192 of 3.2M (0.25%)" in header and "step **2/8**" in header
    assert len(out[3].data[0].x) == 1  # the loss chart has the one point
    again = ui_runs.watch_outputs(workspace, run.id, watch)
    assert again[1:] == [gr.skip()] * 6  # nothing new: the charts are not redrawn
    run.append_metric({"step": 2, "split": "train", "loss": 1.5, "lr": 1e-3})
    run.append_metric({"step": 2, "split": "eval", "loss": 1.7})
    later = ui_runs.watch_outputs(workspace, run.id, again[0])
    assert [r["step"] for r in later[0]["records"]] == [1, 2, 2]
    assert [len(t.x) for t in later[3].data] == [2, 1]  # train and eval loss


def test_tail_records_skips_a_partial_first_line(workspace):
    run = fake_run(workspace)
    for step in range(400):
        run.append_metric({"step": step, "split": "train", "loss": 1.0 / (step + 1)})
    records = ui_runs.tail_records(run, nbytes=500)
    assert records and records[-1]["step"] == 399 and all("loss" in r for r in records)
    assert len(records) < 400


def test_config_diff_lists_only_differences(workspace):
    a = fake_run(workspace, "20260101-000000-lora-aaaa")
    b = RunDir(workspace.runs / "20260101-000001-lora-bbbb")
    b.path.mkdir()
    b.write_config({"kind": "train", "train": {**tiny_train_config(Path("/data/facts"), max_steps=20),
                                                "learning_rate": 0.001}})
    rows = ui_compare.config_diff(workspace, [a.id, b.id])
    assert rows == [["max_steps", "8", "20"]]


def test_run_status_hides_paths_and_default_watch_prefers_active(workspace):
    fake_run(workspace, "20260101-000000-lora-aaaa")
    running = fake_run(workspace, "20250101-000000-lora-bbbb", state="queued")
    assert ui_runs.default_watch(workspace) == running.id
    info = ui_runs.run_status(workspace, running.id)
    assert info["data"] == "facts" and "path" not in json.dumps(info).replace("paths", "")


def test_key_score_prefers_the_evaluation_over_the_probe(workspace):
    from workbench.rundir import atomic_write_json

    run = fake_run(workspace)
    run.append_metric({"step": 4, "split": "probe", "rougeL": 0.25})
    assert ui_runs.key_score(run, ui_runs.tail_records(run)) == "rougeL 0.250"
    atomic_write_json(run.eval_dir / "scores.json", {"tuned": {"fact_acc": 0.5, "rougeL": 0.4},
                                                     "delta": {"fact_acc": 0.25, "rougeL": -0.1}})
    assert ui_runs.key_score(run, []) == "fact_acc 0.500 (+0.250) · rougeL 0.400 (-0.100)"
    row = next(r for r in ui_runs.table_rows(workspace) if r[0] == run.id)
    assert row[8] == "fact_acc 0.500 (+0.250) · rougeL 0.400 (-0.100)" and row[4] == "facts"


def test_params_text():
    assert params_text(460800, 134_515_008) == "460,800 of 134.5M (0.34%)"
    assert params_text(None, 10) == ""


# data ----------------------------------------------------------------------------------------------

def test_uploads_are_copied_under_clean_names_and_reported(workspace, tmp_path):
    good = tmp_path / "notes.md"
    good.write_text("# Notes\n\nThe harbour crane was built in 1911 by the Vell Iron Works. It lifted 40 tonnes.\n")
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    other = tmp_path / "table.xlsx"
    other.write_bytes(b"PK\x03\x04")
    with pytest.warns(UserWarning, match="table.xlsx: not a supported type"):
        added = ui_data.add_files(workspace, "harbour", [str(good), str(empty), str(other)])
    assert added == ["notes.md", "empty.txt"]
    report = ui_data.ingest_corpus(workspace, "harbour", "chars", 800, 100)
    rows = {r[0]: r for r in ui_data.document_rows(report)}
    assert rows["notes.md"][2] == "ingested" and rows["notes.md"][3] == 1
    assert rows["empty.txt"][2] == "skipped" and rows["empty.txt"][7]
    assert "harbour crane" in ui_data.preview_text(report, "notes.md")
    assert ui_data.safe_file_name("../../etc/passwd") == "passwd"
    with pytest.raises(ValueError):
        ui_data.corpus_folder(workspace, "../outside", create=True)


def test_uploads_with_clashing_or_long_names_are_all_kept(workspace, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first, second = tmp_path / "a" / "readme.txt", tmp_path / "b" / "readme.txt"
    first.write_text("The first readme names the Vell Iron Works.\n")
    second.write_text("The second readme names the Orrin depot.\n")
    q, bang = tmp_path / "notes?.txt", tmp_path / "notes!.txt"
    q.write_text("Question notes.\n")
    bang.write_text("Exclamation notes.\n")
    long = tmp_path / ("x" * 200 + ".md")
    long.write_text("# Long\n\nA document with a very long name.\n")
    added = ui_data.add_files(workspace, "clash", [str(first), str(second), str(q), str(bang), str(long)])
    assert added[:4] == ["readme.txt", "readme (2).txt", "notes_.txt", "notes_ (2).txt"]
    assert added[4].endswith(".md") and len(added[4]) <= ui_data.MAX_NAME
    folder = ui_data.corpus_folder(workspace, "clash")
    assert (folder / "readme.txt").read_text() != (folder / "readme (2).txt").read_text()
    assert (folder / "notes_.txt").read_text() == "Question notes.\n"
    # the same bytes again are not a new document; other bytes under a taken name get the next number
    assert ui_data.add_files(workspace, "clash", [str(first)]) == []
    third = tmp_path / "readme.txt"
    third.write_text("A third readme.\n")
    assert ui_data.add_files(workspace, "clash", [str(third)]) == ["readme (3).txt"]
    assert len(ui_data.ingest_corpus(workspace, "clash", "chars", 800, 100).documents) == 6


def test_an_upload_over_the_size_limit_is_left_out_before_any_copy(workspace, tmp_path, monkeypatch):
    monkeypatch.setattr(ui_data.corpus, "MAX_FILE_BYTES", 1000)
    big, small = tmp_path / "big.txt", tmp_path / "small.txt"
    big.write_text("The crane lifted forty tonnes. " * 100)
    small.write_text("The crane lifted forty tonnes.")
    with pytest.warns(UserWarning, match="big.txt: 0.0 MB, over the 0 MB limit"):
        assert ui_data.add_files(workspace, "sizes", [str(big), str(small)]) == ["small.txt"]
    assert not (ui_data.corpus_folder(workspace, "sizes") / "big.txt").exists()


# chat and evaluation -------------------------------------------------------------------------------

def test_chat_sides_are_parsed_strictly(workspace):
    run = fake_run(workspace)
    side = ui_chat.parse_side(workspace, run.id + ui_chat.TUNED_SUFFIX)
    assert side.run == str(run.path) and not side.base
    assert ui_chat.parse_side(workspace, run.id + ui_chat.BASE_SUFFIX).base
    assert ui_chat.parse_side(workspace, "model · tiny").model == "tiny"
    for bad in ("model · /etc", "nothing", "20990101-000000-x-0000 · tuned"):
        with pytest.raises(UIError):
            ui_chat.parse_side(workspace, bad)


def test_scores_and_question_tables():
    scores = {"base": {"fact_acc": 0.25, "rougeL": 0.5}, "tuned": {"fact_acc": 0.75, "rougeL": 0.4},
              "delta": {"fact_acc": 0.5, "rougeL": -0.1}}
    assert ui_eval.scores_table(scores) == [["fact accuracy", "0.25", "0.75", "+0.5"],
                                            ["ROUGE-L", "0.5", "0.4", "-0.1"]]
    predictions = [{"index": 0, "question": "q0", "reference": "r", "base": "b", "tuned": "t",
                    "scores": {"base": {"rougeL": 0.1}, "tuned": {"rougeL": 0.9}}},
                   {"index": 1, "question": "q1", "reference": "r", "base": "b", "tuned": "t",
                    "scores": {"base": {"rougeL": 0.8}, "tuned": {"rougeL": 0.2}}}]
    frame = ui_eval.question_frame(predictions, "rougeL", "all")
    assert list(frame["change"]) == ["improved", "regressed"] and list(frame["delta"]) == ["+0.8", "-0.6"]
    html = ui_eval.styled(frame).to_html()
    assert "#e6f4ea" in html and "#fce8e6" in html
    assert list(ui_eval.question_frame(predictions, "rougeL", "regressed")["question"]) == ["q1"]


# command line ----------------------------------------------------------------------------------------

def test_defaults_bind_locally_and_logins_parse(tmp_path):
    args = parse_args([])
    assert (args.host, args.port, args.share, args.auth) == ("127.0.0.1", 7860, False, None)
    users = tmp_path / "users.txt"
    users.write_text("# team\nana:secret one\n\nbo:pw\n")
    assert read_auth(parse_args(["--auth", "me:pw", "--auth-file", str(users)])) == [
        ("me", "pw"), ("ana", "secret one"), ("bo", "pw")]
    with pytest.raises(SystemExit, match="user:password"):
        read_auth(parse_args(["--auth", "nopassword"]))


def test_logins_from_the_environment_and_launch_warnings(monkeypatch):
    monkeypatch.setenv(AUTH_ENV, "ana:one\nbo:two")
    args = parse_args([])
    auth = read_auth(args)
    assert auth == [("ana", "one"), ("bo", "two")] and launch_warnings(args, auth) == []
    monkeypatch.delenv(AUTH_ENV)
    shared = parse_args(["--share"])
    assert any("public link" in w for w in launch_warnings(shared, read_auth(shared)))
    exposed = parse_args(["--host", "0.0.0.0"])
    assert any("without --auth" in w for w in launch_warnings(exposed, None))
    typed = parse_args(["--share", "--auth", "me:pw"])
    assert [w for w in launch_warnings(typed, read_auth(typed)) if "process list" in w]
    assert not [w for w in launch_warnings(typed, read_auth(typed)) if "public link" in w]


def test_launch_keeps_unexpected_errors_and_oversized_uploads_out():
    options = launch_options()
    assert options["show_error"] is False and options["max_file_size"] == MAX_FILE_BYTES


def test_only_the_ui_package_imports_gradio():
    root = Path(__file__).resolve().parent.parent / "workbench"
    offenders = [str(p.relative_to(root)) for p in root.rglob("*.py") if "ui" not in p.relative_to(root).parts
                 and any(line.lstrip().startswith(("import gradio", "from gradio"))
                         for line in p.read_text().splitlines())]
    assert offenders == []


def test_dataset_view_filters_pairs_and_exports(workspace):
    from workbench.qa import dataset as qads
    from workbench.ui import qa as ui_qa

    folder = write_qa_dataset(workspace.datasets / "facts", n_train=4, n_test=2)
    pair = qads.add_pair(folder, "Who keeps the lighthouse?", "Mara Vell keeps it.", split="test")
    _, report, sources, rows, ids, dropped, _ = ui_qa.dataset_view(workspace, "facts", None, "test")
    assert len(rows) == 3 and pair["id"] in ids and dropped == []
    assert sources["choices"] == [ui_qa.ALL, "", "manual"]
    assert "7 pairs kept (4 train, 3 test)" in report
    qads.delete_pair(folder, pair["id"])
    *_, rows, ids, dropped, _ = ui_qa.dataset_view(workspace, "facts", None, ui_qa.ALL)
    assert len(rows) == 6 and pair["id"] not in ids
    assert dropped == [["manual", "Who keeps the lighthouse?", "Mara Vell keeps it.", "manual", "deleted by hand"]]
    files = ui_qa.export_files(folder, "alpaca")
    train = next(f for f in files if f.endswith("_train_alpaca.json"))
    assert [r["output"] for r in json.loads(Path(train).read_text())][0] == "District 0 is called Project A0."


def test_scores_are_said_in_words_learned_and_forgot():
    from workbench.ui.evaluate import meaning

    scores = {"tuned": {"fact_acc": 0.8, "fact_acc_n": 30}, "base": {"fact_acc": 0.1, "fact_acc_n": 30},
              "forgetting": {"base": {"fact_acc": 0.738, "n": 42}, "tuned": {"fact_acc": 0.5952, "n": 42}}}
    text = meaning(scores)
    assert "key fact in 24 of 30 answers (the base model in 3)" in text
    assert "answers 25 of 42 general questions, 6 fewer than the base (31)" in text
    assert meaning({}) == ""


def test_training_settings_round_trip_through_a_yaml_file(tmp_path):
    from workbench.ui.train import settings_from_file, settings_to_file

    settings = {"data": "/ws/datasets/facts", "model": "tiny", "method": "lora", "epochs": 2.0,
                "learning_rate": 0.001, "method_params": {"rank": 8}}
    path = settings_to_file(settings)
    assert settings_from_file(path) == settings
    run_config = tmp_path / "config.json"
    run_config.write_text('{"kind": "train", "train": {"model": "tiny", "epochs": 3}}')
    assert settings_from_file(str(run_config)) == {"model": "tiny", "epochs": 3}
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just\n- a list\n")
    with pytest.raises(UIError, match="does not hold training settings"):
        settings_from_file(str(bad))


def test_the_runs_table_shows_one_kind_of_job_and_the_watch_list_keeps_all(workspace):
    trained = fake_run(workspace)
    qa_job = RunDir(workspace.runs / "20260101-000001-qa-abcd")
    qa_job.path.mkdir(parents=True)
    qa_job.write_config({"kind": "qa", "qa": {}})
    qa_job.write_status(state="finished")
    assert {r[0] for r in ui_runs.table_rows(workspace)} == {trained.id, qa_job.id}
    assert [r[0] for r in ui_runs.table_rows(workspace, "train")] == [trained.id]
    assert [r[0] for r in ui_runs.table_rows(workspace, "qa")] == [qa_job.id]
    rows, _, watch, compare = ui_runs.refresh_table(workspace, None, qa_job.id, "train")
    assert [r[0] for r in rows] == [trained.id]
    assert set(watch["choices"]) == {trained.id, qa_job.id} and watch["value"] == qa_job.id


def test_a_page_load_follows_running_qa_and_evaluation_jobs_again(workspace):
    from workbench.ui import qa as ui_qa

    assert ui_qa.reattach(workspace)[0] is not None  # a skip: nothing to follow
    older = RunDir(workspace.runs / "20260101-000001-qa-aaaa")
    newer = RunDir(workspace.runs / "20260101-000002-qa-bbbb")
    finished_eval = RunDir(workspace.runs / "20260101-000003-eval-cccc")
    running_eval = RunDir(workspace.runs / "20260101-000004-eval-dddd")
    for run, kind, state in ((older, "qa", "running"), (newer, "qa", "running"), (finished_eval, "eval", "finished"),
                             (running_eval, "eval", "running")):
        run.path.mkdir(parents=True)
        run.write_config({"kind": kind, kind: {}})
        run.write_status(state=state, pid=os.getpid() if state == "running" else None, step=1, total_steps=4)
    job_id, timer, message = ui_qa.reattach(workspace)
    assert job_id == newer.id and timer.active and newer.id in message
    pending, timer, text = ui_eval.reattach(workspace)
    assert pending == [running_eval.id] and timer.active and f"`{running_eval.id}`: **running**" in text


def test_an_early_stopped_run_says_so_and_why(workspace):
    from workbench import jobs
    from workbench.rundir import atomic_write_json

    run = fake_run(workspace)
    cfg = run.read_config()
    cfg["train"]["early_stopping_patience"] = 2
    run.write_config(cfg)
    atomic_write_json(run.path / "summary.json", {"steps": 4, "planned_steps": 60, "early_stopped": True,
                                                  "best_eval_loss": 0.731})
    advice = ui_runs.state_advice(run, jobs.describe(run))
    assert advice.startswith("**Stopped early** at step 4 of 60") and "2 evaluations in a row" in advice
    assert "0.731" in advice


def test_the_qa_report_gives_passage_coverage_as_a_share(tmp_path):
    from workbench.ui import qa as ui_qa

    folder = tmp_path / "ds"
    folder.mkdir()
    (folder / "report.json").write_text(json.dumps({"name": "ds", "counts": {"kept": 3, "train": 2, "test": 1,
                                                                             "passages": 4},
                                                   "coverage": {"ratio": 0.75}}))
    assert "Passages with a kept pair: 75%." in ui_qa.report_text(folder)


def test_a_reload_shows_the_collection_changed_last(workspace, tmp_path):
    import time as _time

    assert ui_data.recent_corpus(workspace) is None
    (tmp_path / "a.txt").write_text("The crane was built in 1911.")
    ui_data.add_files(workspace, "cranes", [str(tmp_path / "a.txt")])
    _time.sleep(0.02)
    ui_data.add_files(workspace, "ferries", [str(tmp_path / "a.txt")])
    assert ui_data.recent_corpus(workspace) == "ferries"
    _time.sleep(0.02)
    (tmp_path / "b.txt").write_text("The ferry sailed in 1950.")
    ui_data.add_files(workspace, "cranes", [str(tmp_path / "b.txt")])
    assert ui_data.recent_corpus(workspace) == "cranes"


def test_the_evaluate_tab_sends_a_serving_engine_on_an_allowed_endpoint_and_shows_its_parity(workspace, monkeypatch):
    from workbench import launch

    run = fake_run(workspace)
    started = []
    monkeypatch.setattr(launch, "eval_job", lambda *a, **k: None)
    monkeypatch.setattr(launch, "start_eval", lambda ws, path, data, **k: started.append(k["serve"]) or run)
    ask = functools.partial(ui_eval.launch_evaluations, workspace, [run.id], None, ["fact_acc"], False, False, 0, {})
    with pytest.raises(UIError, match="not allowed"):
        ask(serve={"url": "http://169.254.169.254/v1", "tuned_model": "t"})
    with pytest.raises(UIError, match="needs the serving engine's URL"):
        ask(serve={"url": "", "tuned_model": "t"})
    with pytest.raises(ValueError, match="name the tuned model"):
        ask(serve={"url": "http://127.0.0.1:8000/v1", "tuned_model": " "})
    assert not started
    ask(serve={"url": "", "tuned_model": "", "base_model": "", "parity": 8})
    ask(serve={"url": "http://127.0.0.1:8000/v1", "tuned_model": "tuned", "base_model": "", "parity": 4})
    assert started[0] is None and (started[1].url, started[1].tuned_model, started[1].parity) == (
        "http://127.0.0.1:8000/v1", "tuned", 4)
    lines = served_lines({"tuned": {"url": "http://h/v1", "model": "tuned", "checked": 4, "same": 3,
                                    "differ": [{"question": "Q?", "served": "a", "local": "b"}]}})
    assert "same answer to 3 of the first 4" in lines[0] and "first difference: 'Q?'" in lines[1]


def test_the_evaluate_tab_sends_a_judge_on_an_allowed_endpoint_and_shows_its_marks(workspace, monkeypatch):
    from workbench import launch

    run = fake_run(workspace)
    started = []
    monkeypatch.setattr(launch, "eval_job", lambda *a, **k: None)
    monkeypatch.setattr(launch, "start_eval", lambda ws, path, data, **k: started.append(k["settings"]) or run)
    with pytest.raises(UIError, match="not allowed"):
        ui_eval.launch_evaluations(workspace, [run.id], None, ["fact_acc"], False, False, 0, {},
                                   judge_url="http://169.254.169.254/v1", judge_model="m")
    with pytest.raises(UIError, match="small local model"):
        ui_eval.launch_evaluations(workspace, [run.id], None, ["fact_acc"], False, False, 0, {},
                                   judge_model="smollm2")
    assert not started
    ui_eval.launch_evaluations(workspace, [run.id], None, ["fact_acc"], False, False, 0, {},
                               judge_url="http://127.0.0.1:8000/v1", judge_model="judge-7b")
    assert (started[0].judge_url, started[0].judge_model) == ("http://127.0.0.1:8000/v1", "judge-7b")
    marks = {"judge": "judge-7b at http://127.0.0.1:8000/v1", "base": {"fluency": 60.0, "relevance": 50.0,
                                                                      "accuracy": 20.0, "unparsed": 1},
             "tuned": {"fluency": 70.0, "relevance": 80.0, "accuracy": 75.0, "unparsed": 0},
             "delta": {"fluency": 10.0, "relevance": 30.0, "accuracy": 55.0}}
    rows = ui_eval.judge_rows(marks)
    assert rows[2] == ["judge: accuracy", "20", "75", "+55"] and rows[3][0].startswith("judge: answers it gave no")
    assert ui_eval.judge_rows({"judge": "x", "error": "cannot reach the judge"}) == [
        ["judge", "", "", "failed: cannot reach the judge"]]


def test_a_running_job_says_what_it_is_doing(workspace):
    from workbench.ui import qa as ui_qa

    run = fake_run(workspace, state="running", pid=os.getpid(), phase="loading the model (smollm2)")
    assert "running  ·  loading the model (smollm2)" in ui_runs.header_text(run)
    job = RunDir(workspace.runs / "20260101-000009-qa-eeee")
    job.path.mkdir(parents=True)
    job.write_config({"kind": "qa", "qa": {}})
    job.write_status(state="running", pid=os.getpid(), phase="writing pairs", step=8, total_steps=24)
    text, share, active = ui_qa.job_progress(job)
    assert text.startswith("**running** · writing pairs: 8/24") and active and share == 8 / 24


def test_empty_evaluation_tables_have_named_columns(workspace):
    frames = ui_eval.results_view(workspace, None, "fact_acc", "all")
    questions, compare = frames[3], frames[5]
    assert list(questions.columns)[:3] == ["change", "question", "reference"] and questions.empty
    assert list(compare.columns)[:2] == ["run", "method"] and compare.empty


def test_the_teach_panel_hands_its_trained_run_to_the_chat(workspace):
    from workbench.ui import teach as ui_teach

    job = RunDir(workspace.runs / "20260101-000010-teach-ffff")
    job.path.mkdir(parents=True)
    job.write_config({"kind": "teach", "teach": {}})
    job.write_status(state="running", pid=os.getpid())
    with pytest.raises(UIError, match="has not finished training"):
        ui_teach.taught_run(workspace, job.id)
    job.write_status(state="finished", result={"train_run": "20260101-000011-lora-gggg"})
    assert ui_teach.taught_run(workspace, job.id) == "20260101-000011-lora-gggg"
