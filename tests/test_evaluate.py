"""Evaluation on the tiny model: files and their schema, base/tuned separation, perplexity, forgetting probe,
per-question view, run comparison, the LLM judge against a local fake endpoint, the worker job and the CLI."""

from __future__ import annotations

import http.server
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import ClassVar

import pytest
from helpers import tiny_train_config, write_qa_dataset

from workbench import eval_results, judge, launch
from workbench import evaluate as ev
from workbench.endpoint import chat_url
from workbench import jobs
from workbench.config import EvalConfig, GenParams
from workbench.rundir import RunDir
from workbench.workspace import Workspace

ROOT = Path(__file__).resolve().parent.parent
GEN = GenParams(max_new_tokens=6, batch_size=4)
METRICS = EvalConfig(metrics=["bleu4", "sacrebleu", "rouge", "fact_acc"])


def train_tiny(ws: Workspace, data: Path, run_id: str, **overrides) -> RunDir:
    """A LoRA run on the tiny model, trained in this process at a high learning rate."""
    from workbench.train import train

    cfg = tiny_train_config(data, max_steps=30, learning_rate=3e-2, eval_steps=0, save_steps=1000, threads=1,
                            method_params={"rank": 8, "targets": "all-linear"})
    cfg.update(overrides)
    run = jobs.create_run(ws, "train", {"train": cfg}, run_id=run_id)
    train(run)
    run.write_status(state="finished")
    return run


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> RunDir:
    ws = Workspace(tmp_path_factory.mktemp("evalws"))
    data = write_qa_dataset(ws.datasets / "districts")
    return train_tiny(ws, data, "lora-run")


@pytest.fixture(scope="module")
def evaluated(trained, tmp_path_factory) -> tuple[dict, Path]:
    """One evaluation with the forgetting probe, written to its own folder."""
    out = tmp_path_factory.mktemp("evalout")
    job = ev.EvalJob(run=str(trained.path), gen=GEN, settings=METRICS, probe=True)
    reports = []
    scores = ev.evaluate(job, [out], ev.Progress(report=lambda done, total, phase: reports.append((done, total))))
    assert reports[-1][0] == reports[-1][1] > 0  # progress reached its total
    return scores, out


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# files and numbers ------------------------------------------------------------------------------------

def test_predictions_and_scores_have_the_documented_schema(evaluated):
    scores, out = evaluated
    rows = read_jsonl(out / "predictions.jsonl")
    assert len(rows) == scores["n"] == 6  # the dataset's test split
    for row in rows:
        assert {"question", "reference", "base", "tuned", "scores"} <= set(row)
        for side in ("base", "tuned"):
            assert {"bleu4", "sacrebleu", "rouge1", "rougeL", "fact_acc", "ppl"} <= set(row["scores"][side])
            assert row["scores"][side]["ppl"] > 1
    assert rows[0]["question"].startswith("What is the code name of district")
    for side in ("base", "tuned"):
        assert 0 <= scores[side]["rougeL"] <= 1 and scores[side]["perplexity"] > 1
    assert scores["delta"]["rougeL"] == pytest.approx(scores["tuned"]["rougeL"] - scores["base"]["rougeL"])
    assert scores["delta"]["perplexity"] == pytest.approx(scores["tuned"]["perplexity"] - scores["base"]["perplexity"])
    assert "tok:13a" in scores["sacrebleu_signature"]
    assert scores["settings"]["gen"]["max_new_tokens"] == 6 and scores["settings"]["base_from"] == "disable_adapter"
    assert scores["timings"]["tuned_generate_s"] > 0 and scores["data"] == "pairs the run held out from training"
    assert json.loads((out / "scores.json").read_text())["n"] == 6


