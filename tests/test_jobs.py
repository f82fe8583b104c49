"""Background runs on the tiny model: finish, stop, resume, crash detection, queueing, CLI errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import tiny_train_config, wait_until, write_qa_dataset

from workbench import jobs
from workbench.workspace import Workspace
from workbench.__main__ import main
from workbench.rundir import RunDir

ROOT = Path(__file__).resolve().parent.parent


def steps_logged(run: RunDir, split: str = "train") -> list[int]:
    records, _ = run.read_metrics(0)
    return [r["step"] for r in records if r.get("split") == split]


def test_run_finishes_in_background_and_writes_its_folder(workspace, tmp_path):
    data = write_qa_dataset(tmp_path / "ds")
    run = jobs.create_run(workspace, "train", {"train": tiny_train_config(data)})
    jobs.start(run)
    assert jobs.wait(run, timeout=180) == "finished", run.log_tail()
    status = run.read_status()
    assert status["step"] == 8 and status["result"]["trainable_params"] > 0
    assert (run.adapter / "adapter_config.json").exists()
    assert steps_logged(run, "eval") and steps_logged(run)
    row = jobs.describe(run)
    assert row["state"] == "finished" and row["method"] == "lora"


def test_stop_then_resume_continues_without_repeating_steps(workspace, tmp_path):
    data = write_qa_dataset(tmp_path / "ds")
    cfg = tiny_train_config(data, max_steps=150, eval_steps=50, save_steps=1000)
    run = jobs.create_run(workspace, "train", {"train": cfg})
    jobs.start(run)
    wait_until(lambda: (run.read_status().get("step") or 0) >= 5, poll=0.05)
    jobs.stop(run)
    assert jobs.wait(run, timeout=120) == "stopped"
    stopped_at = run.read_status()["step"]
    assert stopped_at < 150 and (run.adapter / "adapter_config.json").exists()
    assert run.last_checkpoint().name == f"checkpoint-{stopped_at}"

    jobs.resume(run)
    assert jobs.wait(run, timeout=240) == "finished", run.log_tail()
    steps = steps_logged(run)
    assert steps == sorted(set(steps)), "a step was trained twice"
    assert max(steps) == 150 and min(s for s in steps if s > stopped_at) == stopped_at + 1


def test_killed_worker_is_reported_as_crashed_with_its_log(workspace, tmp_path):
    data = write_qa_dataset(tmp_path / "ds")
    run = jobs.create_run(workspace, "train", {"train": tiny_train_config(data, max_steps=2000)})
    jobs.start(run)
    wait_until(lambda: (run.read_status().get("step") or 0) >= 3)
    os.kill(run.read_status()["pid"], signal.SIGKILL)
    assert wait_until(lambda: run.effective_state() == "crashed", timeout=30)
    assert "lora on tiny" in run.log_tail(200)
    assert jobs.describe(run)["state"] == "crashed"
    jobs.resume(run)  # a crashed run resumes like a stopped one
    jobs.stop(run)
    assert jobs.wait(run, timeout=120) in ("stopped", "finished")


def test_second_job_waits_in_queue_until_the_first_ends(workspace, tmp_path):
    data = write_qa_dataset(tmp_path / "ds")
    first = jobs.create_run(workspace, "train", {"train": tiny_train_config(data, max_steps=60)}, run_id="a-first")
    second = jobs.create_run(workspace, "train", {"train": tiny_train_config(data, max_steps=4)}, run_id="b-second")
    jobs.start(first)
    wait_until(lambda: first.read_status().get("state") == "running")
    jobs.start(second)
    wait_until(lambda: second.read_status().get("pid"))
    time.sleep(1.0)
    assert second.read_status()["state"] == "queued"
    assert jobs.accelerator_busy(workspace.runs)  # what chat asks before taking every core
    assert jobs.wait(first, timeout=180) == "finished"
    assert jobs.wait(second, timeout=180) == "finished"
    assert not jobs.accelerator_busy(workspace.runs)
    assert second.read_status()["started_at"] >= first.read_status()["finished_at"]


def test_a_queued_job_can_be_stopped_before_it_starts(workspace, tmp_path):
    data = write_qa_dataset(tmp_path / "ds")
    first = jobs.create_run(workspace, "train", {"train": tiny_train_config(data, max_steps=200)}, run_id="a")
    second = jobs.create_run(workspace, "train", {"train": tiny_train_config(data)}, run_id="b")
    jobs.start(first)
    wait_until(lambda: first.read_status().get("state") == "running")
    jobs.start(second)
    wait_until(lambda: second.read_status().get("pid"))
    jobs.stop(second)
    assert jobs.wait(second, timeout=30) == "stopped"
    assert not second.adapter.exists()
    jobs.stop(first)
    jobs.wait(first, timeout=120)


def cli(*args: str, cwd: Path, env_home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "WORKBENCH_HOME": str(env_home), "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "workbench", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


@pytest.mark.parametrize("extra, needle", [
    (["--method", "telepathy"], "unknown method 'telepathy'"),
    (["--model", "no-such-alias"], "unknown model 'no-such-alias'"),
    (["--model", "./missing/folder"], "does not exist"),
    (["--learning-rate", "-1"], "learning_rate: -1.0 is below the minimum"),
    (["--batch-size", "lots"], "batch_size: cannot read 'lots'"),
    (["--optimizer", "paged_adamw_8bit"], "needs a CUDA GPU"),
    (["--set", "rank=0"], "rank: 0 is below the minimum 1"),
    (["--set", "targets=not_a_layer"], "not in this model"),
])
def test_cli_refuses_bad_input_with_a_clear_message(workspace, tmp_path, capsys, extra, needle):
    data = write_qa_dataset(tmp_path / "ds")
    code = main(["train", "--data", str(data), "--model", "tiny", "--max-steps", "2", *extra])
    err = capsys.readouterr().err
    assert code == 2, err
    assert needle in err and err.startswith("error: ")
    assert not list(workspace.runs.iterdir()), "a refused run must not leave a run folder behind"


def test_cli_refuses_an_alias_whose_model_package_is_missing(workspace, tmp_path, capsys, monkeypatch):
    # qlora previews nothing on the meta device, so only the up-front resolve can catch the missing package
    from workbench import models

    monkeypatch.setitem(models.ALIASES, "absent", lambda: models._package_dir("no_such_pkg", "no-such-pkg"))
    data = write_qa_dataset(tmp_path / "ds")
    assert main(["train", "--data", str(data), "--model", "absent", "--method", "qlora", "--max-steps", "2"]) == 2
    assert "the model package 'no-such-pkg' is not installed" in capsys.readouterr().err
    assert not list(workspace.runs.iterdir())


def test_cli_refuses_empty_or_missing_data(workspace, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    assert main(["train", "--data", str(empty), "--model", "tiny"]) == 2
    assert "no question/answer pairs" in capsys.readouterr().err
    assert main(["train", "--data", "nowhere", "--model", "tiny"]) == 2
    assert "no dataset 'nowhere'" in capsys.readouterr().err


def test_cli_trains_in_the_foreground_and_lists_the_run(tmp_path):
    data = write_qa_dataset(tmp_path / "ds")
    home = tmp_path / "ws"
    result = cli("train", "--data", str(data), "--model", "tiny", "--max-steps", "6", "--set", "rank=2",
                 "--run-dir", "cli-run", cwd=tmp_path, env_home=home)
    assert result.returncode == 0, result.stderr + result.stdout
    assert "finished" in result.stdout
    listing = cli("runs", "list", cwd=tmp_path, env_home=home)
    assert "cli-run" in listing.stdout and "finished" in listing.stdout
    shown = cli("runs", "show", "cli-run", cwd=tmp_path, env_home=home)
    assert '"rank": 2' in shown.stdout


def test_two_resumes_at_once_start_one_worker(tmp_path, monkeypatch):
    """The state check and the launch happen under the run's lock: of two simultaneous resumes of a stopped
    run, one starts a worker and the other is refused."""
    import threading

    from workbench import jobs
    from workbench.rundir import RunDir

    run = RunDir(tmp_path / "runs" / "r1")
    run.path.mkdir(parents=True)
    run.write_config({"kind": "train", "train": {}})
    run.write_status(state="stopped", pid=None)
    launched = []

    class FakeProc:
        def __init__(self, pid):
            self.pid = pid

        def poll(self):
            return None

    def fake_popen(cmd, **kwargs):
        pid = os.getpid()  # a live process, as the worker would be
        launched.append(pid)
        time.sleep(0.3)  # the worker takes a moment to announce itself
        run.write_status(state="queued", pid=pid)
        return FakeProc(pid)

    monkeypatch.setattr(jobs.subprocess, "Popen", fake_popen)
    outcomes = []

    def resume():
        try:
            outcomes.append(jobs.resume(run))
        except jobs.JobError as exc:
            outcomes.append(str(exc))

    threads = [threading.Thread(target=resume) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(launched) == 1
    assert sum(isinstance(o, int) for o in outcomes) == 1 and any("cannot be resumed" in str(o) for o in outcomes)


def test_a_launch_cut_short_before_its_config_does_not_block_the_run_name(workspace, tmp_path):
    data = write_qa_dataset(tmp_path / "ds")
    (workspace.runs / "cut-short").mkdir(parents=True)  # killed between mkdir and config.json
    run = jobs.create_run(workspace, "train", {"train": tiny_train_config(data)}, run_id="cut-short")
    assert run.exists() and run.read_status()["state"] == "queued"
    with pytest.raises(jobs.JobError, match="already exists"):
        jobs.create_run(workspace, "train", {"train": tiny_train_config(data)}, run_id="cut-short")


def test_a_full_disk_does_not_erase_why_a_run_failed(workspace, tmp_path, monkeypatch):
    import errno

    from workbench import worker
    from workbench.rundir import RunDir

    run = jobs.create_run(workspace, "train", {"train": tiny_train_config(tmp_path / "no-such-dataset")})
    real_write = RunDir.write_status

    def full_disk(self, **fields):
        if fields.get("state") == "failed":
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, **fields)

    monkeypatch.setattr(RunDir, "write_status", full_disk)
    assert worker.run(run.path) == 1
    status = RunDir(run.path).read_status()
    assert status["state"] == "failed" and "does not exist" in status["error"]["message"]
    assert status["error"]["kind"]
    # a resume clears the old failure: the reserve is blank again
    RunDir(run.path).reserve_failure_space()
    assert RunDir(run.path).reserved_failure() is None


def test_single_gpu_jobs_take_a_free_gpu_each_and_a_multi_gpu_job_waits_for_all_it_needs(tmp_path, monkeypatch):
    """Fake GPU ids: two single-GPU jobs run side by side, a third waits, and a two-GPU job waits for GPUs 0
    and 1 together."""
    from workbench.jobs import AcceleratorLock, gpu_ids

    monkeypatch.setenv("WORKBENCH_GPUS", "0,1")
    gpu_ids.cache_clear()
    try:
        ws = Workspace(tmp_path / "ws")
        runs = {name: jobs.create_run(ws, "train", {"train": {"data": "x", "devices": n}}, run_id=name)
                for name, n in (("a", 1), ("b", 1), ("c", 1), ("d", 2))}
        locks = {name: AcceleratorLock.default(run) for name, run in runs.items()}
        assert locks["a"].try_acquire(runs["a"]) and locks["a"].devices == ["0"]
        assert locks["b"].try_acquire(runs["b"]) and locks["b"].devices == ["1"]
        assert not locks["c"].try_acquire(runs["c"]) and not locks["d"].try_acquire(runs["d"])
        assert jobs.accelerator_busy(ws.runs)
        locks["a"].release()
        assert not locks["d"].try_acquire(runs["d"]) and locks["d"].devices == []  # GPU 1 is still taken
        assert locks["c"].try_acquire(runs["c"]) and locks["c"].devices == ["0"]
        locks["b"].release()
        locks["c"].release()
        assert locks["d"].try_acquire(runs["d"]) and locks["d"].devices == ["0", "1"]
        locks["d"].release()
        assert not jobs.accelerator_busy(ws.runs)
    finally:
        gpu_ids.cache_clear()


def test_a_run_under_evaluation_is_not_deleted_and_a_deleted_run_is_not_recreated(tmp_path):
    from workbench import evaluate

    tuned = RunDir(tmp_path / "runs" / "tuned")
    tuned.path.mkdir(parents=True)
    tuned.write_config({"kind": "train", "train": {}})
    tuned.write_status(state="finished")
    checker = RunDir(tmp_path / "runs" / "eval-tuned")
    checker.path.mkdir()
    checker.write_config({"kind": "eval", "eval": {"run": str(tuned.path)}})
    checker.write_status(state="running", pid=os.getpid())  # a live process, as the evaluation would be
    with pytest.raises(jobs.JobError, match="being evaluated by eval-tuned"):
        jobs.delete(tuned)
    assert tuned.path.is_dir()
    checker.write_status(state="finished", pid=None)
    jobs.delete(tuned)
    # an evaluation that outlives its run writes only its own copy
    scores = {"created_at": 1.0}
    assert evaluate.write_everywhere([tuned.eval_dir, checker.eval_dir], scores, [{"q": 1}], []) == 1
    assert not tuned.path.exists() and (checker.eval_dir / "scores.json").is_file()
