"""Decontamination speed: `python -m bench.decontamination [--rows 10000] [--naive-rows 300]`.

Rows are GSM8K train questions (instruction) with their solutions (response), 5 % of them replaced by GSM8K test
questions with their numbers changed, checked against the shipped GSM8K test set with the default settings
(13-grams, instruction + input + response). Prints the index build time, rows/s through the filter in one call
and in the flow's batches of 256 (best of 3), and a naive baseline measured in the same run: per row, its n-gram set
intersected with every benchmark item's (item sets built once, beforehand), on the first `--naive-rows` rows.
Both must flag the same rows.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import time

import polars as pl

from synthfoundry.benchmarks import GSM8K_TEST, _cached_index, index, load_items
from synthfoundry.filters import decontamination
from synthfoundry.filters.base import Tools, apply
from synthfoundry.recipes.metamath import default_seed_path
from synthfoundry.records import rows_frame

N = 13


def bench_rows(count: int) -> pl.DataFrame:
    rng = random.Random(0)
    train = [json.loads(line) for line in default_seed_path().read_text().splitlines()]
    test = load_items(GSM8K_TEST).texts.to_list()
    rows = []
    for i in range(count):
        item = train[i % len(train)]
        instruction = item["question"]
        if rng.random() < 0.05:
            instruction = re.sub(r"\d+", lambda m: str(rng.randrange(2, 999)), rng.choice(test))
        rows.append({"id": f"r{i}", "instruction": instruction, "input": "", "response": item["answer"]})
    return rows_frame(rows)


def naive_words(text: str) -> list[str]:
    text = re.sub(r"\d+(?:[.,]\d+)*", "#", (text or "").lower().replace("#", " "))
    return re.findall(r"[^\W\d_]+|#", re.sub(r"#(?:[^a-z#]*#)+", "#", text))


def naive_grams(text: str) -> set[tuple[str, ...]]:
    words = naive_words(text)
    return {tuple(words[i : i + N]) for i in range(len(words) - N + 1)}


def naive(frame: pl.DataFrame, items: list[set]) -> list[bool]:
    """Every row against every item."""
    flagged = []
    for row in frame.select("instruction", "input", "response").iter_rows():
        grams = [naive_grams(text) for text in row]
        flagged.append(any(g & item for g in grams for item in items))
    return flagged


def best_of(runs: int, work):
    """The fastest of a few runs (the machine is shared) and the result."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        result = work()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--naive-rows", type=int, default=300)
    args = parser.parse_args()
    frame = bench_rows(args.rows)
    tools = Tools(ask=None, embed=None, published=None)  # n-grams only: the filter asks for nothing
    config = decontamination.Config()

    _cached_index.cache_clear()
    start = time.perf_counter()
    built = index(GSM8K_TEST, N)
    build_s = time.perf_counter() - start
    print(f"index: {len(built.items.labels)} GSM8K test items, {len(built.ngrams.hashes)} distinct {N}-grams, "
          f"built in {build_s:.3f} s (once per process)")

    one_call_s, whole = best_of(3, lambda: apply(decontamination, frame, config, tools))
    batches_s, batched = best_of(3, lambda: [apply(decontamination, part, config, tools)
                                             for part in frame.iter_slices(256)])
    flagged = set(whole.dropped["id"])
    assert flagged == {i for b in batched for i in b.dropped["id"]}
    print(f"indexed: {args.rows} rows in {one_call_s:.2f} s = {args.rows / one_call_s:,.0f} rows/s (one call); "
          f"{batches_s:.2f} s = {args.rows / batches_s:,.0f} rows/s (batches of 256); {len(flagged)} flagged")

    item_grams = [naive_grams(text) for text in built.items.texts.to_list()]
    subset = frame.head(args.naive_rows)
    start = time.perf_counter()
    naive_flags = naive(subset, item_grams)
    naive_s = time.perf_counter() - start
    same = {i for i, f in zip(subset["id"], naive_flags) if f} == flagged & set(subset["id"])
    naive_rate = args.naive_rows / naive_s
    print(f"naive: {args.naive_rows} rows in {naive_s:.2f} s = {naive_rate:,.0f} rows/s; same rows flagged: {same}")
    print(f"speed-up: {args.rows / one_call_s / naive_rate:,.0f}x (one call), {args.rows / batches_s / naive_rate:,.0f}x "
          f"(batches); naive at {args.rows} rows would take ~{args.rows / naive_rate:,.0f} s")
    if not same:
        raise SystemExit("the indexed filter and the naive scan disagree")


if __name__ == "__main__":
    main()
