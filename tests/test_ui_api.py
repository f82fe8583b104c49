"""The launched app driven through its API with gradio_client: start_training on the tiny model, run_status,
start_qa with the rule-based generator, chat, refusals with clear messages, login, and the file routes
refusing to serve anything outside Gradio's own folders."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import httpx
import pytest

from helpers import wait_until, write_qa_dataset

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from gradio_client import Client
from gradio_client.exceptions import AuthenticationError

from workbench.rundir import RunDir
from workbench.workspace import Workspace

TRAIN = {"data": "facts", "model": "tiny", "method": "lora", "max_steps": 12, "learning_rate": 0.02,
         "logging_steps": 1, "eval_steps": 6, "probe_size": 0, "method_params": {"rank": 8}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(ws: Workspace, **launch_kwargs):
    """Build and launch the app on 127.0.0.1 at a free port; returns (blocks, url)."""
    from workbench.chat import ChatEngine
    from workbench.ui.app import build_app, launch_options

    demo = build_app(ws, engine=ChatEngine(device="cpu"))
    demo.queue().launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                        **{**launch_options(), **launch_kwargs})
    return demo, demo.local_url


def wait_for(predicate, timeout: float = 240.0, poll: float = 0.5):
    return wait_until(predicate, timeout, poll)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    ws = Workspace(tmp_path_factory.mktemp("ui-api") / "ws")
    write_qa_dataset(ws.datasets / "facts")
    demo, url = launch(ws)
    yield ws, url, Client(url, verbose=False)
    demo.close()


@pytest.fixture(scope="module")
def trained(app):
    ws, url, client = app
    message, run_id = client.predict(TRAIN, api_name="/start_training")
    assert run_id in message

    def ended():
        status = client.predict(run_id, api_name="/run_status")
        return status if status["state"] not in ("queued", "running") else None

    return run_id, wait_for(ended)


def test_start_training_and_follow_it_with_run_status(app, trained):
    ws, _, client = app
    run_id, status = trained
    assert status["state"] == "finished", status.get("log_tail")
    assert status["step"] == status["total_steps"] == TRAIN["max_steps"]
    assert status["method"] == "lora" and status["data"] == "facts"
    assert 0 < status["trainable_params"] < status["total_params"]
    assert status["summary"]["trainable_share"] == pytest.approx(status["trainable_params"] / status["total_params"],
                                                                 abs=1e-6)
    assert status["last_train"]["step"] == TRAIN["max_steps"] and status["last_eval"]["loss"] > 0
    assert (ws.runs / run_id / "adapter" / "adapter_config.json").exists()


def test_bad_training_settings_are_refused_with_a_clear_message(app):
    ws, _, client = app
    before = len(ws.list_runs())
    for settings, needle in (({**TRAIN, "method_params": {"rank": 0}}, "rank: 0 is below the minimum 1"),
                             ({**TRAIN, "data": "nothing"}, "no dataset called 'nothing'"),
                             ({**TRAIN, "optimizer": "paged_adamw_8bit"}, "CUDA")):
        with pytest.raises(Exception, match=needle):
            client.predict(settings, api_name="/start_training")
    assert len(ws.list_runs()) == before


def test_chat_gives_base_and_tuned_answers_side_by_side(app, trained):
    _, _, client = app
    run_id, _ = trained
    reply = client.predict("What is the code name of district 3?", f"{run_id} · base", f"{run_id} · tuned",
                           api_name="/chat")
    assert reply["left"] and reply["right"] and reply["left"] != reply["right"]
    with pytest.raises(Exception, match="choose who answers"):
        client.predict("hello", "somebody", f"{run_id} · tuned", api_name="/chat")


def test_start_qa_builds_a_dataset_with_the_rule_based_generator(app):
    ws, _, client = app
    message, run_id = client.predict({"corpus": "sample-corpus", "name": "rules-qa", "fallback_only": True,
                                      "test_fraction": 0.25}, api_name="/start_qa")
    status = wait_for(lambda: (s := client.predict(run_id, api_name="/run_status"))["state"] not in
                      ("queued", "running") and s, timeout=120)
    assert status["state"] == "finished", status.get("log_tail")
    train = (ws.datasets / "rules-qa" / "train.jsonl").read_text().splitlines()
    test = (ws.datasets / "rules-qa" / "test.jsonl").read_text().splitlines()
    assert train and test and status["kind"] == "qa"
    with pytest.raises(Exception, match="already exists"):
        client.predict({"corpus": "sample-corpus", "name": "rules-qa", "fallback_only": True}, api_name="/start_qa")


def test_the_sample_corpus_and_a_dataset_are_ready_in_a_new_workspace(tmp_path):
    from workbench.ui.app import prepare_workspace

    ws = Workspace(tmp_path / "ws")
    prepare_workspace(ws)
    docs = sorted(p.name for p in (ws.root / "corpora" / "sample-corpus").iterdir())
    assert len(docs) >= 3 and docs[0].endswith(".md")
    pairs = (ws.datasets / "sample-qa" / "train.jsonl").read_text().splitlines()
    assert len(pairs) >= 10
    assert json.loads((ws.datasets / "sample-qa" / "report.json").read_text())["generator"] == "facts"
    prepare_workspace(ws)  # a second start changes nothing
    assert [p.name for p in ws.list_datasets()] == ["sample-qa"]


def test_file_routes_refuse_paths_outside_gradio_folders(app):
    ws, url, _ = app
    secret = ws.root / "secret.txt"
    secret.write_text("do not serve me")
    targets = [str(secret), str(ws.datasets / "facts" / "train.jsonl"), "/etc/passwd", "../../../../../etc/passwd",
               "..%2F..%2F..%2F..%2Fetc%2Fpasswd", str(Path(__file__).resolve())]
    for route in ("gradio_api/file=", "file="):
        for target in targets:
            response = httpx.get(f"{url}{route}{target}", follow_redirects=False)
            assert response.status_code in (403, 404), (route, target, response.status_code)
            assert "do not serve me" not in response.text and "root:" not in response.text


def test_login_is_required_when_set(tmp_path):
    ws = Workspace(tmp_path / "ws")
    demo, url = launch(ws, auth=[("ana", "s3cret")])
    try:
        assert httpx.get(f"{url}config").status_code == 401
        with pytest.raises(AuthenticationError):
            Client(url, verbose=False)
        client = Client(url, auth=("ana", "s3cret"), verbose=False)
        with pytest.raises(Exception, match="choose a run"):
            client.predict("", api_name="/run_status")
    finally:
        demo.close()


def test_evaluate_runs_as_a_job_and_its_results_fill_the_tables(app, trained):
    from workbench.ui.evaluate import results_view

    ws, _, client = app
    run_id, _ = trained
    message, eval_ids = client.predict({"runs": [run_id], "limit": 2, "probe": False, "metrics": ["rouge", "fact_acc"],
                                        "gen": {"max_new_tokens": 12}}, api_name="/evaluate")
    assert len(eval_ids) == 1 and "Started 1 evaluation" in message
    status = wait_for(lambda: (s := client.predict(eval_ids[0], api_name="/run_status"))["state"] not in
                      ("queued", "running") and s, timeout=180)
    assert status["state"] == "finished", status.get("log_tail")
    info, table, _, questions, *_ = results_view(ws, run_id, "rougeL", "all")
    assert "evaluated on 2 questions" in info and "trainable" in info
    rows = {row[0]: row for row in table}
    assert {"ROUGE-L", "fact accuracy"} <= set(rows) and all(len(r) == 4 for r in table)
    assert len(questions.data) == 2
    with pytest.raises(Exception, match="choose at least one trained run"):
        client.predict({"runs": []}, api_name="/evaluate")


def test_topic_gate_refuses_off_topic_questions_in_chat(app, trained):
    from workbench.chat import ChatEngine
    from workbench.ui.chat import load_gate, parse_side

    ws, _, _ = app
    run_id, _ = trained
    sides = parse_side(ws, f"{run_id} · base"), parse_side(ws, f"{run_id} · tuned")
    gate = load_gate(ws, sides, 0.5, "Only questions about the districts, please.")
    assert (ws.runs / run_id / "gate" / "gate.json").exists() and gate.report.n_in_domain > 0
    assert gate.predict("What is the code name of district 7?")[0]
    reply = ChatEngine(device="cpu").reply(sides[1], "How do volcanoes form?", gate=gate)
    assert reply == "Only questions about the districts, please."


def test_a_running_job_survives_a_server_restart(tmp_path):
    from workbench import jobs
    from workbench.rundir import RunDir

    ws = Workspace(tmp_path / "ws")
    write_qa_dataset(ws.datasets / "facts")
    first, url = launch(ws)
    _, run_id = Client(url, verbose=False).predict({**TRAIN, "max_steps": 5000, "save_steps": 100000},
                                                   api_name="/start_training")
    first.close()  # the server goes away; the worker does not
    second, url = launch(ws)
    try:
        client = Client(url, verbose=False)
        seen = wait_for(lambda: (s := client.predict(run_id, api_name="/run_status"))["step"] and s)
        assert seen["state"] == "running"
        wait_for(lambda: client.predict(run_id, api_name="/run_status")["step"] > seen["step"])
    finally:
        run = RunDir(ws.runs / run_id)
        jobs.stop(run)
        assert jobs.wait(run, timeout=120) == "stopped"
        second.close()


def test_named_endpoints_list_export_and_manage_runs(app, trained, tmp_path):
    """Every main action has a named endpoint with named parameters: a script needs gradio_client only."""
    ws, url, client = app
    trained, _ = trained
    api = client.view_api(print_info=False, return_format="dict")["named_endpoints"]
    for name, params in (("/list_runs", ["kind"]), ("/stop_run", ["run_id"]),
                         ("/export_data", ["dataset", "format"]), ("/export_model", ["run_id", "to"]),
                         ("/teach_collection", ["collection", "dataset", "model"])):
        assert [p["parameter_name"] for p in api[name]["parameters"]] == params
    runs = client.predict("train", api_name="/list_runs")
    assert trained in [r["id"] for r in runs] and all(r["kind"] == "train" for r in runs)
    assert "facts" in [d["name"] for d in client.predict(api_name="/list_datasets")]
    files = client.predict("facts", "messages", api_name="/export_data")
    assert any(str(f).endswith("facts_train_messages.jsonl") for f in files)
    job = client.predict(trained, "merged", api_name="/export_model")
    assert wait_for(lambda: (ws.runs / job / "status.json").exists() and
                    client.predict(job, api_name="/run_status")["state"] in ("finished", "failed"))
    assert client.predict(job, api_name="/run_status")["state"] == "finished"
    with pytest.raises(Exception, match="no document collection"):
        client.predict("nowhere", "x", "tiny", api_name="/teach_collection")
    assert client.predict(job, api_name="/delete_run") == job and not (ws.runs / job).exists()


def test_the_whole_path_through_the_api_alone(app, tmp_path):
    """upload -> teach (QA, training, evaluation) -> export, with gradio_client and nothing else."""
    pytest.importorskip("spacy")
    from gradio_client import handle_file

    ws, url, client = app
    doc = tmp_path / "crane.md"
    doc.write_text("# The Vell Crane\n\nThe Vell harbour crane was built in 1911 by the Vell Iron Works. "
                   "It could lift 40 tonnes. In 1987 the crane was restored by the Eastwharf Heritage Trust.\n")
    assert client.predict([handle_file(str(doc))], "cranes", api_name="/upload_documents") == ["crane.md"]
    assert "cranes" in client.predict(api_name="/list_collections")
    job = client.predict("cranes", "cranes-taught", "tiny", api_name="/teach_collection")
    assert wait_for(lambda: client.predict(job, api_name="/run_status")["state"] not in ("queued", "running"),
                    timeout=600)
    status = client.predict(job, api_name="/run_status")
    assert status["state"] == "finished", status
    trained = next(r["id"] for r in client.predict("train", api_name="/list_runs") if "cranes-taught" in r["id"])
    export = client.predict(trained, "merged", api_name="/export_model")
    assert wait_for(lambda: client.predict(export, api_name="/run_status")["state"] == "finished", timeout=300)
    assert (ws.runs / trained / "export" / "merged" / "model.safetensors").is_file()


def test_each_step_through_the_api_alone_with_a_stop_and_a_resume(app, tmp_path):
    """upload -> QA -> train -> stop -> resume -> evaluate -> export, one endpoint per step, gradio_client alone."""
    from gradio_client import handle_file

    ws, _, client = app

    def ended(run_id: str) -> dict:
        return wait_for(lambda: (s := client.predict(run_id, api_name="/run_status"))["state"] not in
                        ("queued", "running") and s, timeout=300)

    doc = tmp_path / "depot.md"
    doc.write_text("# The Orrin Depot\n\nThe Orrin tram depot was built in 1902 by Pollard & Wyke. It held 40 "
                   "cars. In 1961 the depot was closed, and in 1990 it reopened as a transport museum.\n")
    assert client.predict([handle_file(str(doc))], "depots", api_name="/upload_documents") == ["depot.md"]
    _, qa_id = client.predict({"corpus": "depots", "name": "depot-qa", "fallback_only": True}, api_name="/start_qa")
    assert ended(qa_id)["state"] == "finished"
    # save every 5 steps, so the stop leaves a checkpoint to resume from
    _, run_id = client.predict({**TRAIN, "data": "depot-qa", "max_steps": 300, "save_steps": 5, "eval_steps": 150},
                               api_name="/start_training")
    assert wait_for(lambda: (client.predict(run_id, api_name="/run_status").get("step") or 0) >= 3)
    assert client.predict(run_id, api_name="/stop_run")
    stopped = ended(run_id)
    assert stopped["state"] == "stopped" and 3 <= stopped["step"] < 300
    assert client.predict(run_id, api_name="/resume_run") == run_id
    finished = ended(run_id)
    assert finished["state"] == "finished" and finished["step"] == 300, finished.get("log_tail")
    steps = [r["step"] for r in RunDir(ws.runs / run_id).read_metrics(0)[0] if r.get("split") == "train"]
    assert len(steps) == len(set(steps)) == 300  # each step logged once across the stop and the resume
    _, eval_ids = client.predict({"runs": [run_id], "limit": 2, "probe": False, "metrics": ["fact_acc"],
                                  "gen": {"max_new_tokens": 8}}, api_name="/evaluate")
    assert ended(eval_ids[0])["state"] == "finished"
    assert (ws.runs / run_id / "eval" / "scores.json").is_file()
    export = client.predict(run_id, "merged", api_name="/export_model")
    assert ended(export)["state"] == "finished"
    assert (ws.runs / run_id / "export" / "merged" / "model.safetensors").is_file()
