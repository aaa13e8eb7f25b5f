import json

import pytest

from synthfoundry.recipes.common import first_line, teacher_columns
from synthfoundry.teachers.base import Completion


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("Sure! Here is a question:\n\n**Question:** How do I brew tea?", "How do I brew tea?"),
        ("Rephrased question: What is the total cost of the beef?", "What is the total cost of the beef?"),
        ('1. "Can you explain contracts to me?"\n2. Another one?', "Can you explain contracts to me?"),
        ("Statement: James buys X packs. He paid 110.", "James buys X packs. He paid 110."),
        ("Hi there", None),
        ("", None),
        ("Here you go:\n\n", None),
    ],
)
def test_first_line(text, line):
    assert first_line(text) == line


def test_teacher_columns_sum_tokens_and_cost_and_name_the_last_answer():
    outputs = [
        Completion("a", "m1", 10, 5, provider="openai", cost_usd=0.5),
        Completion("b", "m2", 20, 7, finish_reason="length", provider="openai", cost_usd=0.25, reasoning="hmm"),
    ]
    columns = teacher_columns(outputs, temperature=0.3, max_tokens=64)
    assert columns["teacher_provider"] == "openai" and columns["teacher_model"] == "m2"
    assert (columns["prompt_tokens"], columns["completion_tokens"], columns["cost_usd"]) == (30, 12, 0.75)
    assert (columns["finish_reason"], columns["reasoning"]) == ("length", "hmm")
    params = json.loads(columns["teacher_params"])
    assert params == {"provider": "openai", "model": "m2", "temperature": 0.3, "top_p": None, "max_tokens": 64}


def test_teacher_columns_cost_is_unknown_when_any_answer_is_unpriced():
    outputs = [Completion("a", "m", 1, 1, cost_usd=0.5), Completion("b", "m", 1, 1)]
    assert teacher_columns(outputs, temperature=0.3, max_tokens=64)["cost_usd"] is None
