"""The load recipe: a user's dataset (JSONL, Parquet, a datasets.save_to_disk folder) through the real flow."""

import json
from pathlib import Path

import polars as pl
import pytest
import yaml

from flows.generate import generate_dataset
from synthfoundry.config import ConfigError, parse_config
from synthfoundry.dataset import DatasetStore
from synthfoundry.recipes import load
from tests.helpers import assert_accounted, read_published

QUESTIONS = [
    ("How do tides follow the moon?", "The moon's gravity pulls the oceans into two bulges."),
    ("Why does bread dough rise?", "Yeast eats sugar and releases carbon dioxide bubbles."),
    ("What makes a violin sound warm?", None),
    ("Explain compound interest to a child.", None),
]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def user_rows() -> list[dict]:
    """Their names, not ours: `prompt` and `output`, with an extra column we ignore."""
    return [{"prompt": q, "output": a, "source": "forum"} for q, a in QUESTIONS]


def run(tmp_path: Path, recipe: dict, teacher_url: str, name: str = "run", **overrides):
    config = {
        "dataset": "mine", "seed": 1, "recipe": recipe,
        "teacher": {"provider": "openai", "model": "fake-teacher", "base_url": teacher_url, "max_tokens": 64},
        "publish": {"root": str(tmp_path / "published")}, **overrides,
    }
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return generate_dataset(config_path=str(path), return_state=True)


@pytest.mark.usefixtures("prefect_harness")
def test_jsonl_keeps_given_responses_distils_the_rest_and_a_second_load_publishes_nothing(tmp_path, fake_openai):
    data = write_jsonl(tmp_path / "mine.jsonl", user_rows())
    recipe = {"name": "load", "path": str(data), "columns": {"instruction": "prompt", "response": "output"},
              "source_model": "forum-humans"}
    first = run(tmp_path, recipe, fake_openai.base_url)

    published = read_published(Path(first.result()))
    assert_accounted(published)
    rows = {row["instruction"]: row for row in published.data.to_dicts()}
    assert set(rows) == {q for q, _ in QUESTIONS}
    for question, answer in QUESTIONS:
        row = rows[question]
        if answer:  # kept as given, no request
            assert (row["response"], row["teacher_provider"]) == (answer, "loaded")
            assert row["teacher_model"] == "forum-humans"
        else:
            assert row["teacher_model"] == "fake-teacher" and row["response"].startswith("Here is a careful answer")
    asked = [r["body"]["messages"][0]["content"] for r in fake_openai.paths("/v1/chat/completions")]
    assert sorted(asked) == sorted(q for q, a in QUESTIONS if a is None)
    assert published.manifest["contract"]["suite"] == "sft"
    assert [s["name"] for s in published.manifest["config"]["filters"]] == ["decontamination", "diversity"]

    sent = fake_openai.count
    again = run(tmp_path, recipe, fake_openai.base_url, name="again")
    assert again.is_completed() and again.message.startswith("nothing new to publish")
    assert [v.tag for v in DatasetStore(tmp_path / "published", "mine").versions()] == ["v1"]
    assert fake_openai.count == sent  # the distilled rows' answers came from the request cache


@pytest.mark.usefixtures("prefect_harness")
def test_parquet_redistilled_and_a_saved_datasets_folder_as_rlvr(tmp_path, fake_openai):
    import datasets

    parquet = tmp_path / "mine.parquet"
    pl.DataFrame(user_rows()).write_parquet(parquet)
    recipe = {"name": "load", "path": str(parquet), "columns": {"instruction": "prompt", "response": "output"},
              "redistill": True}
    published = read_published(Path(run(tmp_path, recipe, fake_openai.base_url, dataset="parquet").result()))
    assert published.data.height == 4 and set(published.data["teacher_model"]) == {"fake-teacher"}
    assert fake_openai.count == 4  # every row re-answered

    saved = tmp_path / "saved"
    datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"question": ["What is 17 + 25?", "What is 9 x 8?"], "label": [42, 72]}),
        "test": datasets.Dataset.from_dict({"question": ["What is 1 + 1?"], "label": [2]}),
    }).save_to_disk(str(saved))
    recipe = {"name": "load", "path": str(saved), "columns": {"instruction": "question", "answer": "label"},
              "verifier": "math_verify", "output": "rlvr"}
    folder = Path(run(tmp_path, recipe, fake_openai.base_url, dataset="saved", filters="none").result())
    published = read_published(folder)
    assert published.manifest["contract"]["suite"] == "rlvr" and published.manifest["contract"]["success"]
    assert "**unfiltered**: published with `filters: none`" in (folder / "card.md").read_text()
    assert list(published.manifest["stages"]) == ["synthesis", "embedding", "publish"]  # no filter step ran
    assert sorted(published.data["answer"]) == ["42", "72"] and set(published.data["verifier"]) == {"math_verify"}
    assert published.data["response"].null_count() == 2 and "distillation" not in published.manifest["stages"]
    assert fake_openai.count == 4  # nothing asked for RLVR prompts

    again = run(tmp_path, recipe, fake_openai.base_url, name="again", dataset="saved", filters="none")
    assert again.is_completed() and "all 2 rows were already in saved v1 when this run started" in again.message
    assert "meanwhile" not in again.message


