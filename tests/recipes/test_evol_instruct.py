import json
import random

import pytest

from synthfoundry.recipes import evol_instruct as ev
from synthfoundry.teachers.base import Completion, TeacherFailure
from tests.helpers import assert_accounted, run_recipe

pytestmark = pytest.mark.usefixtures("prefect_harness")


def completion(text):
    return Completion(text=text, model="m", prompt_tokens=10, completion_tokens=10)


def test_in_depth_prompt_carries_the_method_and_the_prompt():
    text = ev.render_evolution("Plan a syllabus for the class.", "complicate_input", "JSON data")
    assert text.startswith("I want you act as a Prompt Rewriter.")
    assert "You must add JSON data format data as input data in #Rewritten Prompt#." in text
    assert text.rstrip().endswith("#The Given Prompt#:\nPlan a syllabus for the class.\n#Rewritten Prompt#:")
    assert "multiple-step reasoning" in ev.render_evolution("Add 2 and 3.", "increase_reasoning")


def test_in_breadth_prompt_asks_for_a_rarer_prompt():
    text = ev.render_evolution("Plan a syllabus for the class.", "in_breadth")
    assert "same domain as the #Given Prompt# but be even more rare" in text
    assert text.rstrip().endswith("#Created Prompt#:")


@pytest.mark.parametrize(
    ("reply", "parsed"),
    [
        ("Plan a syllabus for a 10-week NLP class.", "Plan a syllabus for a 10-week NLP class."),
        ("#Rewritten Prompt#:\n\"Plan a syllabus, week by week.\"", "Plan a syllabus, week by week."),
        ("#The Given Prompt#:\nPlan.\n\n**Rewritten Prompt:** Plan a syllabus with readings.\n#The Given Prompt#: x",
         "Plan a syllabus with readings."),
        ("The given prompt, which is short, can be longer.", "The given prompt, which is short, can be longer."),
        ("#Rewritten Prompt#:", ""),
    ],
)
def test_parse_evolution(reply, parsed):
    assert ev.parse_evolution(reply) == parsed


@pytest.mark.parametrize(
    ("evolved", "operation", "reason"),
    [
        ("", "deepen", "no instruction could be parsed"),
        ("Rewrite the given prompt with more detail please.", "deepen", "evolution prompt's own wording"),
        ("Plan a syllabus for the class", "deepen", "copies the prompt"),
        ("Teach knots.", "in_breadth", "too short"),
        ("Plan a course outline for chemistry.", "add_constraints", "not more complex"),
        ("Plan a course outline for chemistry.", "in_breadth", None),
        ("Plan a syllabus for the class, with weekly readings and one project.", "add_constraints", None),
    ],
)
def test_eliminate(evolved, operation, reason):
    result = ev.eliminate(evolved, "Plan a syllabus for the class.", operation, min_words=3)
    assert (result is None) if reason is None else (reason in result)


def test_leftover_check_can_be_turned_off_for_tiny_models():
    evolved = "Rewrite the given prompt with more detail please."
    assert ev.eliminate(evolved, "Plan a syllabus.", "deepen", 3, drop_wording=False) is None


@pytest.mark.parametrize(
    ("reply", "equal"),
    [("Equal", True), ("Not Equal", False), ("not equal.", False), ("Unequal", False), ("Hmm", None)],
)
def test_parse_judgement(reply, equal):
    assert ev.parse_judgement(reply) is equal


def test_generation_eliminates_judges_and_carries_failed_parents_forward():
    parents = [ev.Instruction(f"s{i}", f"Plan a syllabus for class number {i}.", f"s{i}", 0) for i in range(5)]
    config = ev.Config(operations=["add_constraints"], min_words=3)
    sent = []

    def answer(requests):
        sent.append(requests)
        if len(sent) == 1:
            return [
                completion("#Rewritten Prompt#: Plan a syllabus for class number 0, with weekly quizzes and a test."),
                completion("Plan a syllabus for class number 1, with weekly quizzes and a final project, twice."),
                completion("#Rewritten Prompt#: Plan the #Rewritten Prompt# well"),
                TeacherFailure("Timeout"),
                completion("Plan a syllabus for class number 4, but add one more requirement to it."),
            ]
        return [completion("Not Equal"), completion("I cannot tell.")]

    seen = {"plan a syllabus for class number 1 with weekly quizzes and a final project twice"}
    result, following = ev.evolve_generation(parents, 1, answer, random.Random(0), config, seen)
    assert [len(batch) for batch in sent] == [5, 2]  # the duplicate, the leftover and the failure are not judged
    assert result.counts == {"in": 5, "kept": 2, "dropped": 3}
    reasons = sorted(result.dropped["reason"])
    assert reasons == [
        "contains the evolution prompt's own wording (e.g. #Rewritten Prompt#)",
        "duplicate of an instruction already in the run",
        "teacher failed: Timeout",
    ]
    metadata = [json.loads(m) for m in result.kept["metadata"]]
    assert [m["judged_equal"] for m in metadata] == [False, None]
    assert metadata[0] == {
        "operation": "add_constraints", "generation": 1, "parent_id": "s0", "data_format": None, "judged_equal": False
    }
    assert [p.generation for p in following] == [1, 0, 0, 0, 1]  # failed evolutions leave their parent
    assert following[0].id == result.kept["id"][0] and following[1] is parents[1]


def test_judged_equal_is_eliminated():
    parents = [ev.Instruction("s0", "Plan a syllabus.", "s0", 0)]
    replies = iter([[completion("Plan a syllabus for a ten week chemistry course.")], [completion("Equal")]])
    result, following = ev.evolve_generation(parents, 1, lambda r: next(replies), random.Random(0),
                                             ev.Config(operations=["concretize"]), set())
    assert result.dropped["reason"].to_list() == [
        "not more complex: the teacher judged it equal to the prompt it evolves"
    ]
    assert following == parents


def test_synthesize_runs_generations_on_the_human_seeds():
    counter = iter(range(1000))

    def answer(requests):
        return [completion(f"Write an essay of {next(counter)} words about rivers, lakes, oceans and glaciers.")
                for _ in requests]

    logged = []
    config = ev.Config(seeds=3, generations=2, judge=False, operations=["in_breadth"])
    result = ev.synthesize(config, answer, random.Random(0), logged.append)
    assert result.counts == {"in": 6, "kept": 6, "dropped": 0}
    generations = [json.loads(m)["generation"] for m in result.kept["metadata"]]
    assert generations == [1, 1, 1, 2, 2, 2]
    assert all(ids[0].startswith("seed_task_") for ids in result.kept["seed_ids"])
    assert "evol-instruct generation 2: 3 kept, 0 eliminated; kept by operation: {'in_breadth': 3}" in logged


def test_local_model_evolves(tmp_path):
    # SmolLM2 cannot help echoing the meta-prompt's wording nor judge equality: relax those checks for it.
    recipe = {"name": "evol_instruct", "seeds": 6, "generations": 1, "judge": False, "min_words": 3,
              "drop_prompt_wording": False, "max_tokens": 64, "operations": ["in_breadth", "add_constraints"]}
    published = run_recipe(tmp_path, recipe)
    assert_accounted(published)
    assert published.data.height >= 1
    assert json.loads(published.data["metadata"][0])["operation"] in ("in_breadth", "add_constraints")
