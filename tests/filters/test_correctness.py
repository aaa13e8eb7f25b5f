import polars as pl

from synthfoundry.filters import correctness
from synthfoundry.filters.base import apply
from synthfoundry.records import rows_frame
from tests.filters.tools import tools


def frame():
    rows = [
        ("right", "Half of 1 is... The answer is: \\frac{1}{2}", "0.5"),
        ("wrong", "So the answer is: 12", "110"),
        ("silent", "I am not sure how to do this.", "110"),
        ("empty", None, "110"),
    ]
    return rows_frame(
        [
            {"id": name, "instruction": f"question {name}", "response": response, "answer": answer,
             "verifier": "math_verify"}
            for name, response, answer in rows
        ]
    )


def test_keeps_verified_rows_and_ledgers_the_rest_with_reason_and_score():
    result = apply(correctness, frame(), correctness.Config(), tools())
    assert result.kept["id"].to_list() == ["right"]
    assert result.kept["decisions"][0].to_list() == [{"stage": "correctness", "score": 1.0}]
    reasons = dict(zip(result.dropped["id"], result.dropped["reason"]))
    assert reasons == {
        "wrong": "answer does not verify: expected 110, got 12",
        "silent": "no final answer found in the response (expected 110)",
        "empty": "no response to verify",
    }
    assert result.dropped["score"].to_list() == [0.0, 0.0, 0.0]
    assert set(result.dropped["stage"]) == {"correctness"}


def test_threshold_is_the_configs():
    result = apply(correctness, frame(), correctness.Config(min_score=0.0), tools())
    assert result.kept["id"].to_list() == ["right", "wrong", "silent"]


def test_rows_without_ground_truth_are_ledgered_not_guessed():
    rows = frame().with_columns(pl.lit(None, pl.String).alias("answer"))
    result = apply(correctness, rows, correctness.Config(), tools())
    assert result.kept.height == 0
    assert set(result.dropped["reason"]) - {"no response to verify"} == {
        "no ground truth to verify against (the row has no answer or verifier)"
    }


def test_one_per_prompt_keeps_the_first_verified_sample():
    samples = rows_frame([
        {"id": f"s{k}", "sample_of": "q1", "instruction": "1/2?", "response": response, "answer": "0.5",
         "verifier": "math_verify"}
        for k, response in enumerate(["The answer is 3", "The answer is 0.5", "The answer is 1/2"])
    ] + [{"id": "q2", "instruction": "2/4?", "response": "The answer is 0.5", "answer": "0.5", "verifier": "math_verify"}])
    result = apply(correctness, samples, correctness.Config(one_per_prompt=True), tools())
    assert result.kept["id"].to_list() == ["s1", "q2"]
    assert dict(zip(result.dropped["id"], result.dropped["reason"]))["s2"] == (
        "another verified sample of this prompt is kept"
    )


def test_an_unknown_verifier_or_unreadable_ground_truth_is_a_ledger_reason():
    rows = rows_frame([
        {"id": "typo", "instruction": "q", "response": "42", "answer": "42", "verifier": "numerik"},
        {"id": "gold", "instruction": "q", "response": "42", "answer": "many", "verifier": "numeric"},
        {"id": "fine", "instruction": "q", "response": "The answer is (C)", "answer": "C", "verifier": "choice"},
    ])
    result = apply(correctness, rows, correctness.Config(), tools())
    assert result.kept["id"].to_list() == ["fine"]
    reasons = dict(zip(result.dropped["id"], result.dropped["reason"]))
    assert reasons["typo"].startswith("unknown verifier 'numerik' (known: ")
    assert reasons["gold"] == "the ground truth 'many' is not an answer this verifier can read"
