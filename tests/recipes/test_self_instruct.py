import json
import random

import pytest

from synthfoundry.inputs import SeedError
from synthfoundry.recipes import self_instruct as si
from synthfoundry.recipes.self_instruct import instances
from synthfoundry.recipes.self_instruct.seeds import Instance, load_seed_tasks
from synthfoundry.teachers.base import Completion, TeacherFailure


def completion(text):
    return Completion(text=text, model="m", prompt_tokens=10, completion_tokens=10)


def test_ships_the_175_human_seed_tasks():
    seeds = load_seed_tasks()
    assert len(seeds) == 175
    assert seeds[0].id == "seed_task_0"


def test_bad_seed_file_names_file_and_line(tmp_path):
    path = tmp_path / "seeds.jsonl"
    path.write_text('{"id": "a", "instruction": "Say hi."}\n{"id": "b"}\n')
    with pytest.raises(SeedError, match=r"seeds.jsonl:2: expected a JSON object with an 'instruction'"):
        load_seed_tasks(path)
    path.write_text("not json\n")
    with pytest.raises(SeedError, match=r"seeds.jsonl:1"):
        load_seed_tasks(path)


def test_prompt_shows_six_human_then_two_generated_tasks():
    state = si.SelfInstruct(load_seed_tasks(), random.Random(0))
    first = state.prompts(1, 0.7, 100)[0]
    assert first.first_index == 7 and len(first.seed_ids) == 6
    state.generated.extend(["Name a colour of the rainbow.", "Count the vowels in a word."])
    prompt = state.prompts(1, 0.7, 100)[0]
    text = prompt.request.messages[0]["content"]
    assert prompt.first_index == 9
    assert "Task 7: " in text and "Task 8: " in text and text.rstrip().endswith("Task 9:")
    assert "Name a colour of the rainbow." in text and "Count the vowels in a word." in text


def test_parse_reads_continuation_and_numbered_lines():
    text = "Convert 30 Celsius to Fahrenheit.\nTask 10: **Summarise the news article.**\n2. Name three rivers in Asia.\nnoise"
    assert si.parse_instructions(text, 9) == [
        "Convert 30 Celsius to Fahrenheit.",
        "Summarise the news article.",
        "Name three rivers in Asia.",
    ]


def test_parse_strips_echoed_labels_and_ignores_garbage():
    assert si.parse_instructions("Task N: Task 3: Sort the list of names.", 9) == ["Sort the list of names."]
    assert si.parse_instructions("", 9) == []


@pytest.mark.parametrize(
    ("instruction", "reason"),
    [
        ("Hi there", "too short"),
        ("Draw a picture of a cat.", "blocked word"),
        ("- Write a haiku about autumn leaves.", "punctuation"),
        ("Write a haiku about autumn leaves.", None),
        (" ".join(["word"] * 151), "too long"),
    ],
)
def test_screen(instruction, reason):
    result = si.screen(instruction)
    assert (result is None) if reason is None else (reason in result)


def test_absorb_filters_and_grows_the_pool():
    seeds = load_seed_tasks()
    state = si.SelfInstruct(seeds, random.Random(0), rouge_threshold=0.7)
    prompts = state.prompts(3, 0.7, 100)
    outputs = [
        completion(f"{seeds[0].instruction}\nTask 8: Write a limerick about a sleepy cat."),
        completion("\n\n"),
        TeacherFailure("RateLimitError: 429"),
    ]
    result = state.absorb(prompts, outputs)
    assert result.counts == {"in": 4, "kept": 1, "dropped": 3}
    assert result.kept["instruction"].to_list() == ["Write a limerick about a sleepy cat."]
    assert result.kept["template_hash"][0] == si.TEMPLATE_HASH
    assert len(result.kept["seed_ids"][0]) == 6
    reasons = result.dropped["reason"].to_list()
    assert any(r.startswith("ROUGE-L 1.00 > 0.7") for r in reasons)
    assert "no instruction could be parsed from the output" in reasons
    assert "teacher failed: RateLimitError: 429" in reasons
    assert state.generated == ["Write a limerick about a sleepy cat."]
    # the survivor is now in the pool: its copy in a later round is dropped
    again = state.absorb(prompts[:1], [completion("Write a limerick about a sleepy cat.")])
    assert again.counts["kept"] == 0