def test_a_shared_base_cache_reuses_the_base_side_only_for_the_same_inputs(trained, evaluated, tmp_path):
    first_scores, first_out = evaluated
    cache = tmp_path / "base-cache"
    job = ev.EvalJob(run=str(trained.path), gen=GEN, settings=METRICS, probe=True, base_cache=str(cache))
    fresh = ev.evaluate(job, [tmp_path / "a"])
    assert len(list(cache.glob("base-*.json"))) == 1 and "cached" not in fresh["settings"]["base_from"]
    again = ev.evaluate(ev.EvalJob.from_dict(job.to_dict()), [tmp_path / "b"])
    assert "cached" in again["settings"]["base_from"]
    assert again["base"] == fresh["base"] == first_scores["base"]
    assert [r["base"] for r in read_jsonl(tmp_path / "b" / "predictions.jsonl")] == \
        [r["base"] for r in read_jsonl(first_out / "predictions.jsonl")]
    longer = ev.evaluate(ev.EvalJob(run=str(trained.path), gen=GenParams(max_new_tokens=7, batch_size=4),
                                    settings=METRICS, probe=True, base_cache=str(cache)), [tmp_path / "c"])
    assert "cached" not in longer["settings"]["base_from"] and len(list(cache.glob("base-*.json"))) == 2


def test_base_side_is_exactly_the_plain_base_model(trained, evaluated):
    from workbench import models
    from workbench.generation import answer_questions

    scores, out = evaluated
    rows = read_jsonl(out / "predictions.jsonl")
    # evaluation's precision on a CPU, whatever the run trained in (evaluate.eval_precision)
    model, tok, _ = models.load_model("tiny", precision="fp32", device="cpu")
    plain = answer_questions(model, tok, [r["question"] for r in rows], GEN)
    assert [r["base"] for r in rows] == plain
    assert any(r["tuned"] != r["base"] for r in rows), "training at lr 3e-2 left every answer unchanged"
    nll = ev.answer_nll(model, tok, [{"question": r["question"], "answer": r["reference"]} for r in rows], None)
    assert scores["base"]["perplexity"] == pytest.approx(ev.perplexity(nll), rel=1e-5)
    assert scores["tuned"]["perplexity"] < scores["base"]["perplexity"]  # it learned the answer pattern


def test_answer_nll_scores_only_the_answer_tokens(tiny):
    import torch

    from workbench.formatting import IGNORE, encode_pair

    model, tok = tiny
    pair = {"question": "Which river runs past the mill?", "answer": "The Alder runs past the mill."}
    (total, count), = ev.answer_nll(model, tok, [pair], None)
    ex = encode_pair(tok, pair["question"], pair["answer"])
    with torch.no_grad():
        loss = model(input_ids=torch.tensor([ex["input_ids"]]), labels=torch.tensor([ex["labels"]])).loss
    assert count == sum(label != IGNORE for label in ex["labels"]) < len(ex["input_ids"])
    assert total / count == pytest.approx(float(loss), rel=1e-5)
    assert ev.perplexity([(total, count)]) == pytest.approx(math.exp(float(loss)), rel=1e-5)
    # a batch with a longer neighbour (padding) gives the same numbers
    other = {"question": "Who keeps the keys of the old mill and when is it opened?", "answer": "The miller, daily."}
    (total2, count2), _ = ev.answer_nll(model, tok, [pair, other], None)
    assert (count2, total2) == (count, pytest.approx(total, rel=1e-5))


def test_packed_answer_nll_equals_the_padded_path_and_prefix_models_take_it(tiny):
    from workbench import packing
    from workbench.formatting import encode_pair
    from workbench.methods import METHODS, make_params

    model, tok = tiny
    pairs = [{"question": "Which river runs past the mill?", "answer": "The Alder runs past the mill."},
             {"question": "Who keeps the keys of the old mill?", "answer": "The miller, daily."},
             {"question": "How long is the weir?", "answer": "Forty feet."}]
    packed = ev.answer_nll(model, tok, pairs, None)
    padded = ev._padded_nll(model, tok, [encode_pair(tok, p["question"], p["answer"]) for p in pairs])
    assert [c for _, c in packed] == [c for _, c in padded]
    assert [s for s, _ in packed] == pytest.approx([s for s, _ in padded], rel=1e-5)
    prefix = METHODS["prefix"].build(model, make_params(METHODS["prefix"], {}))
    assert packing.supported(prefix) is not None
    assert [c for _, c in ev.answer_nll(prefix, tok, pairs, None)] == [c for _, c in padded]


