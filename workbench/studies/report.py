"""A study's report.md and its PNG figures (matplotlib, headless). Reads rows and the summary; computes
no statistics of its own (see study.summarise) and runs nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..rundir import atomic_write_text

LABELS = {"fact_acc": "fact accuracy", "rougeL": "ROUGE-L", "bleu4": "BLEU-4", "meteor": "METEOR",
          "sacrebleu": "sacreBLEU"}


def fmt(stat: dict[str, Any] | None, scale: float = 1.0, digits: int = 3) -> str:
    if not stat or stat.get("mean") is None:
        return "–"
    text = f"{stat['mean'] * scale:.{digits}f}"
    if stat.get("ci95") is not None:
        text += f" ± {stat['ci95'] * scale:.{digits}f}"
    return text


def cells_table(summary: dict[str, Any]) -> str:
    metrics = summary["metrics"]
    head = ["variant", "size", "model", "n", "trainable"] + [LABELS.get(m, m) for m in metrics] + ["train s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for c in summary["cells"]:
        trainable = f"{c['trainable_params']:,}" if c.get("trainable_params") else "0"
        row = [c["variant"], f"{c['size']:.0%}", c["model"], str(c["n"]), trainable]
        row += [fmt(c.get(m)) for m in metrics] + [fmt(c.get("train_seconds"), digits=0)]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def paired_table(summary: dict[str, Any]) -> str:
    metrics = summary["metrics"]
    head = [f"variant − {summary['baseline']}", "size", "model"] + [LABELS.get(m, m) for m in metrics]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for p in summary["paired"]:
        row = [p["variant"], f"{p['size']:.0%}", p["model"]] + [fmt(p.get(m)) for m in metrics]
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def bar_figure(summary: dict[str, Any], metric: str, out: Path) -> Path:
    cells = [c for c in summary["cells"] if c.get(metric, {}).get("mean") is not None]
    fig, ax = plt.subplots(figsize=(max(5, 0.9 * len(cells) + 2), 3.6))
    labels = [f"{c['variant']}\n{c['size']:.0%} {c['model']}" if len(summary["cells"]) > 8 else c["variant"]
              for c in cells]
    means = [c[metric]["mean"] for c in cells]
    errs = [c[metric]["ci95"] or 0.0 for c in cells]
    ax.bar(range(len(cells)), means, yerr=errs, capsize=4, color="#4C78A8")
    ax.set_xticks(range(len(cells)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel(LABELS.get(metric, metric))
    ax.set_title(f"{LABELS.get(metric, metric)}: mean and 95% CI over seeds")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def learning_curve(rows: list[dict[str, Any]], summary: dict[str, Any], metric: str, out: Path) -> Path | None:
    sizes = sorted({c["size"] for c in summary["cells"]})
    if len(sizes) < 2:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    for variant in dict.fromkeys(c["variant"] for c in summary["cells"]):
        pts = [(c["size"], c[metric]["mean"], c[metric]["ci95"] or 0.0) for c in summary["cells"]
               if c["variant"] == variant and c[metric]["mean"] is not None]
        if pts:
            xs, ys, es = zip(*sorted(pts))
            ax.errorbar(xs, ys, yerr=es, marker="o", capsize=3, label=variant)
    ax.set_xlabel("share of the training set")
    ax.set_ylabel(LABELS.get(metric, metric))
    ax.legend(fontsize=8)
    ax.set_title(f"learning curve: {LABELS.get(metric, metric)}")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def variance_figure(subspace_dir: Path, out: Path) -> Path | None:
    meta_file = subspace_dir / "subspace.json"
    if not meta_file.exists():
        return None
    meta = json.loads(meta_file.read_text())
    curve = meta.get("curve")
    if not curve:
        return None
    fig, ax = plt.subplots(figsize=(5.5, 3.4))
    ax.plot(range(1, len(curve) + 1), curve)
    ax.axhline(0.9, color="grey", linestyle=":")
    ax.set_xlabel("components kept")
    ax.set_ylabel("cumulative explained variance")
    ax.set_title("common subspace: explained variance (mean over modules)")
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out


def write_report(folder: Path, spec: Any, rows: list[dict[str, Any]], summary: dict[str, Any]) -> Path:
    figs = folder / "figures"
    figs.mkdir(exist_ok=True)
    parts = [f"# Study `{summary['name']}`", "", spec.description or "", "",
             f"Cells: {summary['cells_run']} trained runs, {len(spec.seeds)} seeds each; the last pass took "
             f"{summary['wall_seconds'] / 60:.1f} min (a resumed study counts only its last pass). Values are "
             "means over seeds with 95% confidence "
             "half-widths (Student t); `base` is the untrained model on the same questions with the same greedy "
             "decoding.", "", "## Scores", "", cells_table(summary), "",
             f"## Paired differences against `{summary['baseline']}` (same seed, size and model)", "",
             paired_table(summary), ""]
    for metric in summary["metrics"]:
        if any(c.get(metric, {}).get("mean") is not None for c in summary["cells"]):
            path = bar_figure(summary, metric, figs / f"{metric}.png")
            parts += [f"![{metric}](figures/{path.name})", ""]
            curve = learning_curve(rows, summary, metric, figs / f"curve-{metric}.png")
            if curve:
                parts += [f"![learning curve {metric}](figures/{curve.name})", ""]
    for model, sub in (summary.get("subspaces") or {}).items():
        path = variance_figure(Path(sub), figs / f"variance-{model}.png")
        if path:
            parts += [f"![explained variance {model}](figures/{path.name})", ""]
    report = folder / "report.md"
    atomic_write_text(report, "\n".join(parts) + "\n")
    return report
