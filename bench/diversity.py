"""Near-duplicate filters at 10 k and 100 k rows: this project against semhash, exact numpy and Self-Instruct's
pairwise ROUGE-L, on a planted near-duplicate set built deterministically from shipped text.

    PYTHONPATH=. .venv/bin/python -m bench.diversity                 # 10 k and 100 k rows
    PYTHONPATH=. .venv/bin/python -m bench.diversity --sizes 10000   # a quick look
    PYTHONPATH=. .venv/bin/python -m bench.diversity --methods index --sizes 10000,30000,100000 --vectors tfidf
                                      # the k-means cells' recall of the exact search (above 20 k rows)

The set: distinct base texts (GSM8K questions and solution steps, Self-Instruct seed tasks, the shipped documents,
Python's own reference prose, reasoning-gym's GSM-style questions, one per template and numbers), 15 % planted
near-duplicates (two of: dropped words, synonyms, punctuation/case, swapped sentences; a copy holding numbers keeps
their digits, reformats them (1,000 / 3.0) or writes them in words ("forty-eight", "three quarters"), a third each)
placed after their original, and 10 % GSM8K questions whose numbers were all changed (different problems: they must
be kept; half of them written in words). MiniLM vectors are computed once and cached under /tmp. Each method runs in
a process of its own so its peak RSS is its own.
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import numpy as np
import polars as pl

from bench.planted import SPELLINGS, Row, planted_set

CACHE = Path("/tmp/synthfoundry-bench-vectors.npz")


def vectors_of(texts: list[str]) -> np.ndarray:
    """MiniLM vectors, cached under /tmp per text (100 k texts take minutes on 2 cores): only new texts are
    embedded, so the 10 k and 100 k sets share their work."""
    known: dict[str, np.ndarray] = {}
    if CACHE.exists():
        with np.load(CACHE) as cached:
            known = dict(zip(cached["texts"].tolist(), cached["vectors"]))
    missing = sorted(set(texts) - known.keys())
    if missing:
        from synthfoundry.embeddings import embed

        started = time.perf_counter()
        known.update(zip(missing, embed(missing, batch_size=128)))
        print(f"  embedded {len(missing)} texts in {time.perf_counter() - started:.0f} s (cached in {CACHE})", flush=True)
        np.savez(CACHE, texts=np.array(list(known)), vectors=np.stack(list(known.values())))
    return np.stack([known[text] for text in texts])


def forked(job, *args):
    """Run `job(*args)` in a fresh process (spawned: polars and BLAS thread pools do not survive a fork); returns
    (its result, seconds, the peak RSS it added to its process after receiving its inputs, in MiB)."""
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_timed, (job, *args))


def _timed(job, *args):
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak to the current RSS: inputs are not counted
    start_rss = _rss_kib()
    started = time.perf_counter()
    result = job(*args)
    return result, time.perf_counter() - started, (_peak_rss_kib() - start_rss) / 1024


def _rss_kib() -> int:
    return int(re.search(r"VmRSS:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def _peak_rss_kib() -> int:
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1))


def frame_of(rows: list[Row], vectors: np.ndarray) -> pl.DataFrame:
    return pl.DataFrame({"id": [str(i) for i in range(len(rows))], "instruction": [r.text for r in rows]}).with_columns(
        pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, vectors.shape[1]))
    )


def project_step(name: str, settings: dict, frame: pl.DataFrame, published=None) -> np.ndarray:
    """A filter step exactly as a run calls it (judge on the run's frame, against a real store: by default an
    empty one); returns the kept mask."""
    import tempfile

    from synthfoundry.dataset import DatasetStore
    from synthfoundry.filters import FILTERS
    from synthfoundry.filters.base import Tools

    step = FILTERS[name]
    store = published or DatasetStore(tempfile.mkdtemp(), "bench")
    verdicts = step.judge(frame, step.Config(**settings), Tools(ask=None, embed=None, published=store))
    return np.array([reason is None for reason in verdicts.reasons])


def across_versions(settings: dict, frame: pl.DataFrame) -> np.ndarray:
    """The set as two nightly versions: its first half filtered and published, then its second half filtered
    against what was published (the store's lookup and number-aware neighbours); the publish is timed too."""
    import tempfile

    from synthfoundry.dataset import DatasetStore

    store = DatasetStore(tempfile.mkdtemp(), "bench")
    half = frame.height // 2
    first = project_step("diversity", settings, frame[:half], store)
    store.publish(frame[:half].filter(first), pl.DataFrame(schema={"id": pl.String}), {"run_id": "night-1"})
    return np.concatenate([first, project_step("diversity", settings, frame[half:], store)])


def exact_numpy(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Greedy in order against every kept row, one block of exact cosines at a time (the project's old filter)."""
    n, block = len(vectors), 1024
    kept = np.zeros(n, dtype=bool)
    for start in range(0, n, block):
        rows = vectors[start : start + block]
        earlier = vectors[:start][kept[:start]]
        best = (rows @ earlier.T).max(axis=1) if len(earlier) else np.zeros(len(rows), np.float32)
        within = rows @ rows.T
        for i in range(len(rows)):
            previous = np.flatnonzero(kept[start : start + i])
            kept[start + i] = max(best[i], within[i, previous].max() if len(previous) else 0.0) <= threshold
    return kept


def semhash(texts: list[str], vectors: np.ndarray, threshold: float) -> np.ndarray:
    """semhash's self-deduplication on the same MiniLM vectors (its default USEARCH ANN backend)."""
    from semhash import SemHash

    class Precomputed:  # semhash asks an encoder for vectors only when it has none
        def encode(self, sentences, **_):
            raise AssertionError("vectors are precomputed")

    records = [{"id": str(i), "text": text} for i, text in enumerate(texts)]
    index = SemHash.from_embeddings(vectors, records, model=Precomputed(), columns=["text"])
    result = index.self_deduplicate(threshold=threshold)
    kept = np.zeros(len(texts), dtype=bool)
    kept[[int(record["id"]) for record in result.selected]] = True
    return kept


def old_rouge_pool():
    """Self-Instruct's check as the project had it: rouge-score's LCS against every pool member, in Python."""
    from rouge_score import rouge_scorer, tokenizers

    tokenize = tokenizers.DefaultTokenizer(use_stemmer=False).tokenize

    class PairwisePool:
        def __init__(self, texts=()):
            self.tokenize = tokenize
            self.tokens = [tokenize(t) for t in texts]

        def max_similarity(self, text):
            tokens = tokenize(text)
            return max((rouge_scorer._score_lcs(ref, tokens).fmeasure for ref in self.tokens), default=0.0)

    return PairwisePool


def quality(kept: np.ndarray, rows: list[Row]) -> dict:
    kinds = np.array([row.kind for row in rows])
    spellings = np.array([row.spelling for row in rows])
    dropped = ~kept
    planted = kinds == "planted"
    found = (dropped & planted).sum()
    return {
        "recall": found / max(1, planted.sum()),
        "precision": found / max(1, dropped.sum()),
        "changed_kept": kept[kinds == "changed"].mean(),
        "by_spelling": {
            spelling: (dropped[planted & (spellings == spelling)].mean(), kept[(kinds == "changed") & (spellings ==
                       spelling)].mean() if spelling in ("digits", "words") else float("nan"))
            for spelling in SPELLINGS
        },
    }


def lexical_vectors(texts: list[str], dims: int = 384) -> np.ndarray:
    """Word and word-pair TF-IDF of the texts, randomly projected to `dims` and unit-normalised: vectors with the
    set's own near-duplicate and topic structure in seconds (MiniLM takes minutes per 10 k texts on 2 busy cores),
    for measuring the k-means cells against the exact search at sizes MiniLM is too slow to embed here."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.random_projection import GaussianRandomProjection

    sparse = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
    dense = GaussianRandomProjection(dims, random_state=0).fit_transform(sparse)
    return (dense / np.maximum(np.linalg.norm(dense, axis=1, keepdims=True), 1e-12)).astype(np.float32)


def index_recall(vectors: np.ndarray, texts: list[str]) -> dict:
    """The diversity step's k-means cells against its exact search on the same vectors and numbers, at the cosine
    threshold (0.9) and at the word-overlap floor (0.75: every pair the word rule could see): per threshold, the
    share of the rows the exact search drops that the cells drop too, the rows missed, and both times."""
    from synthfoundry.filters import diversity
    from synthfoundry.similarity.numbers import number_codes

    numbers = number_codes(texts)
    exact_up_to, found = diversity._EXACT_UP_TO, {}
    for threshold in (0.9, 0.75):
        dropped = {}
        for name, limit in (("cells", exact_up_to), ("exact", len(vectors))):
            diversity._EXACT_UP_TO = limit
            started = time.perf_counter()
            dropped[name] = (~diversity.greedy_novel(vectors, threshold, numbers)[0], time.perf_counter() - started)
        diversity._EXACT_UP_TO = exact_up_to
        (cells, cells_seconds), (exact, exact_seconds) = dropped["cells"], dropped["exact"]
        found[threshold] = {"recall": (cells & exact).sum() / max(1, exact.sum()), "missed": int((exact & ~cells).sum()),
                            "extra": int((cells & ~exact).sum()), "cells_seconds": cells_seconds,
                            "exact_seconds": exact_seconds}
    return found


def rouge_speed(texts: list[str], candidates: int, baseline_candidates: int, budget: float) -> dict:
    """Per-candidate seconds against a pool of 10 k texts: the exact pool and the pairwise baseline, with whether
    both give the same scores; and Self-Instruct's admit loop (ROUGE-L <= 0.7 joins the pool) run pairwise for
    `budget` seconds against the exact pool on the same prefix of the set."""
    from synthfoundry.similarity.rouge import RougePool

    pool_size = min(10_000, len(texts) - candidates)
    pool_texts, probe = texts[:pool_size], texts[pool_size : pool_size + candidates]
    fast, slow = RougePool(pool_texts), old_rouge_pool()(pool_texts)
    started = time.perf_counter()
    fast_scores = [fast.max_similarity(text) for text in probe]
    fast_seconds = (time.perf_counter() - started) / len(probe)
    started = time.perf_counter()
    slow_scores = [slow.max_similarity(text) for text in probe[:baseline_candidates]]
    slow_seconds = (time.perf_counter() - started) / baseline_candidates
    slow, admitted, started = old_rouge_pool()(), [], time.perf_counter()
    while time.perf_counter() - started < budget and len(admitted) < len(texts):
        score = slow.max_similarity(texts[len(admitted)])
        if score <= 0.7:
            slow.tokens.append(slow.tokenize(texts[len(admitted)]))
        admitted.append(score <= 0.7)
    fast, started = RougePool(), time.perf_counter()
    same_admits = [fast.admit(text, 0.7) <= 0.7 for text in texts[: len(admitted)]] == admitted
    return {"pool": pool_size, "fast": fast_seconds, "slow": slow_seconds,
            "same": fast_scores[:baseline_candidates] == slow_scores, "admitted": len(admitted),
            "admit_fast": time.perf_counter() - started, "same_admits": same_admits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated row counts")
    parser.add_argument("--threshold", type=float, default=0.9, help="cosine threshold for the embedding methods")
    parser.add_argument("--rouge-candidates", type=int, default=200, help="candidates timed against the ROUGE pool")
    parser.add_argument("--rouge-budget", type=float, default=60, help="seconds for the pairwise admit loop")
    parser.add_argument("--methods", default="all", help="all | index (the cells' recall of the exact search only)")
    parser.add_argument("--vectors", default="minilm", help="index: minilm (cached under /tmp) | tfidf (seconds)")
    args = parser.parse_args()
    for size in map(int, args.sizes.split(",")):
        rows = planted_set(size)
        texts = [row.text for row in rows]
        if args.methods == "index":
            for kind, vectors in (("minilm", vectors_of(texts)) if args.vectors == "minilm" else
                                  ("tf-idf", lexical_vectors(texts)),):
                found, _, _ = forked(index_recall, vectors, texts)
                for threshold, figures in found.items():
                    print(f"{size:>7} {kind} vectors, cosine > {threshold}: the cells drop {figures['recall']:.4f} of "
                          f"the rows the exact search drops ({figures['missed']} missed, {figures['extra']} extra); "
                          f"{figures['cells_seconds']:.1f} s vs {figures['exact_seconds']:.1f} s", flush=True)
            continue
        vectors = vectors_of(texts)
        frame = frame_of(rows, vectors)
        print(f"{'rows':>7} {'method':<44} {'seconds':>8} {'peak MiB':>9} {'recall':>7} {'precision':>9} "
              f"{'changed kept':>12}  recall / changed kept by spelling: " + ", ".join(SPELLINGS))
        methods = [
            ("this project: diversity (number-aware)", project_step, "diversity", {"threshold": args.threshold}, frame),
            ("this project: diversity, as two versions", across_versions, {"threshold": args.threshold}, frame),
            ("this project: diversity, number_aware off", project_step, "diversity",
             {"threshold": args.threshold, "number_aware": False}, frame),
            ("this project: minhash (3-gram, J > 0.5)", project_step, "minhash",
             {"threshold": 0.5, "ngram": 3}, frame),
            ("this project: rouge (ROUGE-L > 0.7)", project_step, "rouge", {"threshold": 0.7}, frame),
            ("exact numpy (greedy, blocked)", exact_numpy, vectors, args.threshold),
            ("semhash 0.5.0 (same MiniLM vectors)", semhash, texts, vectors, args.threshold),
        ]
        for label, job, *job_args in methods:
            try:
                kept, seconds, peak = forked(job, *job_args)
            except ModuleNotFoundError as missing:  # semhash comes with the bench extra
                print(f"{size:>7} {label:<44} skipped: {missing} (pip install -e '.[bench]')", flush=True)
                continue
            q = quality(kept, rows)
            spelled = "  ".join(f"{recall:.3f}/{kept:.3f}" for recall, kept in q["by_spelling"].values())
            print(f"{size:>7} {label:<44} {seconds:>8.1f} {peak:>9.0f} {q['recall']:>7.3f} {q['precision']:>9.3f}"
                  f" {q['changed_kept']:>12.3f}  {spelled}", flush=True)
        speed = rouge_speed(texts, args.rouge_candidates, 3, args.rouge_budget)
        print(f"{size:>7} ROUGE-L, pool of {speed['pool']}: {speed['fast'] * 1e3:.1f} ms a candidate; pairwise"
              f" rouge-score {speed['slow']:.2f} s ({speed['slow'] / speed['fast']:.0f}x); same scores: {speed['same']}")
        print(f"{size:>7} Self-Instruct admit loop, pairwise: {speed['admitted']} rows in {args.rouge_budget:.0f} s;"
              f" this project: the same rows in {speed['admit_fast']:.2f} s, same decisions: {speed['same_admits']}",
              flush=True)


if __name__ == "__main__" and os.environ.get("BENCH_EMBED_ONLY"):
    for size in map(int, os.environ["BENCH_EMBED_ONLY"].split(",")):
        vectors_of([row.text for row in planted_set(size)])
elif __name__ == "__main__":
    main()