def test_forgetting_probe_is_scored_for_both_sides(evaluated):
    from workbench.metrics import load_forgetting_probe

    scores, out = evaluated
    probe = load_forgetting_probe()
    forgetting = scores["forgetting"]
    assert forgetting["n"] == len(probe) > 10
    for side in ("base", "tuned"):
        assert 0.0 <= forgetting[side]["fact_acc"] <= 1.0 and "rougeL" in forgetting[side]
    rows = read_jsonl(out / "forgetting.jsonl")
    assert [r["question"] for r in rows] == [p["question"] for p in probe]
    assert all(r["scores"]["tuned"]["fact_acc"] in (0.0, 1.0) for r in rows)
    hits = [r["scores"]["tuned"]["fact_acc"] for r in rows]
    assert forgetting["tuned"]["fact_acc"] == pytest.approx(sum(hits) / len(hits))


# per-question view and comparison ------------------------------------------------------------------------

def _row(i: int, base: float | None, tuned: float | None) -> dict:
    return {"index": i, "question": f"q{i}", "reference": "r", "base": "b", "tuned": "t",
            "scores": {"base": {"rougeL": base}, "tuned": {"rougeL": tuned}}}


def test_question_changes_puts_biggest_wins_and_losses_first():
    rows = [_row(0, 0.1, 0.2), _row(1, 0.5, 0.1), _row(2, 0.0, 0.9), _row(3, 0.3, 0.3), _row(4, 0.4, 0.3),
            _row(5, None, 0.5)]
    view = eval_results.question_changes(rows, "rougeL")
    assert [r["index"] for r in view["improved"]] == [2, 0]
    assert [r["index"] for r in view["regressed"]] == [1, 4]
    assert [r["index"] for r in view["unchanged"]] == [3]
    assert [r["index"] for r in view["unscored"]] == [5]
    assert view["improved"][0]["delta"] == pytest.approx(0.9)
    # lower perplexity is an improvement
    ppl = [{"index": 0, "scores": {"base": {"ppl": 9.0}, "tuned": {"ppl": 3.0}}}]
    assert eval_results.question_changes(ppl, "ppl")["improved"][0]["delta"] == pytest.approx(6.0)


def test_the_key_fact_judges_a_question_and_rouge_only_where_it_has_none():
    # the tuned answer repeats the reference's words with a wrong year: ROUGE-L calls it a win, the key fact not
    wrong_year = {"index": 0, "scores": {"base": {"rougeL": 0.2, "fact_acc": 0.0},
                                         "tuned": {"rougeL": 0.9, "fact_acc": 0.0}}}
    no_key = {"index": 1, "scores": {"base": {"rougeL": 0.1}, "tuned": {"rougeL": 0.6}}}
    assert [r["index"] for r in eval_results.question_changes([wrong_year], "rougeL")["improved"]] == [0]
    view = eval_results.question_changes([wrong_year, no_key], "fact_acc", fallback="rougeL")
    assert [r["index"] for r in view["unchanged"]] == [0] and [r["index"] for r in view["improved"]] == [1]
    assert eval_results.question_changes([no_key], "fact_acc")["unscored"][0]["index"] == 1


def test_compare_runs_gives_one_row_per_run_and_plot_data(trained, evaluated, tmp_path):
    scores, out = evaluated
    done = RunDir(tmp_path / "done")
    shutil.copytree(trained.path, done.path, ignore=shutil.ignore_patterns("checkpoints"))
    shutil.copytree(out, done.eval_dir, dirs_exist_ok=True)
    fresh = RunDir(tmp_path / "fresh")
    fresh.path.mkdir()
    fresh.write_config({"kind": "train", "train": {"method": "prefix", "model": "tiny"}})
    rows = eval_results.compare_runs([done, fresh])
    assert rows[0]["run"] == "done" and rows[0]["method"] == "lora" and rows[0]["evaluated"]
    assert rows[0]["delta_rougeL"] == pytest.approx(scores["delta"]["rougeL"])
    assert rows[0]["tuned_perplexity"] == pytest.approx(scores["tuned"]["perplexity"])
    assert "forgetting_delta_fact_acc" in rows[0]
    assert rows[1] == {"run": "fresh", "method": "prefix", "model": "tiny", "evaluated": False}
    bars = eval_results.comparison_scores([done, fresh])
    assert list(bars) == ["base: tiny", "done"] and bars["done"]["rougeL"] == scores["tuned"]["rougeL"]
    from workbench.plots import scores_bar_figure

    figure = scores_bar_figure(bars, ["rougeL", "perplexity"])
    assert {trace.name for trace in figure.data} == {"base: tiny", "done"}


