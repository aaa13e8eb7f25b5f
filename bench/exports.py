"""Export time per format for a 10 k-row version (best of 3), against the floor of writing the same frame as one
Parquet file.

    .venv/bin/python -m bench.exports [--rows 10000]

Rows are shaped like a published version's (tests/helpers.py); RLVR and preference columns are added for verl and
dpo. Each export is then loaded back with `datasets`, as a trainer would, and its row count checked.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import polars as pl


def timed(work, repeat: int = 1):
    """Best of `repeat` runs (the first run of a format also pays its one-off imports)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        result = work()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=10_000)
    args = parser.parse_args()

    import datasets

    from synthfoundry import report
    from synthfoundry.exporters import EXPORTERS, ExportOptions
    from synthfoundry.stages import empty_ledger
    from tests.helpers import published_rows

    datasets.disable_progress_bars()
    rows = published_rows(args.rows).drop("vector")
    frames = {
        "dpo": rows.with_columns(pl.col("response").alias("rejected"), pl.lit(5.0).alias("chosen_score"),
                                 pl.lit(2.0).alias("rejected_score"), pl.lit(3.0).alias("margin")),
        "verl": rows.with_columns(pl.lit("4").alias("answer"), pl.lit("math_verify").alias("verifier")),
    }
    manifest = {"dataset": "bench", "version": "v1", "contract": {"suite": "sft"}}
    work = Path(tempfile.mkdtemp())
    try:
        floor, _ = timed(lambda: rows.write_parquet(work / "floor.parquet"), repeat=3)
        print(f"{args.rows} rows; floor (one write_parquet of the frame): {floor:.3f} s")
        print("| format | export s | rows/s | × floor | MB | datasets load s |")
        print("|---|---:|---:|---:|---:|---:|")
        for name, export in EXPORTERS.items():
            out = work / name
            seconds, files = timed(lambda export=export, name=name, out=out: export(frames.get(name, rows), manifest, out, ExportOptions()),
                                   repeat=3)
            size = sum(path.stat().st_size for path in files) / 1e6
            data = [str(p) for p in files if p.suffix in (".parquet", ".jsonl")]
            kind = "json" if data[0].endswith(".jsonl") else "parquet"
            load = (lambda out=out: datasets.load_dataset(str(out), split="train", cache_dir=str(work / "cache"))) if name == "hf" \
                else (lambda kind=kind, data=data: datasets.load_dataset(kind, data_files=data, split="train",
                                                                        cache_dir=str(work / "cache")))
            load_s, loaded = timed(load)
            assert loaded.num_rows == args.rows, (name, loaded.num_rows)
            print(f"| {name} | {seconds:.3f} | {args.rows / seconds:,.0f} | {seconds / floor:.1f} | {size:.1f} | {load_s:.2f} |")
        evaluate_s, figures = timed(lambda: report.evaluate(rows, manifest, empty_ledger()))
        plot_s, _ = timed(lambda: report.plots(figures))
        print(f"card: evaluate {evaluate_s:.2f} s, plots {plot_s:.2f} s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