@pytest.mark.usefixtures("prefect_harness")
def test_a_missing_column_fails_before_anything_is_sent(tmp_path, fake_openai):
    data = write_jsonl(tmp_path / "mine.jsonl", user_rows())
    recipe = {"name": "load", "path": str(data), "columns": {"instruction": "prompt", "response": "answer"}}
    state = run(tmp_path, recipe, fake_openai.base_url)
    assert state.is_failed()
    assert "recipe.path: " in state.message
    assert "has no column 'answer' (its columns: output, prompt, source)" in state.message
    assert fake_openai.count == 0 and DatasetStore(tmp_path / "published", "mine").versions().all == ()


def test_rows_are_read_from_our_own_column_names_and_unusable_ones_are_ledgered(tmp_path):
    data = write_jsonl(tmp_path / "ours.jsonl", [
        {"instruction": "Sum 2 and 3.", "answer": 5, "verifier": "math_verify", "response": "5"},
        {"instruction": "Sum 2 and 3.", "answer": 5, "verifier": "math_verify", "response": "5"},
        {"instruction": "   ", "response": "orphan"},
        {"instruction": ["not", "text"]},
        {"messages": [{"role": "user", "content": "Hi, who wrote Hamlet?"},
                      {"role": "assistant", "content": "Shakespeare."}]},
        {"messages": [{"role": "user", "content": "And Faust?"}]},
    ])
    result = load.rows(load.Config(path=str(data)))
    assert result.dropped["reason"].to_list() == [
        "the same content as an earlier row of the data",
        "no instruction (column 'instruction' is empty)",
        "instruction is not text (list)",
        "the conversation does not end with an assistant turn (map instruction to distil single prompts)",
    ]
    first, chat = result.kept.to_dicts()
    assert (first["answer"], first["verifier"], first["response"]) == ("5", "math_verify", "5")
    assert (chat["instruction"], chat["response"]) == ("Hi, who wrote Hamlet?", "Shakespeare.")
    assert load.estimate(load.Config(path=str(data))).answered == 2  # nothing to distil


@pytest.mark.parametrize("recipe, problem", [
    ({"columns": {"response": "out"}}, "name the instruction column"),
    ({"columns": {"instruction": "q", "verifier": "v"}, "verifier": "exact"}, "not both"),
    ({"verifier": "maths"}, "unknown verifier 'maths'"),
    ({"output": "rlvr", "redistill": True}, "distils nothing"),
])
def test_config_mistakes_are_named(recipe, problem):
    with pytest.raises(ConfigError, match=problem):
        parse_config({"dataset": "d", "recipe": {"name": "load", "path": "x.jsonl", **recipe}})


def test_a_verifiable_dataset_is_checked_for_correctness_first():
    config = parse_config({"dataset": "d", "recipe": {
        "name": "load", "path": "x.jsonl", "columns": {"instruction": "q", "response": "s", "answer": "a"},
        "verifier": "math_verify"}})
    assert [step.name for step in config.filters] == ["correctness", "decontamination", "diversity"]


def test_the_forecast_counts_only_the_rows_to_distil(tmp_path):
    from synthfoundry.preflight import preflight

    data = write_jsonl(tmp_path / "mine.jsonl", user_rows())
    recipe = {"name": "load", "path": str(data), "columns": {"instruction": "prompt", "response": "output"}}
    config = parse_config({"dataset": "d", "recipe": recipe, "teacher": {"provider": "openai", "model": "gpt-4o-mini",
                                                                         "n": 2}})
    distillation = preflight(config, {"OPENAI_API_KEY": "sk-test"}).forecast.stages["distillation"]
    assert (distillation.requests, distillation.rows) == (2 * 2, 2 + 2 * 2)  # 2 unanswered rows, 2 samples each


def test_a_glob_and_an_fsspec_url_are_read_file_by_file(tmp_path):
    import fsspec

    for part, (question, answer) in enumerate(QUESTIONS[:2]):
        write_jsonl(tmp_path / f"part-{part}.jsonl", [{"prompt": question, "output": answer}])
    columns = {"instruction": "prompt", "response": "output"}
    globbed = load.rows(load.Config(path=str(tmp_path / "part-*.jsonl"), columns=columns)).kept
    assert globbed["instruction"].to_list() == [q for q, _ in QUESTIONS[:2]]
    assert [json.loads(m)["source"].rsplit("/", 1)[1] for m in globbed["metadata"]] == ["part-0.jsonl", "part-1.jsonl"]

    with fsspec.open("memory://data/mine.parquet", "wb") as handle:
        pl.DataFrame(user_rows()).write_parquet(handle)
    remote = load.rows(load.Config(path="memory://data/mine.parquet", columns=columns)).kept
    assert remote.height == 4 and set(remote["id"]) >= set(globbed["id"])  # same content, same ids, any place
    with pytest.raises(load.LoadError, match=r"memory://data/none-\*\.jsonl: no \.jsonl or \.parquet file there"):
        load.rows(load.Config(path="memory://data/none-*.jsonl", columns=columns))


def test_data_without_our_column_names_needs_a_mapping(tmp_path):
    data = write_jsonl(tmp_path / "theirs.jsonl", user_rows())
    with pytest.raises(load.LoadError, match=r"has no column named instruction or messages: say which column holds"):
        load.rows(load.Config(path=str(data)))
