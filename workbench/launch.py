"""Validate and start every kind of job: train, qa, eval, study, cora (and teach, which chains three).

The CLI and the UI are two faces of these functions and never import each other. Each ``start_*`` refuses bad
input with the project's own errors before any process starts, writes the run folder (every resolved value in
config.json) and launches its worker through ``jobs``. Nothing here trains, scores or reads results; torch is
imported only by the checks that need a model's description (the train validation).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import jobs
from .config import ConfigError, EvalConfig, GenParams, QAGenConfig, TrainConfig, check_device, from_dict, to_dict
from .rundir import RunDir, train_settings
from .workspace import Workspace, check_name


# train ------------------------------------------------------------------------------------------

def read_settings_file(path: str | Path) -> dict[str, Any]:
    """Training settings from a YAML or JSON file: a run's own config.json or config.yaml, or one saved by hand."""
    import yaml

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        raise ConfigError(f"cannot read {path.name}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path.name} does not hold training settings (a mapping of setting: value)")
    return train_settings(data)


def validate_train(settings: dict[str, Any]) -> TrainConfig:
    """Refuse a bad configuration before any process starts (types, ranges, method, device, model, data);
    return it with every value resolved, the learning rate included."""
    from . import methods, models
    from .methods.preview import preview
    from .train import load_data

    cfg = methods.resolved(from_dict(TrainConfig, settings))
    method = methods.get(cfg.method)
    params = methods.make_params(method, cfg.method_params)
    check_device(cfg, models.pick_device())
    if method.check:
        method.check(params, models.pick_device())
    models.resolve(cfg.model)  # an alias whose package is missing is refused here, not in the worker
    preview(method, params, cfg.model, cfg.trust_remote_code)
    load_data(cfg)
    return cfg


def start_train(ws: Workspace, settings: dict[str, Any], run_id: str | None = None) -> RunDir:
    """Validate ``settings`` and start a training run; nothing starts when anything is wrong."""
    cfg = validate_train(settings)
    run = jobs.create_run(ws, "train", {"train": to_dict(cfg)}, run_id=run_id, label=cfg.method)
    jobs.start(run)
    return run


# qa ---------------------------------------------------------------------------------------------

def start_qa(workspace: Workspace, paths: Sequence[str | Path], name: str, cfg: QAGenConfig | None = None, *,
             overwrite: bool = False, out_dir: str | Path | None = None) -> RunDir:
    """Start a job of kind "qa" that builds ``datasets/<name>/`` (or ``out_dir``, a folder the user named on the
    command line) from documents."""
    from .qa import dataset
    from .qa.generate import API_KEY_ENV
    from .qa.pipeline import PipelineError, job_config

    out = Path(out_dir).resolve() if out_dir else workspace.datasets / check_name(name, "dataset name")
    if dataset.is_dataset_folder(out) and not overwrite:
        raise PipelineError(f"dataset {name!r} already exists at {out}; choose another name or overwrite it")
    cfg = cfg or QAGenConfig()
    # Rule-based generation loads no model, so it need not wait behind a training job.
    run = jobs.create_run(workspace, "qa", {"qa": job_config(paths, out, cfg, overwrite),
                                            "needs_accelerator": cfg.uses_model}, label=f"qa-{name}"[:60])
    jobs.start(run, secrets={API_KEY_ENV: cfg.api_key} if cfg.api_key else None)
    return run


# eval -------------------------------------------------------------------------------------------

def trained_run(workspace: Workspace, name: str, refuse: type[Exception]) -> RunDir:
    """A training run with a saved model, by id or folder; anything else is refused with ``refuse``."""
    run = RunDir(workspace.run_path(name))
    kind = run.read_config().get("kind", "train")
    if kind != "train":
        raise refuse(f"run {run.id} is a {kind} run; name a training run")
    if run.saved_model() is None:
        raise refuse(f"run {run.id} has no saved model yet (state: {run.effective_state()}); wait until it "
                     "finishes or stop it (a stopped run saves its adapter)")
    return run


def eval_job(workspace: Workspace, train_run: str | Path, data: str | Path | None = None, *,
             gen: GenParams | None = None, settings: EvalConfig | None = None, judge: Any = None,
             limit: int = 0, probe: bool = True, serve: Any = None) -> Any:
    """A validated EvalJob with resolved paths; raises EvalError (or another project error) with what to fix."""
    from .evaluate import EvalError, EvalJob, explicit_pairs
    from .judge import JudgeSpec

    train = trained_run(workspace, str(train_run), EvalError)
    settings = settings or EvalConfig()
    if judge is None and (settings.judge_url or settings.judge_model):
        judge = JudgeSpec(model=settings.judge_model, url=settings.judge_url)
    data_path = str(workspace.dataset_path(str(data))) if data else ""
    if data_path:
        explicit_pairs(Path(data_path))  # refuse unreadable or empty data before a process starts
    return EvalJob(run=str(train.path), data=data_path, gen=gen or GenParams(), settings=settings, judge=judge,
                   limit=limit, probe=probe, serve=serve)


