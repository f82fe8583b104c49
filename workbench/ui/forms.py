"""Forms generated from config dataclasses: one component per field, and the values read back into a dict.

The field metadata from ``param(...)`` (help, lo, hi, choices, step, ui) picks the component: choices give
a dropdown, booleans a checkbox, bounded numbers with a sensible number of positions a slider, other
numbers a number box, everything else a text box. There is no per-config or per-method code here, and no
validation: the dataclasses validate themselves when the values are turned into a config.
"""

from __future__ import annotations

import json
import types
import typing
from dataclasses import dataclass
from typing import Any

import gradio as gr

from ..config import describe

MAX_SLIDER_POSITIONS = 2048


@dataclass
class Form:
    """The components of one dataclass form, in field order, with their defaults."""

    cls: type
    names: list[str]
    components: list[gr.components.Component]
    defaults: dict[str, Any]
    kinds: dict[str, type]

    def read(self, values: list[Any] | tuple[Any, ...]) -> dict[str, Any]:
        """Component values -> field values of the right Python type (None stays None)."""
        return {name: to_field(value, self.kinds[name]) for name, value in zip(self.names, values)}

    def updates(self, values: dict[str, Any]) -> list[Any]:
        """gr.update per component: the given value, else the default."""
        return [gr.update(value=to_component(values.get(n, self.defaults[n]), self.kinds[n])) for n in self.names]


def base_type(tp: Any) -> type:
    """int for `int`, `int | None`; list for `list[str]`; str for Literal and unknown types."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        tp = args[0] if len(args) == 1 else str
    origin = typing.get_origin(tp)
    if origin in (list, dict):
        return origin
    return tp if tp in (bool, int, float, str, list, dict) else str


def to_component(value: Any, kind: type) -> Any:
    if kind in (list, dict):
        return json.dumps(value) if value is not None else ""
    return value


def to_field(value: Any, kind: type) -> Any:
    """Sliders hand back floats and text boxes strings; give each field its own type."""
    if value is None or (isinstance(value, str) and kind is not str and not value.strip()):
        return None
    if kind in (int, float) and isinstance(value, str):  # an optional number's text box
        try:
            value = float(value.strip())
        except ValueError:
            return value  # the config says what is wrong with it
    if kind is int and isinstance(value, float) and value.is_integer():
        return int(value)
    if kind in (list, dict) and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value  # the config says what is wrong with it
    return value


def label_of(name: str) -> str:
    return name.replace("_", " ")


def info_of(field: dict[str, Any]) -> str:
    text = field.get("help") or ""
    lo, hi = field.get("lo"), field.get("hi")
    if lo is not None and hi is not None:
        text += f" [{lo:g} to {hi:g}]"
    return text


def use_slider(field: dict[str, Any], kind: type) -> bool:
    lo, hi = field.get("lo"), field.get("hi")
    if kind not in (int, float) or lo is None or hi is None or field.get("default") is None:
        return False
    step = field.get("step") or (1 if kind is int else None)
    return bool(step) and (hi - lo) / step <= MAX_SLIDER_POSITIONS


def component_for(field: dict[str, Any], prefix: str = "") -> gr.components.Component:
    """The component that edits one field; its elem_id is ``prefix + name`` (used by browser tests)."""
    kind = base_type(field["type"])
    common = {"label": label_of(field["name"]), "info": info_of(field), "elem_id": f"{prefix}{field['name']}"}
    default = to_component(field.get("default"), kind)
    if field.get("choices"):
        return gr.Dropdown(choices=list(field["choices"]), value=default, **common)
    if kind is bool:
        return gr.Checkbox(value=bool(default), **common)
    if use_slider(field, kind):
        step = field.get("step") or 1
        return gr.Slider(minimum=field["lo"], maximum=field["hi"], step=step, value=default, **common)
    if kind in (int, float) and default is None:
        # An optional number ("empty = the method's default") is a text box: gr.Number has no empty state and
        # turned the empty learning rate into 0 when its accordion opened, which Start then refused.
        return gr.Textbox(value="", placeholder="empty = default", **common)
    if kind in (int, float):
        # No minimum/maximum here: Gradio would refuse half-typed values; the config explains a bad value.
        return gr.Number(value=default, precision=0 if kind is int else None, **common)
    placeholder = "empty = default" if field.get("default") in (None, "") else None
    return gr.Textbox(value=default or "", placeholder=placeholder, **common)


def build_form(cls: type, prefix: str = "", columns: int = 1, only_ui: bool = True,
               skip: tuple[str, ...] = (), only: tuple[str, ...] | None = None) -> Form:
    """Render one component per field of ``cls`` in ``columns`` columns. Left out: fields marked ui=False
    (when only_ui), fields named in ``skip``, and fields not in ``only`` (when given)."""
    fields = [f for f in describe(cls) if (f.get("ui", True) or not only_ui) and f["name"] not in skip
              and (only is None or f["name"] in only)]
    made: dict[int, gr.components.Component] = {}
    if fields:
        ncols = min(columns, len(fields))
        with gr.Row(equal_height=False):
            for col in range(ncols):
                with gr.Column(min_width=220):
                    for i in range(col, len(fields), ncols):
                        made[i] = component_for(fields[i], prefix)
    components = [made[i] for i in range(len(fields))]
    return Form(cls=cls, names=[f["name"] for f in fields], components=components,
                defaults={f["name"]: f["default"] for f in fields},
                kinds={f["name"]: base_type(f["type"]) for f in fields})


def changed(values: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    """Only the values that differ from the defaults (for a short command line)."""
    return {k: v for k, v in values.items() if v != defaults.get(k)}
