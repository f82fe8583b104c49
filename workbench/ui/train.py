"""The Train tab: dataset, base model, method, the method's parameters (a form generated from its params
dataclass), training settings, presets, the equivalent command line, and Start.

Starting validates the whole configuration first (workbench.cli_commands.validate_train) and launches a
worker process through workbench.jobs; nothing trains in the UI process. No per-method code here.
"""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path
from dataclasses import dataclass
from typing import Any

import gradio as gr

from .. import estimate as estimates
from .. import launch, methods
from ..config import PRESETS, ConfigError, TrainConfig, to_dict
from ..rundir import RunDir
from ..workspace import Workspace
from .common import UIError, dataset_folder, dataset_names, friendly
from .forms import Form, build_form, changed

MODEL_CHOICES = ("smollm2", "tiny", "gemma3-270m")
NO_PRESET = "(none)"


# pure functions (no components): settings, command line, launch ------------------------------------

@dataclass
class TrainSpec:
    """The Train form's layout as data: which values belong to TrainConfig and to each method."""

    train_form: Form
    method_forms: dict[str, Form]

    def settings(self, dataset: str | None, model: str, method: str, values: list[Any]) -> dict[str, Any]:
        """Form values (train fields, then every method's fields in registry order) -> train settings."""
        n = len(self.train_form.names)
        settings = {"data": dataset or "", "model": (model or "").strip(), "method": method,
                    **self.train_form.read(values[:n])}
        offset = n
        for name, form in self.method_forms.items():
            size = len(form.names)
            if name == method:
                settings["method_params"] = form.read(values[offset:offset + size])
            offset += size
        settings.setdefault("method_params", {})
        return settings

    def defaults(self, dataset: str | None, model: str = "smollm2", method: str = "lora") -> dict[str, Any]:
        values = [self.train_form.defaults[n] for n in self.train_form.names]
        for form in self.method_forms.values():
            values += [form.defaults[n] for n in form.names]
        return self.settings(dataset, model, method, values)


def set_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def cli_command(settings: dict[str, Any]) -> str:
    """The `python -m workbench train` line that starts the same run (only non-default values)."""
    parts = ["python -m workbench train", f"--data {shlex.quote(settings.get('data') or 'DATASET')}",
             f"--model {shlex.quote(settings.get('model') or 'smollm2')}",
             f"--method {shlex.quote(settings.get('method') or 'lora')}"]
    skip = ("data", "model", "method", "method_params")
    train_defaults = {f: v for f, v in to_dict(TrainConfig()).items() if f not in skip}
    values = changed({k: v for k, v in settings.items() if k not in skip}, train_defaults)
    method = methods.METHODS.get(settings.get("method") or "")
    if method is not None:
        defaults = to_dict(method.params_cls())
        values.update(changed(settings.get("method_params") or {}, defaults))
    parts += [f"--set {shlex.quote(f'{k}={set_value(v)}')}" for k, v in values.items()]
    return " \\\n    ".join(parts)


def launch_training(ws: Workspace, settings: dict[str, Any]) -> RunDir:
    """Validate (types, ranges, method, device, data) and start a worker; nothing starts when invalid."""
    settings = dict(settings)
    settings["data"] = str(dataset_folder(ws, settings.get("data")))
    if not settings.get("model"):
        raise UIError("choose a base model (smollm2 is the default)")
    return launch.start_train(ws, settings)


def preset_settings(name: str) -> dict[str, Any]:
    if name in (None, "", NO_PRESET):
        return {}
    if name not in PRESETS:
        raise UIError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return json.loads(json.dumps(PRESETS[name]))


def method_text(name: str) -> str:
    method = methods.METHODS.get(name)
    if method is None:
        return ""
    return (f"**{method.name}**: {method.summary}. Default learning rate {method.default_lr:g} "
            "(used when *learning rate* is empty).")


