"""Layer-1 pieces: config validation and coercion, the run folder's files, workspace names."""

from __future__ import annotations

import json
import sys

import pytest

from workbench.config import PRESETS, ConfigError, GenParams, TrainConfig, coerce, from_dict
from workbench.rundir import RunDir, atomic_write_json
from workbench.workspace import Workspace, check_name


def test_train_config_coerces_cli_strings():
    cfg = from_dict(TrainConfig, {"learning_rate": "5e-4", "epochs": "2", "gradient_checkpointing": "true",
                                  "batch_size": "8", "lr_scheduler": "linear"})
    assert cfg.learning_rate == 5e-4 and cfg.epochs == 2.0 and cfg.gradient_checkpointing is True
    assert cfg.batch_size == 8


@pytest.mark.parametrize("bad, needle", [
    ({"batch_size": 0}, "batch_size: 0 is below the minimum 1"),
    ({"learning_rate": "fast"}, "cannot read 'fast'"),
    ({"lr_scheduler": "zigzag"}, "lr_scheduler: 'zigzag' is not one of"),
    ({"max_steps": 0}, "max_steps: 0 would train nothing"),
    ({"warmup_ratio": 0.9}, "above the maximum 0.5"),
    ({"nonsense": 1}, "unknown setting(s) for TrainConfig: nonsense"),
    ({"gradient_checkpointing": "maybe"}, "is not a boolean"),
])
def test_train_config_refuses_nonsense(bad, needle):
    with pytest.raises(ConfigError) as err:
        from_dict(TrainConfig, bad)
    assert needle in str(err.value)


def test_coerce_optional_none_and_lists():
    assert coerce("none", float | None, "x") is None
    assert coerce("q_proj,v_proj", list[str], "x") == ["q_proj", "v_proj"]


def test_presets_are_valid_train_configs():
    for name, preset in PRESETS.items():
        fields = {k: v for k, v in preset.items()}
        assert from_dict(TrainConfig, fields).method == preset["method"], name


def test_gen_params_ranges():
    with pytest.raises(ConfigError):
        GenParams(temperature=5.0)


def test_metrics_are_read_incrementally_and_half_lines_wait(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.append_metric({"step": 1, "loss": 2.0})
    records, offset = run.read_metrics(0)
    assert [r["step"] for r in records] == [1]
    with open(run.metrics_file, "a") as fh:
        fh.write('{"step": 2, "lo')  # a writer in the middle of a line
    more, offset2 = run.read_metrics(offset)
    assert more == [] and offset2 == offset
    with open(run.metrics_file, "a") as fh:
        fh.write('ss": 1.5}\n')
    more, offset3 = run.read_metrics(offset2)
    assert more == [{"step": 2, "loss": 1.5}] and offset3 > offset2


def test_atomic_write_leaves_no_temp_files(tmp_path):
    target = tmp_path / "status.json"
    atomic_write_json(target, {"a": 1})
    atomic_write_json(target, {"a": 2})
    assert json.loads(target.read_text()) == {"a": 2}
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]


def test_running_run_with_dead_pid_shows_as_crashed(tmp_path):
    run = RunDir(tmp_path / "r")
    run.path.mkdir()
    run.write_status(state="running", pid=2**22 + 12345)  # above pid_max on Linux: never alive
    assert run.effective_state() == "crashed"


def test_names_cannot_escape_the_workspace(tmp_path):
    with pytest.raises(ValueError):
        check_name("../etc")
    with pytest.raises(ValueError):
        check_name("a/b")
    ws = Workspace(tmp_path)
    with pytest.raises(FileNotFoundError):
        ws.run_path("no-such-run")