# the judge -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("reply, marks", [
    ('{"fluency": 90, "relevance": 80, "accuracy": 40, "reason": "wrong year"}', (90, 80, 40)),
    ('Sure! ```json\n{"Fluency": "85/100", "Relevance": 70.5, "ACCURACY": "3/10"}\n```', (85, 70.5, 30)),
    ("Fluency: 75\nRelevance - 60\n**Accuracy**: 120\nReason: states the river", (75, 60, 100)),
    ('{"note": 1} then {"fluency": -5, "relevance": 50, "accuracy": 50}', (0, 50, 50)),
])
def test_parse_judgement_reads_json_and_loose_text(reply, marks):
    parsed = judge.parse_judgement(reply)
    assert (parsed["fluency"], parsed["relevance"], parsed["accuracy"]) == marks and parsed["parsed"]


def test_parse_judgement_without_marks_is_not_parsed():
    parsed = judge.parse_judgement("I cannot grade this.")
    assert parsed["parsed"] is False and parsed["accuracy"] is None
    assert judge.parse_judgement('{"fluency": 70}')["relevance"] is None


def send_reply(handler: http.server.BaseHTTPRequestHandler, content: str, status: int = 200) -> None:
    """An OpenAI chat completion whose one choice says ``content``."""
    data = json.dumps({"choices": [{"message": {"role": "assistant", "content": content}}]}).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json")
    handler.send_header("Content-Length", str(len(data)))
    handler.end_headers()
    handler.wfile.write(data)


