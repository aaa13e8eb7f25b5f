import json
import random
from pathlib import Path

import pytest
from pydantic import ValidationError

from synthfoundry.config import parse_config
from synthfoundry.filters import correctness
from synthfoundry.filters.base import apply
from synthfoundry.inputs import SeedError
from synthfoundry.recipes import metamath as mm
from synthfoundry.teachers.base import Completion, TeacherFailure
from tests.filters.tools import tools
from tests.helpers import assert_accounted, run_recipe

JAMES = mm.Seed("s1", "James buys 5 packs of beef that are 4 pounds each. The price of beef is $5.50 per pound. "
                      "How much did he pay?", "110")


def completion(text):
    return Completion(text=text, model="teacher-m", prompt_tokens=10, completion_tokens=5, provider="openai")


def test_ships_gsm8k_train_with_its_licence():
    seeds = mm.load_seeds()
    assert len(seeds) == 7473
    assert seeds[0].answer == "72" and seeds[0].question.startswith("Natalia sold clips")
    assert "1,080" not in {s.answer for s in seeds} and "1080" in {s.answer for s in seeds}
    assert "MIT License" in (Path(mm.default_seed_path()).parent / "LICENSE").read_text()


def test_own_seed_file_and_errors_name_file_and_line(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text('{"id": "q1", "question": "What is 2 + 3?", "answer": "5"}\n{"question": "Hi?"}\n')
    with pytest.raises(SeedError, match=r"qa.jsonl:2: expected a JSON object with 'question' and 'answer'"):
        mm.load_seeds(path)
    path.write_text('{"id": "q1", "question": "What is 2 + 3?", "answer": "2 + 3 = 5\\n#### 5"}\n')
    assert mm.load_seeds(path) == [mm.Seed("q1", "What is 2 + 3?", "5")]


def test_mask_number_hides_a_number_that_occurs_once():
    masked = {mm.mask_number(JAMES.question, random.Random(seed)) for seed in range(20)}
    assert {number for _, number in masked} == {"5", "4", "5.50"}
    question, number = mm.mask_number("Tom has 2 cats and 2 dogs and 1,200 fish.", random.Random(0))
    assert (question, number) == ("Tom has 2 cats and 2 dogs and X fish.", "1200")
    assert mm.mask_number("How many legs does a cat have?", random.Random(0)) is None


def test_fobar_prompt_is_the_papers_backward_question():
    text = mm.FOBAR.render(question="James buys X packs. How much did he pay?", answer="110")
    assert text == ("James buys X packs. How much did he pay? If we know the answer to the above question is 110, "
                    "what is the value of unknown variable X?")


def test_rewrite_prompts_show_the_question_and_answer():
    assert mm.REPHRASE.render(question=JAMES.question).rstrip().endswith(
        f"Question: {JAMES.question}\nRephrase the above question:")
    sv = mm.SELF_VERIFICATION.render(question="James buys X packs. How much?", answer="110")
    assert sv.rstrip().endswith("Question: James buys X packs. How much?\nAnswer: 110\nStatement:")


def derive_with(outputs, operations):
    config = mm.Config(operations=operations)
    return mm.derive([JAMES], config, lambda requests: outputs[: len(requests)], random.Random(1))


def test_derive_parses_rewrites_and_carries_ground_truth():
    rephrased, verified, fobar, augmented = derive_with(
        [completion("Rephrased question: What did James pay for 5 packs of 4-pound beef at $5.50 a pound?"),
         completion("Statement: James buys X packs of beef that are 4 pounds each at $5.50 a pound. He paid 110.")],
        ("rephrase", "self_verification", "fobar", "answer_augmentation"),
    )
    assert rephrased.question == "What did James pay for 5 packs of 4-pound beef at $5.50 a pound?"
    assert rephrased.answer == "110" and len(rephrased.outputs) == 1
    assert verified.question.endswith("He paid 110. What is the value of unknown variable X?")
    assert verified.answer in {"5", "4", "5.50"} and verified.question.count("X") == 2
    assert fobar.question.endswith("If we know the answer to the above question is 110, what is the value of "
                                   "unknown variable X?")
    assert fobar.answer in {"5", "4", "5.50"} and "X" in fobar.question.split(" If we know")[0]
    assert (augmented.question, augmented.answer, augmented.outputs) == (JAMES.question, "110", [])


@pytest.mark.parametrize(
    ("output", "why"),
    [
        (completion("James paid a lot of money for the beef."), "self_verification: the statement lost the unknown X"),
        (completion("Sure:\n\n"), "self_verification: no question in the output"),
        (TeacherFailure("RateLimitError: 429"), "self_verification: teacher failed: RateLimitError: 429"),
    ],
)
def test_unusable_rewrites_say_why(output, why):
    (derived,) = derive_with([output], ("self_verification",))
    assert derived.question is None and derived.why == why


def test_solve_answers_each_question_and_the_correctness_filter_keeps_one_verified_path():
    augmented = mm.Derived(JAMES, "answer_augmentation", "110", JAMES.question)
    rephrased = mm.Derived(JAMES, "rephrase", "110", "How much did James pay?", outputs=[completion("rewrite")])
    unbuilt = mm.Derived(JAMES, "fobar", "", why="no number that occurs once in the question to mask")
    answers = iter([
        completion("20 pounds at $5.50 is $110.\nThe answer is: 110"),
        completion("He paid 20 * 5.5 = 110 dollars. The answer is: 110"),
        completion("The answer is: 12"),
        TeacherFailure("APIConnectionError: refused"),
    ])
    config = mm.Config(samples_per_question=2)
    solved = mm.solve([augmented, rephrased, unbuilt], config, lambda rs: [next(answers) for _ in rs], random.Random(0))
    assert solved.counts == {"in": 5, "kept": 3, "dropped": 2}
    assert solved.kept["sample_of"].n_unique() == 2  # the two samples of each question share their prompt

    (step,) = [s for s in parse_config({"dataset": "d", "recipe": {"name": "metamath"}}).filters if s.name == "correctness"]
    result = apply(correctness, solved.kept, step, tools())
    assert result.counts == {"in": 3, "kept": 1, "dropped": 2}
    row = result.kept.to_dicts()[0]
    assert (row["instruction"], row["answer"], row["verifier"]) == (JAMES.question, "110", "math_verify")
    assert row["response"] == "20 pounds at $5.50 is $110.\nThe answer is: 110"
    assert row["seed_ids"] == ["s1"]
    assert json.loads(row["metadata"]) == {"operation": "answer_augmentation", "sample": 0}
    assert row["decisions"] == [{"stage": "correctness", "score": 1.0}]
    assert sorted(solved.dropped["reason"].to_list() + result.dropped["reason"].to_list()) == [
        "another verified sample of this prompt is kept",
        "answer does not verify: expected 110, got 12",
        "no number that occurs once in the question to mask",
        "teacher failed: APIConnectionError: refused",
    ]


def test_rephrased_rows_count_the_rewrite_in_their_tokens():
    rephrased = mm.Derived(JAMES, "rephrase", "110", "How much did James pay?", outputs=[completion("rewrite")])
    config = mm.Config(samples_per_question=1)
    result = mm.solve([rephrased], config, lambda rs: [completion("The answer is: 110")], random.Random(0))
    row = result.kept.to_dicts()[0]
    assert (row["prompt_tokens"], row["completion_tokens"], row["teacher_model"]) == (20, 10, "teacher-m")
    assert row["template_hash"] == mm.combined_hash(mm.REPHRASE, mm.ANSWER)


def test_config_rejects_repeated_operations():
    with pytest.raises(ValidationError, match="lists an operation twice"):
        mm.Config(operations=["fobar", "fobar"])


@pytest.mark.usefixtures("prefect_harness")
def test_run_with_the_local_model_publishes_rows_with_ground_truth(tmp_path):
    # SmolLM2-135M almost never solves GSM8K: min_score 0 keeps its paths so the plumbing can be checked end to end.
    recipe = {"name": "metamath", "seed_questions": 1, "operations": ["answer_augmentation", "fobar"],
              "samples_per_question": 1, "max_tokens": 64}
    filters = [{"name": "correctness", "min_score": 0.0, "one_per_prompt": True}, {"name": "diversity", "threshold": 0.99}]
    published = run_recipe(tmp_path, recipe, filters=filters)
    assert "correctness" in published.manifest["stages"]
    assert_accounted(published)
    assert published.data.height >= 1
    for row in published.data.to_dicts():
        assert row["answer"] and row["verifier"] == "math_verify" and row["response"]
        assert row["teacher_model"] and row["recipe"] == "metamath"


def test_rlvr_output_keeps_derived_questions_with_ground_truth_and_no_reasoning():
    sent = []

    def ask(requests):
        sent.extend(requests)
        return [completion("James buys X packs of beef that weigh 4 pounds each and pays $110 in all.")] * len(requests)

    config = mm.Config(operations=["self_verification", "fobar"], output="rlvr")
    assert config.kind == "rlvr"
    derived = mm.derive([JAMES], config, ask, random.Random(0))
    result = mm.questions_only(derived)
    assert len(sent) == 1  # only the self-verification rewrite; no reasoning paths are asked for
    assert result.counts == {"in": 2, "kept": 2, "dropped": 0}
    rows = result.kept.to_dicts()
    assert all(r["response"] is None and r["verifier"] == "math_verify" for r in rows)
    assert {json.loads(r["metadata"])["operation"] for r in rows} == {"self_verification", "fobar"}
    assert all(r["answer"] in JAMES.question for r in rows)  # the masked number is the ground truth


def test_rlvr_output_refuses_answer_augmentation():
    with pytest.raises(ValidationError, match="drop it for output: rlvr"):
        mm.Config(output="rlvr")


@pytest.mark.usefixtures("prefect_harness")
def test_rlvr_run_with_the_local_model_publishes_prompts_under_the_rlvr_contract(tmp_path):
    recipe = {"name": "metamath", "seed_questions": 2, "operations": ["fobar", "self_verification"],
              "output": "rlvr", "max_tokens": 64}
    published = run_recipe(tmp_path, recipe, filters=[{"name": "diversity", "threshold": 0.99}])
    assert_accounted(published)
    assert published.manifest["contract"]["suite"] == "rlvr"
    assert published.data.height >= 2 and published.data["response"].is_null().all()