def fill_values(spec: TrainSpec, settings: dict[str, Any], datasets: list[str]) -> list[Any]:
    """Updates for every Train input, from settings (a preset or a run's config); unset fields get defaults."""
    method = settings.get("method") or "lora"
    data = settings.get("data") or ""
    data_name = data.rstrip("/").rsplit("/", 1)[-1] if data else None
    out: list[Any] = [gr.update(choices=datasets, value=data_name if data_name in datasets else gr.skip()),
                      gr.update(value=settings["model"]) if settings.get("model") else gr.skip(),
                      gr.update(value=method), method_text(method)]
    out += [gr.update(visible=name == method) for name in spec.method_forms]
    out += spec.train_form.updates({k: v for k, v in settings.items() if k in spec.train_form.defaults})
    for name, form in spec.method_forms.items():
        out += form.updates(settings.get("method_params") or {} if name == method else {})
    return out


def settings_from_file(path: str) -> dict[str, Any]:
    """Training settings from a config.yaml (a run's own, or one saved here) or JSON file."""
    try:
        return launch.read_settings_file(path)
    except ConfigError as exc:
        raise UIError(str(exc)) from None


def settings_to_file(settings: dict[str, Any]) -> str:
    """The settings as a config.yaml that this tab and `train --config` read back."""
    import tempfile

    import yaml

    folder = Path(tempfile.mkdtemp(prefix="workbench-config-"))
    path = folder / "config.yaml"
    path.write_text("# python -m workbench train --config config.yaml\n" + yaml.safe_dump(settings, sort_keys=False),
                    encoding="utf-8")
    return str(path)


# layout -------------------------------------------------------------------------------------------

@dataclass
class TrainTab:
    spec: TrainSpec
    dataset: gr.Dropdown
    model: gr.Dropdown
    method: gr.Dropdown
    preset: gr.Dropdown
    summary: gr.Markdown
    groups: dict[str, gr.Column]
    command: gr.Code
    estimate: gr.Markdown
    start: gr.Button
    message: gr.Markdown
    settings: gr.JSON
    run_id: gr.Textbox
    load: gr.File
    save: gr.Button
    saved: gr.File

    def values(self) -> list[gr.components.Component]:
        comps = list(self.spec.train_form.components)
        for form in self.spec.method_forms.values():
            comps += form.components
        return comps

    def inputs(self) -> list[gr.components.Component]:
        return [self.dataset, self.model, self.method, *self.values()]

    def fill_outputs(self) -> list[Any]:
        return [self.dataset, self.model, self.method, self.summary, *self.groups.values(), *self.values()]


def _choice_row(ws: Workspace) -> tuple[gr.Dropdown, gr.Dropdown, gr.Dropdown, gr.Dropdown]:
    with gr.Row():
        names = dataset_names(ws)
        dataset = gr.Dropdown(names, value=names[0] if names else None, label="dataset",
                              info="question/answer pairs built in the QA tab", elem_id="train-dataset")
        model = gr.Dropdown(list(MODEL_CHOICES), value="smollm2", allow_custom_value=True, label="base model",
                            info="an alias, a model folder, a .gguf file or a hub id", elem_id="train-model")
        method = gr.Dropdown(list(methods.METHODS), value="lora", label="method", elem_id="train-method")
        preset = gr.Dropdown([NO_PRESET, *PRESETS], value=NO_PRESET, label="preset",
                             info="fills the form with a tested starting point", elem_id="train-preset")
    return dataset, model, method, preset


def _method_forms(default: str) -> tuple[dict[str, Form], dict[str, gr.Column]]:
    forms, groups = {}, {}
    for name, method in methods.METHODS.items():
        with gr.Column(visible=name == default) as group:
            forms[name] = build_form(method.params_cls, prefix=f"mp-{re.sub(r'[^A-Za-z0-9_-]', '-', name)}-",
                                     columns=3)
            if not forms[name].names:
                gr.Markdown(f"*{name} has no parameters of its own.*")
        groups[name] = group
    return forms, groups