def eval_settings(metrics_text: str | None, lang: str = "auto") -> EvalConfig:
    """An EvalConfig from a comma-separated metric list; EvalError names the unknown ones."""
    from .eval_results import EvalError

    settings: dict[str, Any] = {"lang": lang}
    if metrics_text:
        settings["metrics"] = [m.strip() for m in metrics_text.split(",") if m.strip()]
    try:
        return from_dict(EvalConfig, settings)
    except ConfigError as exc:
        raise EvalError(str(exc)) from None


def start_eval(workspace: Workspace, train_run: str | Path, data: str | Path | None = None, *,
               gen: GenParams | None = None, settings: EvalConfig | None = None, judge: Any = None,
               limit: int = 0, probe: bool = True, run_id: str | None = None, serve: Any = None) -> RunDir:
    """Check the request, write an eval run folder and launch its worker; returns the eval run.

    ``train_run`` is a run id or folder; ``data`` a dataset name/folder or QA file (None = the run's held-out
    pairs). A judge set in ``settings`` (judge_model, with judge_url for an API) is used when ``judge`` is not
    given; its API key is read from $WORKBENCH_JUDGE_KEY at run time and never stored in the run folder.
    ``serve`` (a served.ServeSpec) has a serving engine answer instead of the local model; its key is read
    from $WORKBENCH_SERVE_API_KEY the same way.
    """
    job = eval_job(workspace, train_run, data, gen=gen, settings=settings, judge=judge, limit=limit, probe=probe,
                   serve=serve)
    run = jobs.create_run(workspace, "eval", {"eval": job.to_dict()}, run_id=run_id,
                          label=f"eval-{RunDir(Path(job.run)).id}"[:60])
    jobs.start(run)
    return run


# study ------------------------------------------------------------------------------------------

def start_study(ws: Workspace, source: str, quick: bool = False) -> RunDir:
    """Start the driver of the study ``source`` (a shipped name or a spec file), refusing a second job for the
    same study: two at once would train the same cells."""
    from .studies import specs

    spec = specs.read_spec(source, quick)
    busy = specs.running_job_for(ws, spec.name)
    if busy is not None:
        raise specs.StudyError(f"study {spec.name!r} is already running as job {busy.id}; follow it below, or stop "
                               "it before starting it again (a restart resumes where it stopped)")
    # the driver needs no accelerator lock: its cells take it
    run = jobs.create_run(ws, "study", {"study": {"spec": source, "quick": quick}, "needs_accelerator": False},
                          label=f"study-{spec.name}")
    jobs.start(run)
    return run


# cora -------------------------------------------------------------------------------------------

def start_cora(ws: Workspace, name: str, sources: list[str], rank: Any, targets: str | None,
               base: str | None = None) -> tuple[RunDir, Path]:
    """Start a job that averages the sources' weights and keeps the top-``rank`` directions in
    ``subspaces/<name>``; returns the job and that folder."""
    from .studies.specs import StudyError  # cora.py's own error class would import torch here

    name = check_name((name or "").strip(), "subspace name")
    out = ws.subspaces / name
    if out.exists():
        raise StudyError(f"a subspace called {name!r} already exists; choose another name")
    if not isinstance(rank, (int, float)) or int(rank) != rank or rank < 1:
        raise StudyError(f"rank must be a whole number of at least 1, got {rank!r}")
    if not sources:
        raise StudyError("choose at least one finished run, or type a model folder (one per line)")
    job = jobs.create_run(ws, "cora", {"cora": {"sources": sources, "out": str(out), "rank": int(rank),
                                                "targets": (targets or "all-linear").strip(),
                                                "base": (base or "").strip() or None},
                                       "needs_accelerator": False}, label=f"cora-{name}")
    jobs.start(job)
    return job, out


# teach ------------------------------------------------------------------------------------------

def start_teach(workspace: Workspace, paths: list[str | Path], name: str, *, train: dict[str, Any] | None = None,
                qa: dict[str, Any] | None = None, overwrite: bool = False) -> RunDir:
    """Check the settings, then start a teach job that builds ``datasets/<name>`` from ``paths``, trains on it
    and evaluates the result."""
    from .qa import dataset

    check_name(name, "dataset name")
    if not paths:
        raise ConfigError("no documents to teach: add files to the collection first")
    if dataset.is_dataset_folder(workspace.datasets / name) and not overwrite:
        raise ConfigError(f"dataset {name!r} already exists; choose another name or overwrite it")
    qa_cfg = from_dict(QAGenConfig, qa or {})
    settings = dict(train or {})
    from_dict(TrainConfig, {**settings, "data": str(workspace.datasets / name)})  # refused now, not at stage 2
    config = {"workspace": str(workspace.root), "inputs": [str(Path(p).resolve()) for p in paths], "name": name,
              "qa": to_dict(qa_cfg), "train": settings, "overwrite": overwrite}
    run = jobs.create_run(workspace, "teach", {"teach": config, "needs_accelerator": False}, label=f"teach-{name}")
    jobs.start(run)
    return run
