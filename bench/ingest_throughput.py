"""How fast documents become passages: MB/s of sentence splitting and chunking for 1, 10 and 30 MB inputs of
three shapes (ordinary prose, one line full of full stops, deeply nested HTML). Prints a table and writes
bench/results/ingest_throughput.json. Not a test.

    python bench/ingest_throughput.py [--sizes 1,10,30]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench import corpus  # noqa: E402

SENTENCE = "The Orrin Valley depot, built by Orrin & Kell in 1990, holds 24 trams and employs 86 drivers. "


def prose(mb: float) -> str:
    paragraph = SENTENCE * 8 + "\n\n"
    return paragraph * max(1, int(mb * 2**20 / len(paragraph)))


def one_line(mb: float) -> str:
    return ("Word. x." * max(1, int(mb * 2**20 / 8))).replace("\n", " ")


def nested_html(mb: float) -> str:
    depth = max(1, int(mb * 2**20 / 12))
    return "<html><body>" + "<div>" * depth + SENTENCE + "</div>" * depth + "</body></html>"


def measure(shape: str, mb: float) -> dict:
    text = {"prose": prose, "one line": one_line, "nested html": nested_html}[shape](mb)
    start = time.perf_counter()
    if shape == "nested html":
        text = corpus.html_to_text(text)
    passages = corpus.chunk_document(corpus.Document(source="bench.txt", kind="txt", text=text), "chars", 800, 100)
    seconds = time.perf_counter() - start
    size = len(text.encode()) / 2**20 if shape != "nested html" else mb
    return {"shape": shape, "mb": round(size, 2), "seconds": round(seconds, 2), "mb_per_s": round(size / seconds, 2),
            "passages": len(passages)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", default="1,10,30")
    args = ap.parse_args()
    shapes = ("prose", "one line", "nested html")
    rows = [measure(shape, float(mb)) for mb in args.sizes.split(",") for shape in shapes]
    print(f"{'shape':12} {'MB':>6} {'seconds':>8} {'MB/s':>7} {'passages':>9}")
    for r in rows:
        print(f"{r['shape']:12} {r['mb']:>6} {r['seconds']:>8} {r['mb_per_s']:>7} {r['passages']:>9}")
    out = ROOT / "bench" / "results" / "ingest_throughput.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"date": time.strftime("%Y-%m-%d"), "machine": f"{platform.machine()}, "
                               f"{os.cpu_count()} CPUs", "rows": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
