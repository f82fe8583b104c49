"""The module layers of DESIGN.md: a module imports only from its own layer or below, and the lower
layers (and the job launcher the UI uses to show progress) never import torch."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parent.parent / "workbench"

# DESIGN.md's layer list, plus the modules it does not name (marked "not in DESIGN"): each at the layer of what it
# imports and of who imports it.
LAYERS: dict[str, int] = {
    # 1: standard library only (and filelock/psutil); the UI shows progress without torch
    "config": 1, "workspace": 1, "rundir": 1, "jobs": 1,
    "errors": 1, "jsonl": 1, "distributed": 1, "logins": 1, "statements": 1,  # not in DESIGN
    # 2: no torch
    "corpus": 2, "qa.dataset": 2, "qa.filters": 2, "qa.fallback": 2, "qa.facts": 2, "metrics": 2, "wordnet": 2,
    "plots": 2, "gate": 2, "eval_results": 2, "studies.results": 2, "studies.specs": 2, "studies.report": 2,
    "endpoint": 2, "served": 2,
    "qa": 2, "studies": 2, "qa.ledger": 2, "qa.lexicon": 2, "qa.phrases": 2, "qa.formats": 2,  # not in DESIGN
    "qa.mentions": 2, "qa.naming": 2, "qa.partitive": 2,  # not in DESIGN
    "base_answers": 2, "estimate": 2, "card": 2, "timed_read": 2,  # not in DESIGN
    # 3: models and what runs them
    "models": 3, "methods": 3, "formatting": 3, "generation": 3, "schedule": 3, "qa.generate": 3, "qa.rewrite": 3,
    "chat": 3, "cora": 3, "judge": 3,
    "provenance": 3, "decode": 3, "answer_loss": 3, "packing": 3, "lane_dropout": 3, "replay": 3,  # not in DESIGN
    "augment": 3,  # not in DESIGN
    # 4
    "train": 4, "evaluate": 4, "qa.pipeline": 4, "export": 4,
    # 5
    "worker": 5, "studies.grid": 5, "launch": 5,
    "setup_data": 5, "teach": 5,  # not in DESIGN
    # 6: the two front doors, which never import each other
    "ui": 6, "cli": 6, "__main__": 6,
}
NO_TORCH = ["workbench.config", "workbench.rundir", "workbench.workspace", "workbench.jobs", "workbench.corpus",
            "workbench.qa.dataset", "workbench.qa.filters", "workbench.qa.fallback", "workbench.metrics",
            "workbench.plots", "workbench.gate", "workbench.qa.facts", "workbench.qa.rewrite", "workbench.qa.ledger",
            "workbench.qa.lexicon", "workbench.base_answers", "workbench.qa.phrases", "workbench.qa.formats",
            "workbench.qa.mentions", "workbench.qa.naming", "workbench.qa.partitive", "workbench.wordnet",
            "workbench.logins",
            "workbench.card", "workbench.timed_read", "workbench.distributed", "workbench.estimate",
            "workbench.errors", "workbench.jsonl", "workbench.endpoint", "workbench.eval_results",
            "workbench.studies.specs", "workbench.studies.results", "workbench.launch", "workbench.cli",
            "workbench.statements", "workbench.served"]


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
        if isinstance(node, ast.ImportFrom) and (node.level or (node.module or "").split(".")[0] == "workbench"):
            if node.level:
                base = package[: len(package) - (node.level - 1)] + ([node.module] if node.module else [])
            else:
                base = node.module.split(".")[1:]
            found.add(".".join(base))
            # each name may be a module (`from ..studies import grid`); an attribute resolves to its module's layer
            found.update(".".join(base + [a.name]) for a in node.names)
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


def test_every_module_outside_the_front_doors_and_methods_is_listed_by_name():
    """A package's layer covers only ``ui``, ``cli`` and ``methods``; a new module elsewhere gets its own line."""
    loose = [module_name(p) for p in SOURCES if module_name(p) not in LAYERS
             and module_name(p).split(".")[0] not in ("ui", "cli", "methods")]
    assert not loose, f"add these modules to LAYERS (and to DESIGN.md's list): {loose}"


def test_only_the_ui_imports_gradio():
    offenders = [module_name(p) for p in SOURCES if not module_name(p).startswith("ui")
                 and {"gradio", "gradio_client"} & third_party_imports(p)]
    assert offenders == []


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: module_name(p))
def test_the_cli_and_the_ui_do_not_import_each_other(path):
    name = module_name(path)
    for front, other in (("ui", "cli"), ("cli", "ui")):
        if name == front or name.startswith(front + "."):
            assert not [t for t in imported_modules(path, name) if t == other or t.startswith(other + ".")], name


def test_the_layer_check_sees_every_form_of_import(tmp_path):
    pkg = tmp_path / "workbench"
    (pkg / "qa").mkdir(parents=True)
    forms = {"from . import facts": "qa.facts", "from ..rundir import RunDir": "rundir",
             "from .. import train": "train",
             "from ..studies import grid": "studies.grid", "import workbench.launch": "launch",
             "import workbench.ui.app as app": "ui.app", "from workbench.ui import app": "ui.app",
             "from workbench import evaluate": "evaluate",
             "from ..cli.commands import x": "cli.commands"}
    for line, target in forms.items():
        probe = pkg / "qa" / "probe.py"
        probe.write_text(f"{line}\n")
        rel = probe.relative_to(pkg).with_suffix("")
        assert target in imported_modules(probe, ".".join(rel.parts)), line


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