def test_generate_stops_at_max_rounds_when_nothing_is_novel():
    state = si.SelfInstruct(load_seed_tasks(), random.Random(0))
    calls = []

    def answer(requests):
        calls.append(len(requests))
        return [completion("Compute seven plus eight times nine minus seven.") for _ in requests]

    result = si.generate(state, answer, target=5, prompts_per_round=2, max_rounds=4, temperature=0.7, max_tokens=64)
    assert calls == [2, 2, 2, 2]
    assert result.counts == {"in": 8, "kept": 1, "dropped": 7}


def test_generate_reaches_target_with_novel_outputs():
    state = si.SelfInstruct(load_seed_tasks(), random.Random(0))
    words = iter(f"alpha{i} beta{i} gamma{i} delta{i}" for i in range(100))

    def answer(requests):
        return [completion(f"Explain {next(words)} carefully.") for _ in requests]

    result = si.generate(state, answer, target=5, prompts_per_round=2, max_rounds=50, temperature=0.7, max_tokens=64)
    assert result.counts["kept"] == 6  # 3 rounds of 2: stops once 5 are reached


def test_seed_tasks_carry_classification_labels_and_instances():
    seeds = load_seed_tasks()
    assert sum(t.is_classification for t in seeds) == 26
    assert all(t.instances for t in seeds)
    assert seeds[1].instances[0] == Instance("Night : Day :: Right : Left", seeds[1].instances[0].output)


def test_classification_prompt_shows_balanced_labelled_examples():
    examples = instances._classification_examples(load_seed_tasks(), 4, random.Random(0))
    text = instances.render_classification_prompt(examples, "Tell whether the number is even or odd.")
    assert text.startswith("Can the following task be regarded as a classification task with finite output labels?")
    assert text.count("Is it classification? Yes") == 2 and text.count("Is it classification? No") == 2
    assert text.rstrip().endswith("Task: Tell whether the number is even or odd.\nIs it classification?")


@pytest.mark.parametrize(
    ("reply", "label"),
    [("Yes", True), ("No.", False), ("**Yes**, it has two labels", True), ("I think no", False),
     ("The sea is a place of endless wonder", None), ("", None)],
)
def test_parse_is_classification(reply, label):
    assert instances.parse_is_classification(reply) is label


def test_instance_prompts_put_label_or_input_first():
    seeds = load_seed_tasks()
    examples = instances._instance_examples(seeds, True, 2, random.Random(0))
    output_first = instances.render_instance_prompt(examples, "Say yes or no.", True)
    assert output_first.index("Class label:") < output_first.index("Input:")
    assert "Output:" not in output_first and output_first.rstrip().endswith("Task: Say yes or no.")
    examples = instances._instance_examples(seeds, False, 2, random.Random(0))
    input_first = instances.render_instance_prompt(examples, "Write a poem.", False)
    assert "Output:" in input_first and "Class label:" not in input_first


@pytest.mark.parametrize(
    ("reply", "output_first", "instance"),
    [
        ("Class label: Negative\nInput: I hated it.\nClass label: Positive\nInput: Loved it.", True,
         Instance("I hated it.", "Negative")),
        ("**Class label:** Yes\n**Input:** Sentence 1: hi", True, Instance("Sentence 1: hi", "Yes")),
        ("positive\nWhat a great film.", True, Instance("What a great film.", "positive")),
        ("The review is mostly positive but the acting is weak and the plot drags in the middle.", True, None),
        ("", True, None),
        ("Sure!\nInput: 42\nOutput: even\nInput: 7\nOutput: odd", False, Instance("42", "even")),
        ("Task: Tell whether a number is odd.\nInput: 23\nOutput:", False, Instance("23", "")),
        ("Output: 1. Eat\n2. Sleep\n\nTask: Next task", False, Instance("", "1. Eat\n2. Sleep")),
        ("The sea, endless and blue.", False, Instance("", "The sea, endless and blue.")),
        ("Input:\nOutput:", False, None),
    ],
)
def test_parse_instance(reply, output_first, instance):
    assert instances.parse_instance(reply, output_first) == instance


