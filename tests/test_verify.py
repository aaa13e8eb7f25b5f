import json
import threading

import pytest

from synthfoundry.verify import verify


def maths(answer):
    return {"answer": answer, "verifier": "math_verify"}


@pytest.mark.parametrize(
    ("response", "answer", "score", "extracted"),
    [
        ("He bought 5*4=20 pounds, so he paid 20 * 5.5 = $110. The answer is: 110", "110", 1.0, "110"),
        ("The answer is \\boxed{\\frac{2}{4}}", "0.5", 1.0, "\\frac{2}{4}"),
        ("5 packs of 4 pounds: 20 pounds.\nThe answer is: 20\nThen 9 more", "110", 0.0, "20"),
        ("I cannot tell.", "110", 0.0, None),
    ],
)
def test_math_verify(response, answer, score, extracted):
    verdict = verify(response, maths(answer))
    assert verdict.score == score
    assert verdict.extracted == extracted


def test_math_verify_runs_in_worker_threads():
    """Prefect runs tasks in threads, where math-verify's SIGALRM timeout is not allowed."""
    found = []
    thread = threading.Thread(target=lambda: found.append(verify("The answer is: 7", maths("7")).score))
    thread.start()
    thread.join()
    assert found == [1.0]


def reasoning_gym_row(dataset, seed=3):
    import reasoning_gym

    item = reasoning_gym.create_dataset(dataset, size=1, seed=seed)[0]
    return {  # a published row: metadata is JSON text
        "instruction": item["question"],
        "answer": item["answer"],
        "verifier": f"reasoning_gym:{dataset}",
        "metadata": json.dumps(item["metadata"]),
    }


def test_reasoning_gym_scores_with_the_generator_and_reads_answer_tags():
    row = reasoning_gym_row("basic_arithmetic")
    assert verify(row["answer"], row).score == 1.0
    assert verify(f"Let me think.\n<answer>{row['answer']}</answer>", row).score == 1.0
    wrong = verify("<answer>123456789</answer>", row)
    assert wrong.score == 0.0 and wrong.extracted == "123456789"


def test_reasoning_gym_verifier_uses_the_row_metadata():
    row = reasoning_gym_row("countdown")  # any expression reaching the target from the given numbers scores 1
    assert verify(row["answer"], row).score == 1.0
    assert verify("1 + 1", row).score < 1.0


def test_unknown_verifier_is_an_error():
    with pytest.raises(ValueError, match="unknown verifier 'regex'"):
        verify("42", {"answer": "42", "verifier": "regex"})
