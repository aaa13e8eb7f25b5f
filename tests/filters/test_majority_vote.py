import polars as pl
import pytest

from synthfoundry.config import ConfigError, parse_config
from synthfoundry.filters import majority_vote
from synthfoundry.filters.base import apply
from synthfoundry.records import rows_frame
from tests.filters.tools import tools


def samples(prompt, responses, answer=None, verifier=None):
    return [
        {"id": f"{prompt}-{k}", "sample_of": prompt, "instruction": f"question {prompt}", "response": response,
         "answer": answer, "verifier": verifier}
        for k, response in enumerate(responses)
    ]


def vote(rows, **settings):
    return apply(majority_vote, rows_frame(rows), majority_vote.Config(**settings), tools())


def reasons(result):
    return dict(zip(result.dropped["id"], result.dropped["reason"]))


def test_keeps_the_majority_answers_samples_without_ground_truth():
    rows = samples("p", ["So it is 1/2", "The answer is 0.5", "I get 3", "\\boxed{\\frac{2}{4}}"])
    result = vote(rows)
    assert result.kept["id"].to_list() == ["p-0", "p-1", "p-3"]  # 1/2, 0.5 and 2/4 are one answer
    assert reasons(result) == {"p-2": "minority answer 3 (majority 1/2, agreement 0.75)"}
    assert result.kept["agreement"].to_list() == [0.75] * 3
    assert result.kept["decisions"][0].to_list() == [{"stage": "majority_vote", "score": 0.75}]
    assert result.dropped["score"].to_list() == [0.75]


def test_keep_one_keeps_the_first_majority_sample():
    result = vote(samples("p", ["#### 7", "#### 8", "#### 7"], verifier="numeric"), keep="one")
    assert result.kept["id"].to_list() == ["p-0"]
    assert reasons(result) == {
        "p-1": "minority answer 8 (majority 7, agreement 0.67)",
        "p-2": "another sample with the majority answer 7 is kept",
    }


def test_low_agreement_ties_and_silent_samples():
    rows = (
        samples("low", ["1", "2", "3", "4", "4"], verifier="numeric")
        + samples("tie", ["(A)", "(B)"], verifier="choice")
        + samples("quiet", ["I give up", "no idea", "42"], verifier="numeric")
        + samples("solo", ["It is 5"], verifier="numeric")
    )
    result = vote(rows)
    assert result.kept["id"].to_list() == ["solo-0"]
    got = reasons(result)
    assert {got[f"low-{k}"] for k in range(5)} == {"agreement 0.40 < 0.5 (majority 4)"}
    assert got["tie-0"] == got["tie-1"] == "no majority: A and B tie (agreement 0.50)"
    assert got["quiet-0"] == got["quiet-1"] == "no answer extracted"
    assert got["quiet-2"] == "agreement 0.33 < 0.5 (majority 42)"
    assert result.counts == {"in": 11, "kept": 1, "dropped": 10}


def test_min_agreement_is_the_configs():
    rows = samples("p", ["1", "2", "3", "4", "4"], verifier="numeric")
    assert vote(rows, min_agreement=0.4).kept["id"].to_list() == ["p-3", "p-4"]


def test_with_ground_truth_the_majority_can_be_required_to_verify():
    wrong = samples("wrong", ["The answer is 12", "The answer is 12", "The answer is 110"], answer="110",
                    verifier="math_verify")
    right = samples("right", ["The answer is 110", "The answer is 110", "The answer is 12"], answer="110",
                    verifier="math_verify")
    unchecked = vote(wrong + right)
    assert unchecked.kept["id"].to_list() == ["wrong-0", "wrong-1", "right-0", "right-1"]
    checked = vote(wrong + right, verify_majority=True)
    assert checked.kept["id"].to_list() == ["right-0", "right-1"]
    assert reasons(checked)["wrong-0"] == "majority answer 12 does not verify (expected 110)"


def test_rows_without_sample_of_are_their_own_prompt_and_order_does_not_matter():
    rows = samples("b", ["7", "9", "7"], verifier="numeric") + samples("a", ["2", "2"], verifier="numeric")
    shuffled = rows_frame(rows).sample(fraction=1.0, shuffle=True, seed=3)
    single = rows_frame([{"id": "alone", "instruction": "q", "response": "It is 5", "verifier": "numeric"}])
    result = apply(majority_vote, pl.concat([shuffled, single]), majority_vote.Config(), tools())
    assert sorted(result.kept["id"]) == ["a-0", "a-1", "alone", "b-0", "b-2"]


def test_unknown_verifier_is_a_ledger_reason_and_a_bad_default_a_config_error():
    result = vote(samples("p", ["7", "7"], verifier="numerik"))
    assert result.kept.height == 0
    assert all(reason.startswith("unknown verifier 'numerik'") for reason in result.dropped["reason"])
    with pytest.raises(ConfigError, match=r"filters\[0\].default_verifier: .*unknown verifier 'last_number'"):
        parse_config({"dataset": "d", "recipe": {"name": "self_instruct"},
                      "filters": [{"name": "majority_vote", "default_verifier": "last_number"}]})


def test_code_samples_agree_by_their_outputs_on_the_tests_inputs():
    from synthfoundry.sandbox import Sandbox, SandboxConfig

    tests = '{"tests": "assert double(2) == 4\\nassert double(5) == 10", "entry_point": ""}'
    programs = ["```python\ndef double(x):\n    return x * 2\n```",  # three ways to double, one wrong program
                "```python\ndef double(n):\n    total = n\n    total += n\n    return total\n```",
                "```python\ndef double(x):\n    return x + x\n```",
                "```python\ndef double(x):\n    return x ** 2\n```",
                "```python\ndef double(x)\n    return x\n```"]
    rows = samples("p", programs, answer=tests, verifier="code_tests:python")
    result = apply(majority_vote, rows_frame(rows), majority_vote.Config(verify_majority=True),
                   tools(sandbox=Sandbox(SandboxConfig(timeout_s=5))))
    assert result.kept["id"].to_list() == ["p-0", "p-1", "p-2"]
    dropped = reasons(result)
    assert dropped["p-4"] == "no answer extracted"  # a syntax error: the program gives no outputs
    assert dropped["p-3"].startswith("minority answer outputs ") and "agreement 0.60" in dropped["p-3"]
