import random

import pytest

from synthfoundry.recipes import self_instruct as si
from synthfoundry.teachers.base import Completion, TeacherFailure


def completion(text):
    return Completion(text=text, model="m", prompt_tokens=10, completion_tokens=10)


def test_ships_the_175_human_seed_tasks():
    seeds = si.load_seed_tasks()
    assert len(seeds) == 175
    assert seeds[0].id == "seed_task_0"


def test_bad_seed_file_names_file_and_line(tmp_path):
    path = tmp_path / "seeds.jsonl"
    path.write_text('{"id": "a", "instruction": "Say hi."}\n{"id": "b"}\n')
    with pytest.raises(si.SeedError, match=r"seeds.jsonl:2: expected a JSON object with an 'instruction'"):
        si.load_seed_tasks(path)
    path.write_text("not json\n")
    with pytest.raises(si.SeedError, match=r"seeds.jsonl:1"):
        si.load_seed_tasks(path)


def test_prompt_shows_six_human_then_two_generated_tasks():
    state = si.SelfInstruct(si.load_seed_tasks(), random.Random(0))
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
    seeds = si.load_seed_tasks()
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
    state = si.SelfInstruct(si.load_seed_tasks(), random.Random(0))
    calls = []

    def answer(requests):
        calls.append(len(requests))
        return [completion("Compute seven plus eight times nine minus seven.") for _ in requests]

    result = si.generate(state, answer, target=5, prompts_per_round=2, max_rounds=4, temperature=0.7, max_tokens=64)
    assert calls == [2, 2, 2, 2]
    assert result.counts == {"in": 8, "kept": 1, "dropped": 7}


def test_generate_reaches_target_with_novel_outputs():
    state = si.SelfInstruct(si.load_seed_tasks(), random.Random(0))
    words = iter(f"alpha{i} beta{i} gamma{i} delta{i}" for i in range(100))

    def answer(requests):
        return [completion(f"Explain {next(words)} carefully.") for _ in requests]

    result = si.generate(state, answer, target=5, prompts_per_round=2, max_rounds=50, temperature=0.7, max_tokens=64)
    assert result.counts["kept"] == 6  # 3 rounds of 2: stops once 5 are reached
