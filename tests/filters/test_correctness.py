from synthfoundry.filters.correctness import correctness_filter
from synthfoundry.records import rows_frame


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
    result = correctness_filter(frame())
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


def test_stage_name_and_threshold_are_the_callers():
    result = correctness_filter(frame(), stage="synthesis", min_score=0.0)
    assert result.kept["id"].to_list() == ["right", "wrong", "silent"]
    assert result.dropped["stage"].to_list() == ["synthesis"]
