"""Study specs: the shipped YAML specs and those saved in a workspace, their validation, the cells of the grid,
and the study jobs started from them (to re-attach to one, or refuse a second). Runs nothing and reads no
result (grid.py, results.py); no torch (layer 2).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import jobs
from ..config import TrainConfig, from_dict
from ..errors import UserError
from ..rundir import RunDir, atomic_write_text
from ..workspace import Workspace, check_name

SPECS_DIR = Path(__file__).resolve().parents[2] / "assets" / "studies"
BASE_VARIANT = "base"  # the untrained model: read from the base side of every evaluation
WORKSPACE_PREFIX = "workspace/"  # a spec saved in the workspace, told apart from a shipped one
ACTIVE_STATES = ("queued", "running")


class StudyError(UserError, ValueError):
    """A study spec is malformed or a cell cannot run; the message says which and why."""


@dataclass
class Variant:
    name: str
    method: str = "lora"
    params: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)  # TrainConfig overrides for this variant only


@dataclass
class StudySpec:
    name: str
    variants: list[Variant]
    data: str = "sample"  # "sample" (the shipped corpus), a corpus folder, or a dataset folder/name
    models: list[str] = field(default_factory=lambda: ["smollm2"])
    sizes: list[float] = field(default_factory=lambda: [1.0])
    seeds: list[int] = field(default_factory=lambda: [1, 2, 3])
    baseline: str = "lora"
    train: dict[str, Any] = field(default_factory=dict)  # shared TrainConfig settings
    eval: dict[str, Any] = field(default_factory=lambda: {"limit": 0, "probe": False})
    cora: dict[str, Any] = field(default_factory=dict)  # {"sources": N, "steps": S, "rank": R}
    description: str = ""


@dataclass(frozen=True)
class Cell:
    variant: Variant
    size: float
    model: str
    seed: int

    @property
    def id(self) -> str:
        raw = f"{self.variant.name}-n{int(round(self.size * 100))}-{self.model}-s{self.seed}"
        return "".join(c if c.isalnum() or c in "._-" else "-" for c in raw)


# specs -------------------------------------------------------------------------------------------

def shipped_specs() -> list[str]:
    return sorted(p.stem for p in SPECS_DIR.glob("*.yaml"))


def read_spec(path_or_name: str, quick: bool = False) -> StudySpec:
    """Read a YAML spec (a file, or the name of a shipped one); ``quick`` applies its `quick:` overrides."""
    path = Path(path_or_name)
    if not path.exists():
        path = SPECS_DIR / f"{path_or_name}.yaml"
    if not path.exists():
        raise StudyError(f"no study spec {path_or_name!r}: not a file, and not one of {', '.join(shipped_specs())}")
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    quick_over = raw.pop("quick", {}) or {}
    full_over = raw.pop("full", {}) or {}
    for key, value in (quick_over if quick else full_over).items():
        if isinstance(value, dict) and isinstance(raw.get(key), dict):
            raw[key] = {**raw[key], **value}
        else:
            raw[key] = value
    if quick:
        raw["name"] = f"{raw.get('name', path.stem)}-quick"
    return spec_from_dict(raw)


def spec_from_dict(raw: dict[str, Any]) -> StudySpec:
    known = set(StudySpec.__dataclass_fields__)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise StudyError(f"unknown study setting(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    if not raw.get("variants"):
        raise StudyError("a study needs `variants`: a list of {name, method, params}")
    variants = [Variant(**v) if isinstance(v, dict) else Variant(name=str(v), method=str(v)) for v in raw["variants"]]
    spec = StudySpec(**{**raw, "variants": variants})
    check_name(spec.name, "study name")
    names = [v.name for v in spec.variants]
    if len(set(names)) != len(names):
        raise StudyError(f"variant names must be unique: {names}")
    if spec.baseline not in names and spec.baseline != BASE_VARIANT:
        raise StudyError(f"baseline {spec.baseline!r} is not a variant ({', '.join(names)})")
    if any(not 0 < s <= 1 for s in spec.sizes):
        raise StudyError(f"sizes are shares of the training set: each in (0, 1], got {spec.sizes}")
    for v in trained_variants(spec):
        from_dict(TrainConfig, {**spec.train, **v.train, "method": v.method})  # refuse bad settings now
    return spec


def trained_variants(spec: StudySpec) -> list[Variant]:
    return [v for v in spec.variants if v.method != BASE_VARIANT]


def cells(spec: StudySpec) -> list[Cell]:
    """Seeds innermost, so that an interrupted study has complete seeds for the first variants."""
    return [Cell(v, size, model, seed) for v in trained_variants(spec) for model in spec.models
            for size in spec.sizes for seed in spec.seeds]


def spec_text(name: str) -> str:
    return (SPECS_DIR / f"{name}.yaml").read_text(encoding="utf-8")


# specs saved in a workspace ----------------------------------------------------------------------

def spec_folder(ws: Workspace) -> Path:
    return ws.study_specs


def workspace_spec_names(ws: Workspace) -> list[str]:
    return sorted(p.stem for p in spec_folder(ws).glob("*.yaml") if not p.name.startswith("."))


def spec_choices(ws: Workspace) -> list[tuple[str, str]]:
    """(label, value) for the spec picker: the shipped specs, then the workspace's own."""
    return ([(name, name) for name in shipped_specs()]
            + [(f"{name} (workspace)", WORKSPACE_PREFIX + name) for name in workspace_spec_names(ws)])