class FakeJudge(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible endpoint: accuracy 100 when the graded answer names the reference's river."""

    requests: ClassVar[list[dict]] = []
    status = 200

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeJudge.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
        prompt = body["messages"][0]["content"]
        graded = prompt.split("Answer to grade:")[1].split("\n")[0]
        accuracy = 100 if "Alder" in graded else 10
        content = f'Here you go: {{"fluency": 80, "relevance": 90, "accuracy": {accuracy}, "reason": "ok"}}'
        send_reply(self, content, FakeJudge.status)

    def log_message(self, *args):
        pass


@pytest.fixture()
def fake_judge():
    FakeJudge.requests, FakeJudge.status = [], 200
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeJudge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


PAIRS = [{"question": "Which river runs past the mill?", "answer": "The Alder."},
         {"question": "Who built the mill?", "answer": "Ada Brook built it in 1820."}]


def test_judge_marks_answers_through_an_openai_compatible_endpoint(fake_judge, monkeypatch):
    monkeypatch.setenv(judge.JUDGE_KEY_ENV, "secret-for-test")
    spec = judge.JudgeSpec.parse(fake_judge + "/v1/", model="grader")
    answers = {"base": ["The Thames.", "Nobody knows."], "tuned": ["The Alder river.", "The Alder family."]}
    summary, marks = judge.run_judge(spec, PAIRS, answers, ev.Progress())
    assert summary["base"]["accuracy"] == 10 and summary["tuned"]["accuracy"] == 100
    assert summary["delta"]["accuracy"] == 90 and summary["tuned"]["fluency"] == 80
    assert summary["tuned"]["unparsed"] == 0 and marks["tuned"][0]["reason"] == "ok"
    assert summary["prompt"] == judge.JUDGE_PROMPT
    first = FakeJudge.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["body"]["model"] == "grader"
    assert first["body"]["temperature"] == 0 and first["auth"] == "Bearer secret-for-test"
    assert "Question: Which river runs past the mill?" in first["body"]["messages"][0]["content"]
    assert "Reference answer: The Alder." in first["body"]["messages"][0]["content"]
    assert len(FakeJudge.requests) == 4


def test_judge_failures_are_reported_not_hidden(fake_judge):
    FakeJudge.status = 500
    summary, marks = judge.run_judge(judge.JudgeSpec(url=fake_judge), PAIRS, {"base": ["a", "b"], "tuned": ["c", "d"]},
                                  ev.Progress())
    assert "HTTP 500" in summary["error"] and marks == {}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    summary, _ = judge.run_judge(judge.JudgeSpec(url=f"http://127.0.0.1:{closed_port}"), PAIRS,
                              {"base": ["a", "b"], "tuned": ["c", "d"]}, ev.Progress())
    assert "cannot reach the judge" in summary["error"]


def test_local_judge_model_is_asked_and_unreadable_replies_are_counted(tiny_path):
    answers = {"base": ["a", "b"], "tuned": ["c", "d"]}
    summary, marks = judge.run_judge(judge.JudgeSpec(model=tiny_path), PAIRS, answers, ev.Progress())
    assert summary["judge"] == f"local model {tiny_path}" and "error" not in summary
    # the random tiny model writes no marks: every reply is counted as unparsed, no mark is invented
    assert summary["tuned"]["unparsed"] == 2 and summary["tuned"]["accuracy"] is None
    assert len(marks["base"]) == 2 and all(m["parsed"] is False for m in marks["base"])


def test_judge_spec_parsing():
    assert judge.JudgeSpec.parse("smollm2") == judge.JudgeSpec(model="smollm2")
    assert judge.JudgeSpec.parse("https://example.org/v1", "m").url == "https://example.org/v1"
    assert chat_url("http://h:8000/v1/") == "http://h:8000/v1/chat/completions"
    assert chat_url("http://h:8000") == "http://h:8000/v1/chat/completions"
    with pytest.raises(ev.EvalError, match="only http:// and https://"):
        judge.JudgeSpec.parse("ftp://h/v1")


def test_full_fine_tune_loads_its_base_separately(trained, tmp_path):
    from workbench import models
    from workbench.generation import answer_questions

    ws = Workspace(tmp_path / "ws")
    data = Path(json.loads(trained.config_file.read_text())["train"]["data"])
    full = train_tiny(ws, data, "full-run", method="full", max_steps=6, learning_rate=1e-2, method_params={})
    scores = ev.evaluate(ev.EvalJob(run=str(full.path), gen=GEN, settings=METRICS, limit=3, probe=False))
    assert scores["settings"]["base_from"].startswith("separate load")  # its answers may be reused: same fp32 base
    rows = read_jsonl(full.eval_dir / "predictions.jsonl")
    model, tok, _ = models.load_model("tiny", precision="fp32", device="cpu")
    assert [r["base"] for r in rows] == answer_questions(model, tok, [r["question"] for r in rows], GEN)
    assert scores["tuned"]["perplexity"] != scores["base"]["perplexity"]


# the job ----------------------------------------------------------------------------------------------------

def copy_run(trained: RunDir, ws: Workspace, run_id: str) -> RunDir:
    target = RunDir(ws.runs / run_id)
    shutil.copytree(trained.path, target.path, ignore=shutil.ignore_patterns("checkpoints", "eval"))
    return target


def test_eval_job_runs_in_the_worker_and_writes_both_folders(trained, workspace):
    train_run = copy_run(trained, workspace, "trained-copy")
    run = launch.start_eval(workspace, train_run.id, None, gen=GenParams(max_new_tokens=4), settings=METRICS, limit=3,
                        probe=False)
    assert jobs.wait(run, timeout=240) == "finished", run.log_tail(40)
    config = run.read_config()
    assert config["kind"] == "eval" and config["eval"]["run"] == str(train_run.path)
    scores = json.loads((train_run.eval_dir / "scores.json").read_text())
    assert scores["n"] == 3 and scores["data"] == "pairs the run held out from training"
    assert json.loads((run.eval_dir / "scores.json").read_text()) == scores
    assert len(read_jsonl(train_run.eval_dir / "predictions.jsonl")) == 3
    status = run.read_status()
    assert status["step"] == status["total_steps"] == 6
    assert status["result"]["delta"]["rougeL"] == pytest.approx(scores["delta"]["rougeL"])


def test_start_eval_refuses_bad_requests_before_launching(trained, workspace, tmp_path):
    train_run = copy_run(trained, workspace, "trained-copy")
    untrained = jobs.create_run(workspace, "train", {"train": {"model": "tiny"}}, run_id="untrained")
    with pytest.raises(ev.EvalError, match="has no saved model yet"):
        launch.eval_job(workspace, untrained.id)
    with pytest.raises(FileNotFoundError, match="no dataset 'nowhere'"):
        launch.eval_job(workspace, train_run.id, "nowhere")
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(ev.EvalError, match="holds no question/answer pairs"):
        launch.eval_job(workspace, train_run.id, str(empty))
    no_test = write_qa_dataset(tmp_path / "no-test", n_test=0)
    with pytest.raises(ev.EvalError, match="has no test split"):
        launch.eval_job(workspace, train_run.id, str(no_test))
    with pytest.raises(ev.EvalError, match="unknown bleu5"):
        launch.eval_settings("bleu4,bleu5")
    assert not [p for p in workspace.list_runs() if RunDir(p).read_config()["kind"] == "eval"]


# CLI ----------------------------------------------------------------------------------------------------

def cli(*args: str, home: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    """python -m workbench with the eval/chat/gate commands registered."""
    env = {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(ROOT)}
    code = "import sys; from workbench.__main__ import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=home.parent, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


@pytest.fixture(scope="module")
def cli_home(trained, tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("cli") / "ws"
    ws = Workspace(home)
    copy_run(trained, ws, "tuned")
    jobs.create_run(ws, "train", {"train": {"model": "tiny"}}, run_id="untrained")
    write_qa_dataset(ws.datasets / "districts")
    return home


@pytest.mark.parametrize("args, needle", [
    (["eval"], "--run is required"),
    (["eval", "--run", "nope"], "no run 'nope'"),
    (["eval", "--run", "untrained"], "has no saved model yet"),
    (["eval", "--run", "tuned", "--metrics", "bleu4,bleu5"], "unknown bleu5"),
    (["eval", "--run", "tuned", "--judge", "ftp://host/v1"], "only http:// and https://"),
    (["eval", "--run", "tuned", "--data", "missing.jsonl"], "no dataset 'missing.jsonl'"),
    (["eval", "--run", "tuned", "--max-new-tokens", "0"], "max_new_tokens: 0 is below the minimum 1"),
    (["eval", "--run", "tuned", "--temperature", "warm"], "temperature: cannot read 'warm'"),
    (["eval", "--run", "tuned", "--limit", "some"], "not a whole number"),
    (["eval", "--run", "tuned", "--serve-model", "tuned"], "need --serve-url"),
    (["eval", "--run", "tuned", "--serve-url", "ftp://host/v1", "--serve-model", "t"], "must start with http"),
    (["eval", "--run", "tuned", "--serve-url", "http://127.0.0.1:9/v1"], "name the tuned model"),
    (["eval", "--run", "tuned", "--serve-url", "http://127.0.0.1:9/v1", "--serve-model", "t", "--num-beams", "2"],
     "beam search"),
    (["eval", "--run", "tuned", "--serve-url", "http://127.0.0.1:9/v1", "--serve-model", "t", "--parity", "x"],
     "0 = no parity check"),
    (["chat", "hello"], "give --run RUN"),
    (["chat", "--run", "tuned", "--gate", "hello"], "has no topic gate"),
    (["chat", "--model", "tiny", "--base", "hello"], "--base needs --run"),
    (["chat", "--run", "untrained", "hello"], "has no saved model yet"),
    (["gate"], "--data is required"),
    (["gate", "--data", "nowhere"], "no dataset 'nowhere'"),
    (["gate", "--data", "districts", "--threshold", "2"], "not between 0 and 1"),
])
def test_cli_refuses_bad_input_with_one_clear_line(cli_home, args, needle):
    result = cli(*args, home=cli_home)
    assert result.returncode == 2, result.stdout + result.stderr
    assert needle in result.stderr and "Traceback" not in result.stderr


def test_cli_evaluates_in_the_foreground_and_prints_the_table(cli_home):
    result = cli("eval", "--run", "tuned", "--data", "districts", "--limit", "2", "--max-new-tokens", "4",
                 "--no-probe", "--metrics", "bleu4,rouge", home=cli_home)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 questions (test split of districts)" in result.stdout
    table = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines() if line.strip()}
    assert {"bleu4", "rougeL", "perplexity"} <= set(table) and len(table["rougeL"]) == 3
    shown = cli("eval", "--compare", "tuned", "untrained", home=cli_home)
    assert shown.returncode == 0 and "not evaluated yet" in shown.stdout and "lora" in shown.stdout


def test_cli_gate_then_gated_chat_refuses_off_topic(cli_home):
    fitted = cli("gate", "--run", "tuned", home=cli_home)
    assert fitted.returncode == 0, fitted.stderr
    assert "precision" in fitted.stdout and "confusion" in fitted.stdout
    assert (cli_home / "runs" / "tuned" / "gate" / "gate.json").exists()
    from workbench.gate import DEFAULT_REFUSAL

    refused = cli("chat", "--run", "tuned", "--gate", "What is the capital of France?", home=cli_home)
    assert refused.returncode == 0, refused.stderr
    assert refused.stdout.strip() == DEFAULT_REFUSAL


def test_the_base_models_answers_are_asked_once_and_reused_by_later_evaluations(trained, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_BASE_ANSWERS", str(tmp_path / "kept"))
    job = ev.EvalJob(run=str(trained.path), gen=GEN, settings=METRICS, probe=True)
    first = ev.evaluate(job, [tmp_path / "a"])
    assert first["settings"]["base_answers_reused"] == 0 and len(list((tmp_path / "kept").glob("*.json"))) == 1
    scored = []
    answer_nll = ev.answer_nll
    monkeypatch.setattr(ev, "answer_nll", lambda model, tok, pairs, *a: scored.append(len(pairs)) or
                        answer_nll(model, tok, pairs, *a))
    again = ev.evaluate(ev.EvalJob.from_dict(job.to_dict()), [tmp_path / "b"])
    assert scored == [again["n"]]  # the tuned side's references only: the base side's NLLs were kept too
    questions = again["n"] + len(read_jsonl(tmp_path / "b" / "forgetting.jsonl"))
    assert again["settings"]["base_answers_reused"] == questions > 0
    assert [r["base"] for r in read_jsonl(tmp_path / "b" / "predictions.jsonl")] == \
        [r["base"] for r in read_jsonl(tmp_path / "a" / "predictions.jsonl")]
    assert again["base"] == first["base"]
    # other generation settings are other answers: nothing is reused
    other = ev.evaluate(ev.EvalJob(run=str(trained.path), gen=GenParams(max_new_tokens=7, batch_size=4),
                                   settings=METRICS, probe=True), [tmp_path / "c"])
    assert other["settings"]["base_answers_reused"] == 0 and len(list((tmp_path / "kept").glob("*.json"))) == 2


def test_folding_lora_into_the_weights_for_answers_changes_no_answer(trained):
    import torch

    from workbench.generation import answer_questions
    from workbench.methods.common import adapters_disabled, merge_lora_for_answers
    from workbench.methods.loading import load_tuned

    questions = [p["question"] for p in PAIRS] + ["Where does the Alder rise?", "What is a district?"]
    tuned = load_tuned(trained.path, precision="fp32")
    ids = tuned.tokenizer(questions[1], return_tensors="pt")["input_ids"]
    with torch.inference_mode():
        with adapters_disabled(tuned.model):
            base = tuned.model(input_ids=ids).logits
        before = tuned.model(input_ids=ids).logits
        answers = answer_questions(tuned.model, tuned.tokenizer, questions, GEN)
        assert (before - base).abs().max() > 1e-3  # the adapter matters to what is compared
        assert merge_lora_for_answers(tuned.model)
        after = tuned.model(input_ids=ids).logits
    assert torch.allclose(before, after, atol=1e-4)
    assert answer_questions(tuned.model, tuned.tokenizer, questions, GEN) == answers
    assert not merge_lora_for_answers(torch.nn.Linear(2, 2))


def test_beam_search_is_a_decoding_setting_of_evaluation_and_chat_greedy_by_default():
    from workbench.cli import build_parser
    from workbench.cli.eval import gen_from_args

    assert ev.EvalJob(run="r").gen.num_beams == 1
    job = ev.EvalJob.from_dict({"run": "r", "gen": {"num_beams": "2"}})
    assert job.gen.num_beams == 2 and ev.EvalJob.from_dict(job.to_dict()).gen.num_beams == 2
    parser = build_parser()
    assert gen_from_args(parser.parse_args(["eval", "--run", "x"])).num_beams == 1
    assert gen_from_args(parser.parse_args(["eval", "--run", "x", "--num-beams", "3"])).num_beams == 3
    assert gen_from_args(parser.parse_args(["chat", "hello", "--num-beams", "2"])).num_beams == 2
    with pytest.raises(Exception, match="num_beams"):
        GenParams(num_beams=0)


# answers from a serving engine -------------------------------------------------------------------------

class FakeServer(http.server.BaseHTTPRequestHandler):
    """An OpenAI-compatible server such as `vllm serve`: each model name answers from its own table."""

    replies: ClassVar[dict[str, dict[str, str]]] = {}
    requests: ClassVar[list[dict]] = []

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        FakeServer.requests.append({"body": body, "auth": self.headers.get("Authorization")})
        question = body["messages"][-1]["content"]
        send_reply(self, FakeServer.replies[body["model"]].get(question, "no idea"))

    def log_message(self, *args):
        pass


@pytest.fixture()
def fake_server():
    FakeServer.requests = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_a_serving_engine_answers_with_the_same_requests_and_a_parity_check_counts_its_differences(
        trained, fake_server, tmp_path, monkeypatch):
    from workbench.served import API_KEY_ENV, ServeSpec

    local = ev.evaluate(ev.EvalJob(run=str(trained.path), gen=GEN, settings=METRICS, probe=False), [tmp_path / "a"])
    rows = read_jsonl(tmp_path / "a" / "predictions.jsonl")
    questions = [r["question"] for r in rows]
    served = {r["question"]: r["tuned"] for r in rows}
    served[questions[1]] = "An answer the local model never gave."
    FakeServer.replies = {"tuned-lora": served, "base": {q: f"base: {q}" for q in questions}}
    monkeypatch.setenv(API_KEY_ENV, "serve-secret")

    spec = ServeSpec(url=fake_server, tuned_model="tuned-lora", parity=6)
    scores = ev.evaluate(ev.EvalJob(run=str(trained.path), gen=GEN, settings=METRICS, probe=False, serve=spec),
                         [tmp_path / "b"])
    got = read_jsonl(tmp_path / "b" / "predictions.jsonl")
    assert [r["tuned"] for r in got] == [served[q] for q in questions]
    assert [r["base"] for r in got] == [r["base"] for r in rows], "the base side is the local model's"
    assert scores["base"]["perplexity"] == local["base"]["perplexity"], "perplexity stays the local model's"
    parity = scores["settings"]["served"]["tuned"]
    assert (parity["checked"], parity["same"]) == (6, 5) and parity["differ"][0]["question"] == questions[1]
    assert "base" not in scores["settings"]["served"]
    body = FakeServer.requests[0]["body"]
    assert body["model"] == "tuned-lora" and body["max_tokens"] == GEN.max_new_tokens
    assert body["temperature"] == 0 and body["repetition_penalty"] == GEN.repetition_penalty
    assert body["messages"][-1]["role"] == "user" and FakeServer.requests[0]["auth"] == "Bearer serve-secret"
    assert len(FakeServer.requests) == 6

    FakeServer.requests = []
    both = ServeSpec(url=fake_server, tuned_model="tuned-lora", base_model="base", parity=0)
    cache = tmp_path / "base-cache"
    scores = ev.evaluate(ev.EvalJob(run=str(trained.path), gen=GEN, settings=METRICS, probe=False, serve=both,
                                    base_cache=str(cache)), [tmp_path / "c"])
    got = read_jsonl(tmp_path / "c" / "predictions.jsonl")
    assert [r["base"] for r in got] == [f"base: {q}" for q in questions]
    assert scores["settings"]["served"]["base"]["checked"] == 0 and len(FakeServer.requests) == 12
    assert not cache.exists() or not any(cache.iterdir()), "served base answers must not be cached as local ones"


def test_a_serving_engine_that_is_down_fails_the_evaluation_with_what_to_check(trained, tmp_path):
    from workbench.endpoint import EndpointError
    from workbench.served import ServeSpec

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    spec = ServeSpec(url=f"http://127.0.0.1:{port}/v1", tuned_model="tuned")
    with pytest.raises(EndpointError, match="cannot connect"):
        ev.evaluate(ev.EvalJob(run=str(trained.path), gen=GEN, settings=METRICS, probe=False, serve=spec),
                    [tmp_path / "x"])


def test_a_served_evaluation_survives_its_trip_through_the_run_folder(trained):
    from workbench.served import ServeSpec

    job = ev.EvalJob(run=str(trained.path), gen=GEN, serve=ServeSpec(url="http://127.0.0.1:8000/v1",
                                                                     tuned_model="t", base_model="b", parity=3))
    again = ev.EvalJob.from_dict(json.loads(json.dumps(job.to_dict())))
    assert again.serve == job.serve
    assert ev.EvalJob.from_dict(ev.EvalJob(run=str(trained.path)).to_dict()).serve is None
