import json
import random

import pytest
from pydantic import ValidationError

from synthfoundry.inputs import SeedError
from synthfoundry.recipes import ultrachat as uc
from synthfoundry.teachers.base import Completion, TeacherFailure
from tests.helpers import assert_accounted, run_recipe


def completion(text, finish_reason="stop"):
    return Completion(text=text, model="teacher-m", prompt_tokens=10, completion_tokens=5,
                      finish_reason=finish_reason, provider="openai")


def test_ships_the_30_by_20_taxonomy():
    taxonomy = uc.load_taxonomy()
    assert len(taxonomy.meta_concepts) == 30 and len(taxonomy.material_types) == 20
    assert "Technology" in taxonomy.meta_concepts and "Poems" in taxonomy.material_types


def test_own_taxonomy_and_bad_taxonomy_files(tmp_path):
    path = tmp_path / "taxonomy.yaml"
    path.write_text("meta_concepts: [Tea]\nmaterial_types: [Poems, Emails]\n")
    assert uc.load_taxonomy(path) == uc.Taxonomy(("Tea",), ("Poems", "Emails"))
    path.write_text("meta_concepts: [Tea]\n")
    with pytest.raises(SeedError, match=r"taxonomy.yaml: `material_types` must be a non-empty list"):
        uc.load_taxonomy(path)
    with pytest.raises(SeedError, match="cannot read the taxonomy"):
        uc.load_taxonomy(tmp_path / "missing.yaml")


def test_pairs_cover_the_grid_before_repeating():
    taxonomy = uc.Taxonomy(("A", "B"), ("x", "y", "z"))
    pairs = uc.draw_pairs(taxonomy, 8, random.Random(0))
    assert len(set(pairs[:6])) == 6 and len(pairs) == 8
    assert pairs == uc.draw_pairs(taxonomy, 8, random.Random(0))


def test_prompts_render_the_pair_and_the_transcript():
    opening = uc.render_opening("Food and drink", "Poems")
    assert "Topic: Food and drink" in opening and "about poems" in opening
    messages = [{"role": "user", "content": "What is tea?"}, {"role": "assistant", "content": "A drink."}]
    turn = uc.render_user_turn("Food and drink", "Poems", messages)
    assert "User: What is tea?\n\nAssistant: A drink." in turn
    assert "Write the user's next message" in turn


@pytest.mark.parametrize(
    ("text", "turn"),
    [
        ("User: Can you add a verse about milk?", "Can you add a verse about milk?"),
        ("Tell me more.\nAssistant: Sure, here is more.\nUser: thanks", "Tell me more."),
        ('"Why green tea?"', "Why green tea?"),
        ("**User:**", ""),
        ("Line one.\nLine two.", "Line one.\nLine two."),
    ],
)
def test_parse_turn(text, turn):
    assert uc.parse_turn(text) == turn


def test_min_turns_cannot_exceed_max_turns():
    with pytest.raises(ValidationError, match=r"min_turns \(5\) is more than max_turns \(3\)"):
        uc.Config(min_turns=5, max_turns=3)


def scripted(openings, failures):
    """A teacher by prompt kind: opening questions in order, numbered turns, and `failures` keyed by
    (the conversation's opening question, "user" | "assistant")."""
    batches = []
    questions = iter(openings)

    def ask(requests):
        batches.append(len(requests))
        outputs = []
        for request in requests:
            first = request.messages[0]["content"]
            if first.startswith("Write one question"):
                outputs.append(completion(f"Sure! Here it is:\nQuestion: {next(questions)}"))
                continue
            kind = "user" if first.startswith("You are playing") else "assistant"
            about = next(q for q in openings if q in first)
            turn = completion(f"{kind.capitalize()}: {kind} turn {len(request.messages)}")
            outputs.append(failures.get((about, kind), turn))
        return outputs

    return ask, batches


def test_turns_are_batched_across_conversations_and_broken_ones_go_to_the_ledger():
    ask, batches = scripted(
        ["How do I brew green tea?", "Write a poem about bread?", "How do I brew green tea?", "What is a good email?"],
        {
            ("Write a poem about bread?", "assistant"): TeacherFailure("APITimeoutError: timed out"),
            ("What is a good email?", "user"): completion("User:"),
        },
    )
    config = uc.Config(conversations=4, min_turns=2, max_turns=2)
    result = uc.synthesize(config, ask, random.Random(0), lambda _message: None)

    assert batches == [4, 3, 2, 1]  # openings, assistant 1, user 2, assistant 2: one batch per turn
    assert result.counts == {"in": 4, "kept": 1, "dropped": 3}
    assert sorted(result.dropped["reason"]) == [
        "turn 1 (assistant): teacher failed: APITimeoutError: timed out",
        "turn 1 (user): duplicate opening question: How do I brew green tea?",
        "turn 2 (user): nothing left after removing labels",
    ]
    row = result.kept.to_dicts()[0]
    assert row["instruction"] == "How do I brew green tea?"
    assert [m["role"] for m in row["messages"]] == ["user", "assistant", "user", "assistant"]
    assert row["messages"][2]["content"] == "user turn 1"  # the simulated user's prompt is one message
    assert row["response"] == row["messages"][-1]["content"] == "assistant turn 3"
    assert (row["teacher_provider"], row["teacher_model"]) == ("openai", "teacher-m")
    assert (row["prompt_tokens"], row["completion_tokens"]) == (40, 20)  # opening + 3 turns
    assert json.loads(row["metadata"])["turns"] == 2
    assert row["template_hash"] == uc.TEMPLATE_HASH


def test_truncated_turns_break_the_conversation_unless_allowed():
    def cut(requests):
        return [completion("Question: What is tea?" if r.messages[0]["content"].startswith("Write one") else
                           "A long answer that was", finish_reason="length") for r in requests]

    strict = uc.synthesize(uc.Config(conversations=1, min_turns=1, max_turns=1), cut, random.Random(0), print)
    assert strict.dropped["reason"].to_list() == ["turn 1 (assistant): response truncated at max_tokens"]
    lenient = uc.Config(conversations=1, min_turns=1, max_turns=1, drop_truncated=False)
    assert uc.synthesize(lenient, cut, random.Random(0), print).counts["kept"] == 1


@pytest.mark.usefixtures("prefect_harness")
def test_run_with_the_local_model_publishes_conversations(tmp_path):
    recipe = {"name": "ultrachat", "conversations": 2, "min_turns": 2, "max_turns": 2, "max_tokens": 32,
              "drop_truncated": False}
    published = run_recipe(tmp_path, recipe, contract="chat")
    assert_accounted(published)
    assert published.data.height >= 1
    for row in published.data.to_dicts():
        assert [m["role"] for m in row["messages"]] == ["user", "assistant"] * 2
        assert row["instruction"] == row["messages"][0]["content"]
        assert row["response"] == row["messages"][-1]["content"]
        assert row["teacher_model"] and row["prompt_tokens"] > 0