def spec_source(ws: Workspace, key: str | None) -> str:
    """What the study engine reads for a picker value: a shipped spec's name or a workspace spec file."""
    if not key:
        raise StudyError("choose a study spec first")
    if key.startswith(WORKSPACE_PREFIX):
        name = key.removeprefix(WORKSPACE_PREFIX)
        path = spec_folder(ws) / f"{check_name(name, 'spec name')}.yaml"
        if not path.exists():
            raise StudyError(f"there is no workspace spec called {name!r} (it may have been deleted)")
        return str(path)
    if key not in shipped_specs():
        raise StudyError(f"unknown study spec {key!r}; choose one of: {', '.join(shipped_specs())}")
    return key


def spec_yaml(ws: Workspace, key: str | None) -> str:
    source = spec_source(ws, key)
    return Path(source).read_text(encoding="utf-8") if source.endswith(".yaml") else spec_text(source)


def load_spec(ws: Workspace, key: str | None, quick: bool) -> StudySpec:
    """The spec as the engine will run it; a malformed one raises StudyError saying what is wrong."""
    source = spec_source(ws, key)
    try:
        return read_spec(source, quick)
    except yaml.YAMLError as exc:
        raise StudyError(f"the spec {key!r} is not valid YAML: {yaml_problem(exc)}") from None
    except (TypeError, ValueError) as exc:
        raise StudyError(f"the spec {key!r} cannot be used: {exc}") from None


def yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
    return f"{getattr(exc, 'problem', None) or exc}{where}"


def save_workspace_spec(ws: Workspace, name: str, text: str) -> str:
    """Check a YAML spec (as written and at its quick size) and save it in the workspace; returns its value."""
    name = check_name((name or "").strip(), "spec name")
    if name in shipped_specs():
        raise StudyError(f"{name!r} is the name of a shipped spec; save yours under another name")
    try:
        raw = yaml.safe_load(text or "")
    except yaml.YAMLError as exc:
        raise StudyError(f"the spec is not valid YAML: {yaml_problem(exc)}") from None
    if not isinstance(raw, dict):
        raise StudyError("a study spec is a YAML mapping (name:, variants:, ...); this text is not one")
    if raw.get("name") != name:
        raise StudyError(f"the spec says `name: {raw.get('name')}`; change it to `name: {name}` (the name you "
                           "save it under), so that its results get a folder of their own")
    check_data(ws, raw.get("data", "sample"))
    with tempfile.TemporaryDirectory() as tmp:
        trial = Path(tmp) / f"{name}.yaml"
        trial.write_text(text, encoding="utf-8")
        for quick in (False, True):
            try:
                read_spec(str(trial), quick)
            except (TypeError, ValueError) as exc:
                raise StudyError(f"the spec cannot be used{' at its quick size' if quick else ''}: {exc}") from None
    atomic_write_text(spec_folder(ws) / f"{name}.yaml", text)
    return WORKSPACE_PREFIX + name


def check_data(ws: Workspace, data: Any) -> None:
    """Specs saved from the UI train on the sample documents or on a dataset of this workspace only."""
    if data == "sample":
        return
    try:
        found = isinstance(data, str) and (ws.datasets / check_name(data, "dataset name")).is_dir()
    except ValueError:
        found = False  # a path, not a dataset name
    if not found:
        names = ", ".join(p.name for p in ws.list_datasets()) or "none yet"
        raise StudyError(f"`data: {data}` must be `sample` or the name of a dataset of this workspace "
                           f"({names})")


def spec_key(ws: Workspace, source: str) -> str | None:
    """The picker value of a job's spec (None for a spec file outside the workspace, started from the CLI)."""
    if source in shipped_specs():
        return source
    path = Path(source)
    if path.suffix == ".yaml" and path.parent == spec_folder(ws) and path.exists():
        return WORKSPACE_PREFIX + path.stem
    return None


def study_jobs(ws: Workspace) -> list[RunDir]:
    """Every study job of the workspace, newest first."""
    return sorted(jobs.find_jobs(ws.runs, "study"), key=lambda r: r.read_status().get("queued_at") or 0, reverse=True)


def newest_job(ws: Workspace, key: str | None, quick: bool) -> str | None:
    """The newest study job started from this spec at this size (to re-attach after a page reload)."""
    try:
        source = spec_source(ws, key)
    except StudyError:
        return None
    for run in study_jobs(ws):
        cfg = run.read_config().get("study") or {}
        if cfg.get("spec") == source and bool(cfg.get("quick")) == bool(quick):
            return run.id
    return None


def job_study_name(run: RunDir) -> str | None:
    """The study a job runs (its spec's name), or None when its spec can no longer be read."""
    cfg = run.read_config().get("study") or {}
    try:
        return read_spec(cfg.get("spec") or "", bool(cfg.get("quick"))).name
    except (TypeError, ValueError, OSError, yaml.YAMLError):
        return None


def running_job_for(ws: Workspace, name: str) -> RunDir | None:
    """A queued or running study job writing the study ``name``: two at once would train the same cells."""
    for run in study_jobs(ws):
        if run.effective_state() in ACTIVE_STATES and job_study_name(run) == name:
            return run
    return None


def study_cell_runs(ws: Workspace, name: str) -> list[RunDir]:
    """The runs a study made: its training runs (cells and CoRA source fine-tunes, whose config names the
    study) and the evaluation run of each (``<run id>-eval``)."""
    trained = [RunDir(p) for p in ws.list_runs() if RunDir(p).read_config().get("study") == name]
    evals = [RunDir(ws.runs / f"{r.id}-eval") for r in trained]
    return trained + [r for r in evals if r.exists()]