def test_add_instances_labels_generates_and_ledgers():
    seeds = load_seed_tasks()
    state = si.SelfInstruct(seeds, random.Random(0))
    prompts = state.prompts(1, 0.7, 100)
    pool = state.absorb(prompts, [completion(
        "Decide if the review is positive or negative.\nTask 8: Write a limerick about a sleepy cat.\n"
        "Task 9: Name three rivers in South America.\nTask 10: List four famous painters of the 1800s."
    )])
    assert pool.counts["kept"] == 4
    sent = []

    def answer(requests):
        sent.append(requests)
        if len(sent) == 1:  # classification
            return [completion("Yes"), completion("No"), completion("Perhaps"), TeacherFailure("Timeout")]
        return [completion("Class label: positive\nInput: A delight."), completion("Output: A cat who naps."),
                TeacherFailure("RateLimitError: 429")]

    result = instances.add_instances(pool.kept, seeds, answer, random.Random(0))
    assert [len(batch) for batch in sent] == [4, 3]  # no instance asked for the failed label
    assert sent[0][0].max_tokens <= 8 and sent[0][0].temperature == 0.0
    assert "Class label:" in sent[1][0].messages[0]["content"] and "Output:" in sent[1][1].messages[0]["content"]
    assert result.counts == {"in": 4, "kept": 2, "dropped": 2}
    assert set(result.kept["id"]) <= set(pool.kept["id"])  # rows keep their instruction's id
    first, second = result.kept.to_dicts()
    assert first["input"] == "A delight." and second["input"] == ""
    assert json.loads(first["metadata"]) == {
        "is_classification": True, "instance_order": "output-first", "instance_output": "positive"
    }
    assert json.loads(second["metadata"])["instance_order"] == "input-first"
    assert first["template_hash"] != second["template_hash"] != si.TEMPLATE_HASH
    assert sorted(result.dropped["reason"]) == [
        "teacher failed generating an instance: RateLimitError: 429",
        "teacher failed identifying classification: Timeout",
    ]


def test_instances_can_be_switched_off():
    calls = []
    words = iter(f"alpha{i} beta{i} gamma{i} delta{i}" for i in range(100))

    def answer(requests):
        calls.append(len(requests))
        return [completion(f"Explain {next(words)} carefully.") for _ in requests]

    config = si.Config(target_instructions=2, prompts_per_round=2, instances=False)
    result = si.synthesize(config, answer, random.Random(0), lambda _m: None)
    assert calls == [2] and result.kept["metadata"].null_count() == 2
    assert result.kept["template_hash"].to_list() == [si.TEMPLATE_HASH] * 2


@pytest.mark.usefixtures("prefect_harness")
def test_local_model_grows_pool_and_generates_instances(tmp_path):
    from tests.helpers import assert_accounted, run_recipe

    recipe = {"name": "self_instruct", "target_instructions": 4, "prompts_per_round": 2, "max_rounds": 4,
              "max_tokens": 96, "instance_max_tokens": 48}
    teacher = {"provider": "local", "max_tokens": 64, "drop_truncated": False}
    published = run_recipe(tmp_path, recipe, teacher=teacher, filters=[{"name": "diversity"}])  # no judge: instances
    assert_accounted(published)
    assert published.data.height >= 1
    metadata = [json.loads(m) for m in published.data["metadata"]]
    assert all(m["instance_order"] in ("input-first", "output-first") for m in metadata)
    assert set(published.data["template_hash"]) - {si.TEMPLATE_HASH}
