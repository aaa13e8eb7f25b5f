from functools import partial

import numpy as np
import polars as pl

from synthfoundry.dataset import DatasetStore
from synthfoundry.filters import diversity
from synthfoundry.filters.base import apply
from synthfoundry.filters.diversity import greedy_novel
from tests.filters.tools import tools


def unit(*rows):
    v = np.array(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def frame(n):
    return pl.DataFrame({"id": [f"r{i}" for i in range(n)], "instruction": [f"text {chr(97 + i)}" for i in range(n)]})


def test_greedy_keeps_first_of_near_duplicates():
    vectors = unit([1, 0, 0], [0.99, 0.1, 0], [0, 1, 0], [0, 0.99, 0.05])
    kept, best = greedy_novel(vectors, 0.9)
    assert kept.tolist() == [True, False, True, False]
    assert best[1] > 0.99 and best[3] > 0.99


def test_greedy_compares_only_with_kept_rows():
    # b is close to a (dropped); c is close to b but not to a: c must survive, since b was never kept
    a, b, c = unit([1, 0], [0.95, 0.312], [0.8, 0.6])
    kept, _ = greedy_novel(np.stack([a, b, c]), 0.94)
    assert kept.tolist() == [True, False, True]


def test_greedy_across_blocks(monkeypatch):
    import synthfoundry.filters.diversity as diversity

    monkeypatch.setattr(diversity, "_BLOCK", 2)
    vectors = unit([1, 0, 0], [0, 1, 0], [0, 0, 1], [0.999, 0.01, 0], [0, 0.01, 0.999])
    kept, _ = greedy_novel(vectors, 0.9)
    assert kept.tolist() == [True, True, True, False, False]


def test_threshold_is_strict_greater_than():
    vectors = unit([1, 0], [0.6, 0.8])  # cosine exactly 0.6
    assert greedy_novel(vectors, 0.6)[0].tolist() == [True, True]
    assert greedy_novel(vectors, 0.59)[0].tolist() == [True, False]


def with_vectors(rows, vectors):
    return rows.with_columns(pl.Series("vector", vectors, dtype=pl.Array(pl.Float32, vectors.shape[1])))


def published(tmp_path, vectors, texts=None) -> DatasetStore:
    """A real store holding one version of these rows."""
    store = DatasetStore(tmp_path / "published", "test")
    texts = texts or [f"published {i}" for i in range(len(vectors))]
    rows = pl.DataFrame({"id": [f"p{i}" for i in range(len(vectors))], "instruction": texts})
    store.publish(with_vectors(rows, vectors), pl.DataFrame(schema={"id": pl.String}), {"run_id": "earlier"})
    return store


def test_filter_drops_rows_close_to_published_and_accounts_for_all(tmp_path):
    vectors = unit([1, 0, 0], [0, 1, 0], [0, 0.99, 0.1], [0, 0, 1])
    store = published(tmp_path, unit([1, 0.05, 0]), ["text a"])
    result = apply(diversity, with_vectors(frame(4), vectors), diversity.Config(), tools(store))
    assert result.kept["id"].to_list() == ["r1", "r3"]
    reasons = dict(zip(result.dropped["id"], result.dropped["reason"]))
    assert "published row" in reasons["r0"]
    assert "kept in this run" in reasons["r2"]
    assert result.counts == {"in": 4, "kept": 2, "dropped": 2}
    assert result.kept["vector"].dtype == pl.Array(pl.Float32, 3)
    assert [d["stage"] for d in result.kept["decisions"][0]] == ["diversity"]


def test_filter_on_empty_frame():
    empty = with_vectors(frame(0), np.zeros((0, 3), np.float32))
    result = apply(diversity, empty, diversity.Config(), tools())
    assert result.counts == {"in": 0, "kept": 0, "dropped": 0}


def test_rows_with_different_numbers_are_never_duplicates():
    # identical vectors: only the numbers tell the rows apart
    vectors = unit([1, 0], [1, 0], [1, 0], [1, 0])
    rows = pl.DataFrame({
        "id": ["a", "b", "c", "d"],
        "instruction": ["Tom has 3 apples and buys 5.", "Tom has 4 apples and buys 5.",
                        "Tom has 3 apples and buys 5!", "Tom has 5 apples, buys 3."],
    })
    result = apply(diversity, with_vectors(rows, vectors), diversity.Config(), tools())
    assert result.kept["id"].to_list() == ["a", "b"]
    assert "with the same numbers" in result.dropped["reason"][0]
    plain = apply(diversity, with_vectors(rows, vectors), diversity.Config(number_aware=False),
                  tools())
    assert plain.kept["id"].to_list() == ["a"]


def test_published_rows_with_other_numbers_are_not_duplicates_but_reworded_copies_are(tmp_path):
    store = published(tmp_path, unit([1, 0], [0, 1]), ["Tom has 3 apples and buys 5.", "A list of fruits."])
    rows = pl.DataFrame({
        "id": ["variant", "copy", "reworded"],
        "instruction": ["Tom has 4 apples and buys 5.", "Tom has 3 apples and buys 5!", "A LIST OF FRUITS"],
    })
    vectors = unit([1, 0.01], [1, 0.02], [0.6, 0.8])  # the reworded copy: cosine 0.8, in the word-overlap band
    result = apply(diversity, with_vectors(rows, vectors), diversity.Config(), tools(store))
    assert result.kept["id"].to_list() == ["variant"]
    reasons = dict(zip(result.dropped["id"], result.dropped["reason"]))
    assert reasons["copy"].endswith("> 0.9 to a published row with the same numbers")
    assert reasons["reworded"] == "cosine 0.800 and word overlap > 0.6 to a published row with the same numbers"
    plain = apply(diversity, with_vectors(rows, vectors), diversity.Config(number_aware=False, word_overlap=None),
                  tools(store))
    assert plain.kept["id"].to_list() == ["reworded"]


def test_a_copy_ranked_below_many_published_variants_is_still_found(tmp_path):
    """20 published variants (other numbers) are nearer than a published copy with the row's own numbers: the
    copy is past the first 16 neighbours, and still found."""
    dims = 32
    axis = np.eye(dims, dtype=np.float32)
    variants = [0.99 * axis[0] + np.sqrt(1 - 0.99**2) * axis[i] for i in range(1, 21)]
    copy = 0.96 * axis[0] + np.sqrt(1 - 0.96**2) * axis[21]
    texts = [f"Tom has {i + 10} apples and buys 5." for i in range(20)] + ["Tom has 3 apples and buys 5."]
    store = published(tmp_path, np.stack([*variants, copy]), texts)
    row = with_vectors(pl.DataFrame({"id": ["new"], "instruction": ["Tom has 3 apples and buys 5!"]}), axis[:1])
    result = apply(diversity, row, diversity.Config(threshold=0.95, word_overlap=None), tools(store))
    assert result.kept.height == 0
    assert result.dropped["reason"][0] == "cosine 0.960 > 0.95 to a published row with the same numbers"


def test_a_publish_keeps_maths_variants_another_run_published_meanwhile(tmp_path):
    """The publish's re-check under its lock applies the run's own rule: a variant with other numbers that a
    concurrent run published meanwhile stays apart from this run's rows; a copy of it does not."""
    store = published(tmp_path, unit([0, 1]), ["A list of fruits."])  # v1: what this run's filters compared with
    store.publish(with_vectors(pl.DataFrame({"id": ["other"], "instruction": ["Tom has 3 apples and buys 5."]}),
                               unit([1, 0])), pl.DataFrame(schema={"id": pl.String}), {"run_id": "concurrent"})
    rows = with_vectors(pl.DataFrame({"id": ["variant", "copy"],
                                      "instruction": ["Tom has 4 apples and buys 5.", "Tom has 3 apples and buys 5!"]}),
                        unit([1, 0.01], [1, 0.02]))
    recheck = partial(diversity.recheck, config=diversity.Config(), text_column="instruction")
    version = store.publish(rows, pl.DataFrame(schema={"id": pl.String}), {"run_id": "this", "compared_with": "v1"},
                            recheck)
    assert store.read(version.number)["id"].to_list() == ["p0", "other", "variant"]
    dropped = store.ledger(version.number)
    assert dropped["id"].to_list() == ["copy"]
    assert dropped["reason"][0].endswith("> 0.9 to a row published meanwhile with the same numbers")


def test_copies_with_numbers_spelled_otherwise_are_duplicates_in_the_run_and_against_published_rows(tmp_path):
    """Real MiniLM vectors: a copy that writes its numbers in words is the same problem, a variant written in words
    with other numbers is not, in the run and against a published row alike."""
    from synthfoundry.embeddings import embed

    original = "Janet's ducks lay 16 eggs per day. She eats 3 and sells the rest at $2 each, or 1,000 a year."
    texts = [
        original,
        "Janet's ducks lay sixteen eggs per day. She eats three and sells the rest at $2.00 each, or one thousand a year.",
        "Janet's ducks lay seventeen eggs per day. She eats three and sells the rest at $2 each, or one thousand a year.",
    ]
    rows = with_vectors(pl.DataFrame({"id": ["original", "in words", "variant"], "instruction": texts}), embed(texts))
    in_run = apply(diversity, rows, diversity.Config(), tools())
    assert in_run.kept["id"].to_list() == ["original", "variant"]
    assert in_run.dropped["reason"][0].endswith("to a row kept in this run with the same numbers")
    store = published(tmp_path, embed([original]), [original])
    against_published = apply(diversity, rows[1:], diversity.Config(), tools(store))
    assert against_published.kept["id"].to_list() == ["variant"]
    assert against_published.dropped["reason"][0].endswith("to a published row with the same numbers")


def test_samples_of_one_prompt_are_not_duplicates_of_each_other():
    vectors = unit([1, 0], [1, 0], [1, 0], [1, 0])
    rows = pl.DataFrame({
        "id": ["p1-a", "p1-b", "p2-a", "solo"],
        "instruction": ["Write a haiku."] * 4,
        "sample_of": ["p1", "p1", "p2", None],
    })
    result = apply(diversity, with_vectors(rows, vectors), diversity.Config(), tools())
    assert result.kept["id"].to_list() == ["p1-a", "p1-b"]
    assert sorted(result.dropped["id"]) == ["p2-a", "solo"]


def test_large_runs_use_k_means_cells_and_find_the_same_duplicates(monkeypatch):
    rng = np.random.default_rng(0)
    originals = unit(*rng.normal(size=(1500, 32)))
    copies = unit(*(originals[:300] + rng.normal(scale=0.05, size=(300, 32))))
    vectors = np.concatenate([originals, copies]).astype(np.float32)
    exact_kept, exact_best = greedy_novel(vectors, 0.9)
    monkeypatch.setattr(diversity, "_EXACT_UP_TO", 100)
    monkeypatch.setattr(diversity, "_ROWS_PER_CELL", 60)
    cells = diversity._cells(vectors)
    assert len(cells) > 10 and sum(len(members) for members, _ in cells) == len(vectors)
    kept, best = greedy_novel(vectors, 0.9)
    # random vectors have no cluster structure (the index's worst case): every copy found with 16 probes (4: 298)
    assert (~kept[1500:]).all() and (~exact_kept[1500:]).all()
    assert (kept == exact_kept).all()
    assert np.allclose(best[~kept], exact_best[~kept])


def test_word_overlap_catches_reformatted_copies_the_embedding_moved():
    # cosine 0.8 between every pair: below the threshold, above the word-overlap floor
    vectors = unit([1, 0, 0], [0.8, 0.6, 0], [0.8, 0, 0.6])
    rows = pl.DataFrame({
        "id": ["a", "b", "c"],
        "instruction": ["So he volunteers for 24*3=72 hours.", "SO HE VOLUNTEERS FOR 24.0*3.0=72.0 HOURS",
                        "Then 24*3=72 apples went to the market."],
    })
    nothing = tools()
    result = apply(diversity, with_vectors(rows, vectors), diversity.Config(), nothing)
    assert result.kept["id"].to_list() == ["a", "c"]
    assert result.dropped["reason"][0] == "cosine 0.800 and word overlap > 0.6 to a row kept in this run with the same numbers"
    cosine_only = apply(diversity, with_vectors(rows, vectors), diversity.Config(word_overlap=None), nothing)
    assert cosine_only.counts["kept"] == 3
    above_floor = apply(diversity, with_vectors(rows, vectors), diversity.Config(word_overlap_floor=0.85), nothing)
    assert above_floor.counts["kept"] == 3
