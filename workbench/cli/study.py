"""CLI for studies and the CoRA subspace: `study SPEC [--quick]`, `cora build`, `cora sources`."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from .. import launch
from .commands import workspace_of


def study_cmd(args: argparse.Namespace) -> int:
    from ..studies import grid, specs

    if args.list or not args.spec:
        for name in specs.shipped_specs():
            spec = specs.read_spec(name)
            print(f"{name:14} {len(specs.cells(spec)):3} cells   {spec.description.strip()[:90]}...")
        return 0
    ws = workspace_of(args)
    if args.detach:
        print(launch.start_study(ws, args.spec, args.quick).id)
        return 0
    spec = specs.read_spec(args.spec, args.quick)
    print(f"study {spec.name}: {len(specs.cells(spec))} cells; results in {ws.studies / spec.name}")
    summary = grid.run_study(spec, ws, progress=lambda msg: print(msg, flush=True))
    print((ws.studies / spec.name / "report.md").read_text(encoding="utf-8"))
    print(f"wrote {ws.studies / spec.name}/results.csv, summary.json, report.md "
          f"({summary['wall_seconds'] / 60:.1f} min)")
    return 0


def cora_build(args: argparse.Namespace) -> int:
    from ..cora import build_artifact, load

    ws = workspace_of(args)
    sources = [str(ws.run_path(s)) if (ws.runs / s).is_dir() else s for s in args.sources]
    out = build_artifact(sources, Path(args.out), rank=args.rank, targets=args.targets, base=args.base,
                         progress=lambda msg: print(msg, flush=True))
    print_subspace(load(out).meta, out)
    return 0


def cora_sources_cmd(args: argparse.Namespace) -> int:
    """Short fine-tunes on slices of the data, then subspaces from the first 1, 2, ..., N of them."""
    from ..cora import build_artifact, load
    from ..studies import grid

    ws = workspace_of(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = grid.source_runs(ws, ws.dataset_path(args.data), args.model, n=args.n, steps=args.steps,
                            rank=args.rank, targets=args.targets, prefix=f"cora-{out.name}", folder=out,
                            progress=lambda msg: print(msg, flush=True))
    rows: list[dict[str, Any]] = []
    for k in range(1, len(runs) + 1):
        path = build_artifact([str(r.path) for r in runs[:k]], out / f"sources-{k}", rank=args.rank,
                              targets=args.targets, base=args.model)
        meta = load(path).meta
        rows.append({"sources": k, "path": str(path), "explained_mean": meta.get("explained_mean")})
    print(f"{'sources':>8} {'explained variance at rank ' + str(args.rank):>34}  folder")
    for r in rows:
        print(f"{r['sources']:>8} {r['explained_mean']:>34.4f}  {r['path']}")
    (out / "sources.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 0


def print_subspace(meta: dict[str, Any], out: Path) -> None:
    curve = meta.get("curve") or []
    marks = {k: curve[k - 1] for k in (1, 2, 4, 8, 16, 32, 64) if k <= len(curve)}
    print(f"subspace saved in {out}: rank {meta.get('rank')}, {len(meta.get('modules', {}))} modules, "
          f"{len(meta.get('sources', []))} sources; mean explained variance at rank {meta.get('rank')}: "
          f"{meta.get('explained_mean')}")
    print("cumulative explained variance (mean over modules): "
          + ", ".join(f"{k}: {v:.3f}" for k, v in marks.items()))


# parsers ------------------------------------------------------------------------------------------

def study_parser(sub: Any) -> None:
    p = sub.add_parser("study", help="run a study grid (methods x sizes x models x seeds) with statistics")
    p.add_argument("spec", nargs="?", help="a shipped study name (see --list) or a YAML spec file")
    p.add_argument("--quick", action="store_true", help="the spec's quick size (minutes on a CPU)")
    p.add_argument("--detach", action="store_true", help="run the study as a background job and print its id")
    p.add_argument("--list", action="store_true", help="list the shipped study specs")
    p.set_defaults(func=study_cmd)


def cora_parser(sub: Any) -> None:
    c = sub.add_parser("cora", help="build CoRA common subspaces")
    cs = c.add_subparsers(dest="action", required=True)
    b = cs.add_parser("build", help="average the source models' weights, SVD, keep the top-r directions")
    b.add_argument("--sources", nargs="+", required=True, help="run ids/folders, model folders or aliases")
    b.add_argument("--rank", type=int, default=16, help="directions kept per module (default 16)")
    b.add_argument("--targets", default="all-linear", help="modules: attention, all-linear or names")
    b.add_argument("--base", help="base model of LoRA-adapter sources (default: read from the run)")
    b.add_argument("--out", required=True, help="folder for subspace.safetensors + subspace.json")
    b.set_defaults(func=cora_build)
    s = cs.add_parser("sources", help="make source models by short fine-tunes on slices of a dataset, then "
                                      "build subspaces from 1..N of them")
    s.add_argument("--data", required=True, help="dataset name or folder")
    s.add_argument("--model", default="smollm2")
    s.add_argument("--n", type=int, default=3, help="number of source fine-tunes (default 3)")
    s.add_argument("--steps", type=int, default=40, help="training steps per source (default 40)")
    s.add_argument("--rank", type=int, default=16)
    s.add_argument("--targets", default="all-linear")
    s.add_argument("--out", required=True, help="folder for the subspaces (sources-1, sources-2, ...)")
    s.set_defaults(func=cora_sources_cmd)