def build_train_tab(ws: Workspace) -> TrainTab:
    gr.Markdown("Fine-tune a base model on a question/answer dataset. Every setting has a help text; "
                "the command below starts the same run from a terminal.")
    dataset, model, method, preset = _choice_row(ws)
    summary = gr.Markdown(method_text("lora"), elem_id="train-method-summary")
    with gr.Accordion("Method parameters", open=True):
        method_forms, groups = _method_forms("lora")
    with gr.Accordion("Training settings", open=False):
        train_form = build_form(TrainConfig, prefix="tc-", columns=3)
    spec = TrainSpec(train_form, method_forms)
    command = gr.Code(cli_command(spec.defaults(dataset.value)), label="equivalent command line",
                      language="shell", interactive=False, elem_id="train-command")
    estimate = gr.Markdown(elem_id="train-estimate")
    with gr.Row():
        start = gr.Button("Start training", variant="primary", elem_id="train-start")
    message = gr.Markdown(elem_id="train-message")
    settings = gr.JSON(visible=False)
    run_id = gr.Textbox(visible=False)
    with gr.Accordion("Settings as YAML", open=False), gr.Row():
        load = gr.File(label="load a config.yaml (a run's own, or one saved here)", file_types=[".yaml", ".yml",
                                                                                              ".json"],
                       elem_id="train-load-config")
        with gr.Column():
            save = gr.Button("Save these settings as config.yaml", elem_id="train-save-config")
            saved = gr.File(label="config.yaml", interactive=False, elem_id="train-saved-config")
    tab = TrainTab(spec, dataset, model, method, preset, summary, groups,
                   command, estimate, start, message, settings, run_id, load, save, saved)
    wire_train_tab(tab, ws)
    return tab


def wire_train_tab(tab: TrainTab, ws: Workspace) -> None:
    spec = tab.spec

    def collect(dataset: str | None, model: str, method: str, *values: Any) -> dict[str, Any]:
        return spec.settings(dataset, model, method, list(values))

    def preview(dataset: str | None, model: str, method: str, *values: Any) -> str:
        return cli_command(collect(dataset, model, method, *values))

    @friendly
    def start_training(settings: dict[str, Any]) -> tuple[str, str]:
        """Validate a training configuration and start it as a background run; returns (message, run id)."""
        run = launch_training(ws, settings)
        return f"Started run **{run.id}**: follow it in the Runs tab.", run.id

    @friendly
    def apply_preset(name: str) -> list[Any]:
        values = preset_settings(name)
        return fill_values(spec, values, dataset_names(ws))[1:] if values else [gr.skip()] * (
            len(tab.fill_outputs()) - 1)

    def choose_method(name: str) -> list[Any]:
        return [method_text(name), *[gr.update(visible=n == name) for n in tab.groups]]

    @friendly
    def load_file(path: str | None) -> list[Any]:
        if not path:
            return [gr.skip()] * len(tab.fill_outputs())
        return fill_values(spec, settings_from_file(path), dataset_names(ws))

    def save_file(dataset: str | None, model: str, method: str, *values: Any) -> str:
        return settings_to_file(collect(dataset, model, method, *values))

    tab.load.upload(load_file, tab.load, tab.fill_outputs(), api_visibility="private")
    tab.save.click(save_file, tab.inputs(), tab.saved, api_visibility="private")
    tab.method.change(choose_method, tab.method, [tab.summary, *tab.groups.values()], api_visibility="private")
    tab.preset.input(apply_preset, tab.preset, tab.fill_outputs()[1:], api_visibility="private")
    gr.on([c.change for c in tab.inputs()], preview, tab.inputs(), tab.command, queue=False,
          show_progress="hidden", api_visibility="private")
    gr.on([tab.dataset.change, tab.model.change, tab.method.change, *(c.change for c in spec.train_form.components)],
          lambda *v: estimates.describe(estimates.estimate(ws, collect(*v))), tab.inputs(), tab.estimate,
          show_progress="hidden", api_visibility="private")
    tab.start.click(collect, tab.inputs(), tab.settings, api_visibility="private").success(
        start_training, tab.settings, [tab.message, tab.run_id], api_name="start_training", show_progress="hidden")
