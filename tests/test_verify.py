import json
import threading

import pytest

from synthfoundry.verify import VerifierError, get_verifier, verify


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


def check(verifier, response, answer):
    verdict = verify(response, {"answer": answer, "verifier": verifier})
    return verdict.score, verdict.extracted


@pytest.mark.parametrize(
    ("verifier", "response", "answer", "expected"),
    [
        ("exact", "  Paris \n", "Paris", (1.0, "Paris")),
        ("exact", "paris", "Paris", (0.0, "paris")),
        ("exact", "Let me think.<answer>Paris</answer>", "Paris", (1.0, "Paris")),
        ("exact", "   ", "Paris", (0.0, None)),
        ("normalised", "  The  EIFFEL tower!", "the eiffel tower", (1.0, "the eiffel tower")),
        ("normalised", "<answer>New-York.</answer>", "new york", (1.0, "new york")),
        ("normalised", "London", "Paris", (0.0, "london")),
        ("normalised", "?!", "Paris", (0.0, None)),
        ("numeric", "16 - 3 - 4 = 9 eggs, 9 * 2 = 18. The answer is $18.", "18", (1.0, "18")),
        ("numeric", "So the total is 1,234.5 and that is all", "1234.50", (1.0, "1234.5")),
        ("numeric", "#### 3/4", "0.75", (1.0, "0.75")),
        ("numeric", "x = 0.3333334", "0.3333333", (1.0, "0.333333")),
        ("numeric:0.01", "about 101", "100", (1.0, "101")),
        ("numeric", "about 101", "100", (0.0, "101")),
        ("numeric", "1e3", "1000", (1.0, "1000")),
        ("numeric", "-7", "7", (0.0, "-7")),
        ("numeric", "I don't know", "7", (0.0, None)),
        ("choice", "Looking at the options, the answer is (B).", "B", (1.0, "B")),
        ("choice", "Answer: c", "C", (0.0, None)),  # "Answer: c" alone is too weak: lower case after "answer"
        ("choice", "(a) is wrong because... so (d)", "D", (1.0, "D")),
        ("choice", "b) since the others fail", "(B)", (1.0, "B")),
        ("choice", "C.", "c", (1.0, "C")),
        ("choice", "Answer: A, not (B)", "A", (1.0, "A")),
        ("choice", "none of them", "A", (0.0, None)),
        ("regex:Final: (\\w+)", "Final: yes\nFinal: no", "no", (1.0, "no")),
        ("regex:\\d{4}-\\d{2}-\\d{2}", "It happened on 1969-07-20.", "1969-07-20", (1.0, "1969-07-20")),
        ("regex:Final: (\\w+)", "no final line", "no", (0.0, None)),
    ],
)
def test_string_numeric_choice_and_regex_verifiers(verifier, response, answer, expected):
    assert check(verifier, response, answer) == expected


@pytest.mark.parametrize(
    ("verifier", "answer", "message"),
    [
        ("regex", "42", "unknown verifier 'regex'"),
        ("exactly", "42", "unknown verifier 'exactly' (known: math_verify,"),
        ("", "42", "unknown verifier ''"),
        ("numeric:tight", "42", "the tolerance must be a number"),
        ("numeric:-1", "42", "the tolerance must be >= 0"),
        ("regex:(unclosed", "42", "not a valid regular expression"),
        ("numeric", "forty-two", "the ground truth 'forty-two' is not an answer this verifier can read"),
        ("choice", "the second one", "the ground truth 'the second one' is not an answer"),
    ],
)
def test_malformed_verifiers_and_ground_truths_are_clear_errors(verifier, answer, message):
    with pytest.raises(VerifierError) as error:
        verify("The answer is (B) 42", {"answer": answer, "verifier": verifier})
    assert message in str(error.value)


@pytest.mark.parametrize(
    ("verifier", "first", "second", "same"),
    [
        ("math_verify", "The answer is 1/2", "so we get 0.5", True),
        ("math_verify", "The answer is 2", "so we get 3", False),
        ("numeric", "It is 18.", "#### 18.0000001", True),
        ("choice", "(B)", "Answer: B", True),
        ("normalised", "Yes!", "yes", True),
    ],
)
def test_verifiers_tell_whether_two_responses_agree(verifier, first, second, same):
    checker = get_verifier(verifier)
    assert checker.agree(checker.extract(first), checker.extract(second)) is same


ENDINGS = {  # how a response may end, with the answer in it; the preamble names a decoy the reader must not take
    "answer block": "<answer>{}</answer>",
    "boxed": "So the final answer is $\\boxed{{{}}}$.",
    "boxed in an answer block": "<answer>\\boxed{{{}}}</answer>",
    "####": "#### {}",
    "the answer is": "The answer is {}.",
}
VERIFIERS = {  # verifier: (ground truth, the response's spelling of it, a wrong answer)
    "math_verify": ("270", "270", "27"),
    "numeric": ("0.75", "3/4", "4"),
    "exact": ("Paris", "Paris", "Lyon"),
    "normalised": ("new york", "New-York", "boston"),
    "choice": ("B", "(B)", "(C)"),
}


@pytest.mark.parametrize("ending", ENDINGS)
@pytest.mark.parametrize("verifier", [*VERIFIERS, "reasoning_gym:basic_arithmetic"])
def test_every_verifier_reads_every_documented_ending(verifier, ending):
    if verifier in VERIFIERS:
        truth, spelled, wrong = VERIFIERS[verifier]
        row = {"answer": truth, "verifier": verifier}
    else:
        row = reasoning_gym_row("basic_arithmetic")
        truth = spelled = row["answer"]
        wrong = str(int(truth) + 1)
    answer_then = f"My first guess was {wrong}, let me check.\n{ENDINGS[ending].format(spelled)}"
    wrong_then = f"My first guess was {spelled}, let me check.\n{ENDINGS[ending].format(wrong)}"
    assert verify(answer_then, row).score == 1.0
    assert verify(wrong_then, row).score == 0.0


@pytest.mark.parametrize("verifier", [*VERIFIERS, "reasoning_gym:basic_arithmetic"])
def test_a_bare_response_is_the_answer(verifier):
    row = {"answer": VERIFIERS[verifier][0], "verifier": verifier} if verifier in VERIFIERS else reasoning_gym_row(
        "basic_arithmetic")
    spelled = VERIFIERS[verifier][1] if verifier in VERIFIERS else row["answer"]
    assert verify(spelled, row).score == 1.0
