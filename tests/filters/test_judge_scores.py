"""Reading scores out of judge answers: every shape judges write, and every way an answer holds no score."""

import pytest

from synthfoundry.filters.judge_scores import ScoreUnparseable, parse_score

LIMA = """The task asks for a haiku. The submission is a haiku with the right syllable count.
It is relevant and complete but offers nothing beyond the poem, so it is helpful rather than very helpful.
4
4"""


@pytest.mark.parametrize(
    ("answer", "score"),
    [
        (LIMA, 4),
        ("5", 5),
        ("  3.\n", 3),
        ("Score: 4", 4),
        ("Rating: 4/6", 4),
        ("Rating: 4 / 6\nRationale: clear, but thin.", 4),
        ("**4**", 4),
        ("The reasoning is sound.\n\n**Score: 5**", 5),
        ("I would rate this 4 out of 6 because it is clear.", 4),
        ("This deserves a 2: it ignores 10 of the 12 points asked for.", 2),
        ("Final score: [3]", 3),
        ("Quality: 4.5", 4.5),
        ("##Complexity: 2", 2),
        ("Reasoning...\nScore: 3\n3", 3),
        ("Overall rating is 5. Some detail is missing.", 5),
        ("Rating: 3\nRationale: The text follows 2 of the 3 restrictions.", 3),
    ],
)
def test_reads_the_score_of_every_answer_shape(answer, score):
    assert parse_score(answer, 1, 6) == score


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("", "empty answer"),
        ("   \n", "empty answer"),
        ("The submission is relevant and clear.", "no score in the answer"),
        ("Reasoning about it.\n4\n5", "contradictory final lines (4, 5)"),
        ("Score: 3. On reflection, Score: 5.", "contradictory marked scores (3, 5)"),
        ("7", "score 7 outside 1-6"),
        ("Rating: 0", "score 0 outside 1-6"),
        ("Score: 8/10", "scored 8/10, on another scale than 1-6"),
        ("It covers points 2 and 5 well.", "several numbers in range and none marked as the score (2, 5)"),
        ("It mentions 1990 and 42 facts.", "no number within 1-6 (saw 42, 1990)"),
    ],
)
def test_an_answer_without_one_score_in_range_says_why(answer, why):
    with pytest.raises(ScoreUnparseable) as error:
        parse_score(answer, 1, 6)
    assert str(error.value) == why


def test_the_scale_is_the_callers():
    assert parse_score("Rating: 5/5", 1, 5) == 5
    with pytest.raises(ScoreUnparseable, match="outside 1-5"):
        parse_score("6", 1, 5)
