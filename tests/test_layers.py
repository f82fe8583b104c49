"""The module layers of DESIGN.md: a module imports only from its own layer or below, and the lower
layers (and the job launcher the UI uses to show progress) never import torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "workbench"

# jobs sits in layer 1: it needs only the standard library and layer 1, and the engine's launchers
# (evaluation, QA generation, studies) use it to queue their jobs.
LAYERS: dict[str, int] = {
    "config": 1, "workspace": 1, "rundir": 1, "jobs": 1, "distributed": 1,
    "corpus": 2, "qa": 2, "qa.dataset": 2, "qa.filters": 2, "qa.fallback": 2, "qa.facts": 2, "qa.rewrite": 2,
    "qa.ledger": 2, "qa.lexicon": 2, "endpoint": 2, "base_answers": 2, "metrics": 2, "plots": 2, "gate": 2,
    "study_report": 2, "estimate": 2, "qa.phrases": 2, "qa.formats": 2, "card": 2, "timed_read": 2,
    "provenance": 3, "export": 4,
    "models": 3, "methods": 3, "qa.generate": 3, "chat": 3, "cora": 3, "formatting": 3, "generation": 3, "decode": 3,
    "schedule": 3, "answer_loss": 3, "packing": 3, "lane_dropout": 3, "replay": 3,
    "train": 4, "evaluate": 4, "qa.pipeline": 4,
    "worker": 5, "study": 5, "setup_data": 5, "teach": 5,
    "ui": 6, "__main__": 6, "cli_commands": 6, "cli_data": 6, "cli_eval": 6, "cli_study": 6,
}
NO_TORCH = ["workbench.config", "workbench.rundir", "workbench.workspace", "workbench.jobs", "workbench.corpus",
            "workbench.qa.dataset", "workbench.qa.filters", "workbench.qa.fallback", "workbench.metrics",
            "workbench.plots", "workbench.gate", "workbench.qa.facts", "workbench.qa.rewrite", "workbench.qa.ledger",
            "workbench.qa.lexicon", "workbench.base_answers", "workbench.qa.phrases", "workbench.qa.formats",
            "workbench.card", "workbench.timed_read", "workbench.distributed", "workbench.estimate"]


def layer_of(module: str) -> int | None:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        key = ".".join(parts[:n])
        if key in LAYERS:
            return LAYERS[key]
    return None


def module_name(path: Path) -> str:
    rel = path.relative_to(PKG).with_suffix("")
    parts = [p for p in rel.parts if p != "__init__"]
    return ".".join(parts)


def imported_modules(path: Path, name: str) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name.split(".")[:-1] if path.name != "__init__.py" else name.split(".")
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = package[: len(package) - (node.level - 1)]
            target = ".".join(base + ([node.module] if node.module else []))
            found.add(target)
            if not node.module:  # `from . import x`: each name is a module
                found.update(".".join(base + [a.name]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("workbench."):
            found.add(node.module.removeprefix("workbench."))
        elif isinstance(node, ast.Import):
            found.update(a.name.removeprefix("workbench.") for a in node.names if a.name.startswith("workbench."))
    return {f for f in found if f}


SOURCES = sorted(p for p in PKG.rglob("*.py") if module_name(p))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_module_imports_only_its_layer_or_below(path):
    name = module_name(path)
    own = layer_of(name)
    assert own is not None, f"{name} has no layer in DESIGN.md's list; add it to LAYERS"
    for target in imported_modules(path, name):
        other = layer_of(target)
        if other is None:
            continue  # the package itself (`from . import x` resolved above) or a stdlib-like name
        assert other <= own, f"{name} (layer {own}) imports {target} (layer {other})"


def third_party_imports(path: Path) -> set[str]:
    """Top-level package names a module imports, in every form (import x, import x.y, from x import y)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found.add(node.module.split(".")[0])
    return found


def test_only_the_ui_imports_gradio():
    offenders = [module_name(p) for p in SOURCES if not module_name(p).startswith("ui")
                 and {"gradio", "gradio_client"} & third_party_imports(p)]
    assert offenders == []


def test_the_gradio_check_sees_every_form_of_import(tmp_path):
    forms = ("import gradio", "import gradio as gr", "from gradio import Blocks", "from gradio.themes import Soft")
    for line in forms:
        probe = tmp_path / "probe.py"
        probe.write_text(f"{line}\n")
        assert "gradio" in third_party_imports(probe), line


def test_lower_layers_do_not_import_torch():
    code = ("import sys\n" + "".join(f"import {m}\n" for m in NO_TORCH)
            + "print('torch' in sys.modules, 'transformers' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         cwd=PKG.parent)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False False"
