"""Decontamination: what it catches and what it wrongly drops, per setting, on sets nobody here wrote; and its speed.

    python -m bench.decontamination --quality      # caught / false drops per setting (a few minutes: embeddings)
    python -m bench.decontamination [--rows 10000] [--naive-rows 300]   # speed

Quality sets:
- Self-Instruct: the 175 human seed tasks (Wang et al. 2022, Apache-2.0), split in two at random. One half is the
  benchmark (`columns: [instruction, instances[].input]`); its instructions and non-empty inputs, lightly edited (a
  word dropped, upper-cased, a sentence prepended, numbers changed), must be caught; the other half's instructions
  and inputs, unedited, are unrelated rows that must be kept (the hard case: the same kind of short instructions).
- GSM-Symbolic: 200 reasoning-gym `gsm_symbolic` questions (templates made from GSM8K test items, names and numbers
  changed) against the shipped GSM8K test set: the share caught.
- GSM8K train: its 7,473 questions against GSM8K test: the false drops (a few are real near-copies across the split).

Speed:

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
from pathlib import Path

import numpy as np
import polars as pl

from synthfoundry.benchmarks import GSM8K_TEST, Benchmark, _cached_index, index, load_items
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
    parser.add_argument("--quality", action="store_true", help="caught / false drops per setting instead of speed")
    args = parser.parse_args()
    if args.quality:
        return quality()
    frame = bench_rows(args.rows)
    tools = Tools(ask=None, embed=None, published=None)  # n-grams only: the filter asks for nothing
    config = decontamination.Config(embedding_threshold=None)  # n-grams; the embedding check costs MiniLM time

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


EDITS = {
    "a word dropped": lambda text, rng: _drop_word(text, rng),
    "upper-cased": lambda text, rng: text.upper(),
    "a sentence prepended": lambda text, rng: rng.choice(PREAMBLES) + " " + text,
    "numbers changed": lambda text, rng: re.sub(r"\d+", lambda m: str(int(m.group(0)) + rng.randint(1, 9)), text)
    if re.search(r"\d", text) else None,
}
PREAMBLES = ("Here is a task for you.", "Please help me with the following.", "Answer carefully.",
             "This one is from my homework.")


def _drop_word(text: str, rng: random.Random) -> str | None:
    words = text.split()
    if len(words) < 3:
        return None
    del words[rng.randrange(len(words))]
    return " ".join(words)


def self_instruct_sets(folder) -> tuple[Benchmark, dict[str, list[str]], list[str]]:
    """(the benchmark half, edited copies of its texts by edit, the other half's texts)."""
    from synthfoundry.recipes.self_instruct.seeds import default_seed_path as seed_tasks

    tasks = [json.loads(line) for line in seed_tasks().read_text().splitlines()]
    rng = random.Random(0)
    rng.shuffle(tasks)
    half = len(tasks) // 2
    path = folder / "self_instruct_half.jsonl"
    path.write_text("".join(json.dumps(task) + "\n" for task in tasks[:half]))
    benchmark = Benchmark(name="self_instruct", path=str(path),
                                          columns=("instruction", "instances[].input"))

    def texts(part):
        return [t["instruction"] for t in part] + [i["input"] for t in part for i in t["instances"] if i["input"]]

    edited = {edit: [e for text in texts(tasks[:half]) if (e := change(text, rng))] for edit, change in EDITS.items()}
    return benchmark, edited, texts(tasks[half:])


CACHE = Path("/tmp/synthfoundry-bench-decontamination-vectors.npz")


def caching(embed):
    """The embedder with a memory (kept under /tmp between runs): every setting embeds the same rows."""
    known: dict[str, np.ndarray] = {}
    if CACHE.exists():
        with np.load(CACHE) as cached:
            known = dict(zip(cached["texts"].tolist(), cached["vectors"]))

    def cached(texts: list[str]) -> np.ndarray:
        missing = [text for text in dict.fromkeys(texts) if text not in known]
        if missing:
            known.update(zip(missing, embed(missing)))
            np.savez(CACHE, texts=np.array(list(known)), vectors=np.stack(list(known.values())))
        return np.stack([known[text] for text in texts]) if texts else embed([])

    return cached


def reference_sentences(count: int) -> list[str]:
    """Sentences of Python's own reference prose (pydoc topics), 4-30 words: short unrelated texts."""
    from pydoc_data.topics import topics

    sentences = {
        sentence for topic in sorted(topics) for sentence in re.split(r"(?<=[.!?])\s+", " ".join(topics[topic].split()))
        if 4 <= len(sentence.split()) <= 30 and not re.search(r"[{}=<>]|\w\(", sentence)
    }
    return random.Random(0).sample(sorted(sentences), count)


def dropped(texts: list[str], settings: dict, tools: Tools) -> int:
    rows = rows_frame([{"id": str(i), "instruction": text} for i, text in enumerate(texts)])
    config = decontamination.Config(fields=("instruction",), **settings)
    return apply(decontamination, rows, config, tools).dropped.height


SETTINGS = {
    "13-grams, short texts unchecked (before)": {"shortest": 13, "embedding_threshold": None},
    "13-grams, short texts whole down to 8 words": {"shortest": 8, "embedding_threshold": None},
    "13-grams, short texts whole down to 6 words": {"shortest": 6, "embedding_threshold": None},
    "13-grams, short texts whole down to 4 words": {"shortest": 4, "embedding_threshold": None},
    "whole down to 8 + embedding cosine >= 0.9": {"shortest": 8, "embedding_threshold": 0.9},
    "whole down to 6 + embedding cosine >= 0.9": {"shortest": 6, "embedding_threshold": 0.9},
    "whole down to 4 + embedding cosine >= 0.9": {"shortest": 4, "embedding_threshold": 0.9},
    "whole down to 6 + embedding cosine >= 0.85": {"shortest": 6, "embedding_threshold": 0.85},
    "whole down to 6 + embedding cosine >= 0.8": {"shortest": 6, "embedding_threshold": 0.8},
}


def quality() -> None:
    import tempfile

    import reasoning_gym

    from synthfoundry.embeddings import embed

    tools = Tools(ask=None, embed=caching(embed), published=None)
    benchmark, edited, other_half = self_instruct_sets(Path(tempfile.mkdtemp()))
    unrelated = other_half + reference_sentences(1000)
    symbolic = [item["question"] for item in reasoning_gym.create_dataset("gsm_symbolic", size=200, seed=42)]
    train = [json.loads(line)["question"] for line in default_seed_path().read_text().splitlines()]
    total = sum(len(texts) for texts in edited.values())
    print(f"Self-Instruct half as benchmark: {total} edited copies "
          f"({', '.join(f'{edit} {len(texts)}' for edit, texts in edited.items())}); unrelated: the other half's "
          f"{len(other_half)} texts and {len(unrelated) - len(other_half)} sentences of Python's reference prose")
    print(f"{'setting':<46} {'caught':>13} " + " ".join(f"{edit:>20}" for edit in edited)
          + f" {'false drops':>12} {'GSM-Symbolic':>13} {'GSM8K train':>12}")
    for label, settings in SETTINGS.items():
        mine = {**settings, "benchmarks": (benchmark,)}
        caught = {edit: dropped(texts, mine, tools) for edit, texts in edited.items()}
        false = dropped(unrelated, mine, tools)
        gsm_symbolic, gsm8k_train = dropped(symbolic, settings, tools), dropped(train, settings, tools)
        print(f"{label:<46} {sum(caught.values()):>5}/{total} {sum(caught.values()) / total:>6.1%} "
              + " ".join(f"{caught[edit]:>9}/{len(texts)} {caught[edit] / len(texts):>6.1%}"
                         for edit, texts in edited.items())
              + f" {false:>5}/{len(unrelated)} {gsm_symbolic / len(symbolic):>12.1%} {gsm8k_train:>6}/{len(train)}",
              flush=True)


if __name__ == "__main__":
    main()