@pytest.mark.parametrize("given,expected", [(None, "PASSIVE"), ("ACTIVE", "ACTIVE")])
def test_importing_workbench_makes_openmp_threads_wait_passively_unless_told(given, expected):
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    if given:
        env["OMP_WAIT_POLICY"] = given
    out = subprocess.run([sys.executable, "-c", "import os, workbench; print(os.environ['OMP_WAIT_POLICY'])"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


@pytest.mark.parametrize("given,expected", [(None, "unset"), ("ACTIVE", "ACTIVE"), ("PASSIVE", "PASSIVE")])
def test_a_worker_gets_the_users_openmp_wait_policy_or_none(given, expected):
    """The launcher waits passively; the worker it starts computes alone and must not inherit that."""
    import json
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "WORKBENCH_USER_OMP_WAIT_POLICY")}
    if given:
        env["OMP_WAIT_POLICY"] = given
    code = ("import json, os, workbench, workbench.jobs as j; e = dict(os.environ); j._worker_omp_policy(e); "
            "print(os.environ['OMP_WAIT_POLICY']); print(json.dumps(e))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    launcher, worker_env = out.stdout.splitlines()
    assert launcher == (given or "PASSIVE")
    # the worker's process imports workbench before torch loads OpenMP: what it sees then is what it runs with
    code = "import os, workbench; print(os.environ.get('OMP_WAIT_POLICY', 'unset'))"
    seen = subprocess.run([sys.executable, "-c", code], env=json.loads(worker_env), capture_output=True, text=True,
                          check=True)
    assert seen.stdout.strip() == expected


def test_progress_in_a_log_file_is_one_line_per_change_without_carriage_returns(capsys):
    from workbench.cli.commands import ProgressLine

    line = ProgressLine()
    for text, key in [("step 1", 1), ("step 1 (ETA 0:09)", 1), ("step 2", 2), ("step 2", 2), ("done", 3)]:
        line.show(text, key)
    out = capsys.readouterr().out
    assert "\r" not in out and out.splitlines() == ["step 1", "step 2", "done"]


def test_a_torn_metrics_line_is_skipped_not_fatal(tmp_path):
    """A crash mid-write followed by a resumed worker appending leaves a corrupt middle line; the records
    around it still read, and a half-written last line waits for the next read."""
    from workbench.rundir import RunDir

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.metrics_file.write_bytes(b'{"step": 1, "loss": 2.0}\n{"step": 2, "lo{"step": 3, "loss": 1.0}\n'
                                 b'[1, 2]\n{"step": 4, "loss": 0.5}\n{"step": 5, "lo')
    records, offset = run.read_metrics(0)
    assert [r["step"] for r in records] == [1, 4]
    assert offset == run.metrics_file.stat().st_size - len(b'{"step": 5, "lo')
    assert [r["step"] for r in run.tail_metrics()] == [1, 4]


def test_names_with_a_trailing_newline_are_refused():
    from workbench.workspace import check_name

    with pytest.raises(ValueError):
        check_name("data\n")
    assert check_name("data-1") == "data-1"


def test_a_reused_pid_does_not_keep_a_dead_run_running(tmp_path):
    """Crash detection compares the recorded start time: a live process that took over the pid is not the
    worker, so the run shows as crashed instead of running forever."""
    import os

    from workbench.rundir import RunDir, process_started

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    me, started = os.getpid(), process_started(os.getpid())
    run.write_status(state="running", pid=me, pid_started=started)
    assert run.effective_state() == "running"
    run.write_status(state="running", pid=me, pid_started=started - 3600)  # the worker started an hour ago
    assert run.effective_state() == "crashed"
    run.write_status(state="running", pid=me, pid_started=None)  # a run written before start times
    assert run.effective_state() == "running"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the kernel's start ticks are read from /proc")
def test_a_step_of_the_wall_clock_does_not_make_a_live_worker_look_crashed(tmp_path):
    """A virtual machine restored from a snapshot (or an NTP step, or a laptop's resume) moves the wall clock and
    with it every process's start time in seconds since the epoch; the kernel's start tick does not move."""
    import os

    from workbench.rundir import RunDir, process_identity, process_started

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    me = os.getpid()
    identity, started = process_identity(me), process_started(me)
    assert identity and identity == process_identity(me)
    run.write_status(state="running", pid=me, pid_started=started - 3600, pid_identity=identity)  # clock stepped
    assert run.effective_state() == "running"
    boot, tick = identity.rsplit(":", 1)
    run.write_status(state="running", pid=me, pid_started=started, pid_identity=f"{boot}:{int(tick) + 1}")
    assert run.effective_state() == "crashed"  # the pid is another process's now
    run.write_status(state="running", pid=me, pid_started=started, pid_identity=f"another-boot:{tick}")
    assert run.effective_state() == "crashed"  # recorded before a reboot


def test_a_run_whose_launcher_died_before_starting_it_is_not_queued_forever(tmp_path):
    import time

    from workbench import jobs
    from workbench.rundir import RunDir

    run = RunDir(tmp_path / "run")
    run.path.mkdir()
    run.write_config({"kind": "train", "train": {}})
    run.write_status(state="queued", queued_at=time.time())
    assert run.effective_state() == "queued"  # just created: its worker is on the way
    run.write_status(state="queued", queued_at=time.time() - 3600)
    assert run.effective_state() == "crashed"
    jobs.delete(run)  # refused while it looked queued
    assert not run.path.exists()


def test_third_party_noise_stays_out_of_what_the_user_reads(caplog):
    import logging

    import workbench  # noqa: F401 - installs the filters

    with caplog.at_level(logging.INFO):
        logging.getLogger("bitsandbytes.backends.cpu.ops").warning(
            "Failed to load CPU gemm_4bit_forward from kernels-community: No module named 'kernels'")
        logging.getLogger("absl").info("Using default tokenizer.")
        logging.getLogger("bitsandbytes.backends.cpu.ops").warning("a real problem")
    assert [r.getMessage() for r in caplog.records] == ["a real problem"]
