"""The quality judge through the real openai SDK and managed layer, against the loopback fake provider scripted to
score each row by what its instruction asks for; plus rubric loading and config errors."""

import json
import re
from pathlib import Path

import polars as pl
import pytest

from synthfoundry.config import ConfigError, parse_config
from synthfoundry.filters import quality_judge
from synthfoundry.filters.base import apply
from synthfoundry.filters.quality_judge import Config, RubricError, load_rubric, rubric_path
from synthfoundry.records import rows_frame
from synthfoundry.teachers.config import TeacherConfig
from tests.fakes.provider_server import ProviderServer
from tests.filters.tools import tools

# What the fake judge answers, by the word the row's instruction ends with.
ANSWERS = {
    "great": "The submission is complete and well organised.\n5\n5",
    "fine": "Score: 4",
    "poor": "It is barely relevant.\n2\n2",
    "vague": "It is relevant, clear and complete.",
    "torn": "Reasoning.\n3\n5",
}


def scripted_judge(body: dict) -> str:
    return ANSWERS[re.search(r"\[Task\]: .* (\w+)\n", body["messages"][-1]["content"]).group(1)]


@pytest.fixture
def judge_server():
    with ProviderServer(reply=scripted_judge) as server:
        yield server


def judge_config(server: ProviderServer, tmp_path: Path, **settings) -> TeacherConfig:
    return TeacherConfig(
        provider="openai", model="fake-judge", base_url=server.base_url, cache_path=tmp_path / "cache.sqlite", **settings
    )


def rows(*words: str, response: str | None = "An answer.") -> "pl.DataFrame":
    return rows_frame([
        {"id": f"{i:08x}{word}", "instruction": f"Write a note that is {word}", "response": response,
         "metadata": json.dumps({"style": "plain"})}
        for i, word in enumerate(words)
    ])


def test_scores_are_recorded_and_low_or_unreadable_ones_ledgered(judge_server, tmp_path):
    config = Config(judge=judge_config(judge_server, tmp_path))
    result = apply(quality_judge, rows("great", "fine", "poor", "vague", "torn"), config, tools())

    assert [d[0]["score"] for d in result.kept["decisions"].to_list()] == [5.0, 4.0]
    assert {d[0]["stage"] for d in result.kept["decisions"].to_list()} == {"quality_judge"}
    reasons = dict(zip(result.dropped["id"].str.slice(8), result.dropped["reason"]))
    assert reasons == {
        "poor": "judge score 2 < min_score 4 (lima)",
        "vague": "judge score unparseable: no score in the answer",
        "torn": "judge score unparseable: contradictory final lines (3, 5)",
    }
    assert result.dropped.filter(result.dropped["reason"].str.starts_with("judge score 2"))["score"].to_list() == [2.0]
    judged = json.loads(result.kept["metadata"][0])
    assert judged["style"] == "plain"  # the recipe's metadata is kept
    assert judged["judge"] == {
        "rubric": "lima", "version": "1", "template_hash": load_rubric(rubric_path("lima")).hash,
        "model": "fake-judge", "aspects": {"helpfulness": 5.0},
    }
    # the LIMA prompt went out verbatim with the row filled in, at the filter's sampling
    # (the requests fan out, so the server may see them in any order)
    prompts = [request["body"] for request in judge_server.paths("/v1/chat/completions")]
    sent = next(body for body in prompts if "that is great\n" in body["messages"][0]["content"])
    assert "[Task]: Write a note that is great\n***\n[Submission]: An answer.\n***" in sent["messages"][0]["content"]
    assert "repeat just the selected choice again by itself on a new line." in sent["messages"][0]["content"]
    assert sent["model"] == "fake-judge" and sent["temperature"] == 0.0 and sent["max_tokens"] == 512


def test_a_rerun_is_answered_by_the_cache(judge_server, tmp_path):
    config = Config(judge=judge_config(judge_server, tmp_path), min_score=2)
    first = apply(quality_judge, rows("great", "poor"), config, tools())
    sent = judge_server.count
    second = apply(quality_judge, rows("great", "poor"), config, tools())
    assert sent == 2 and judge_server.count == sent
    assert second.kept.equals(first.kept)


def test_ultrafeedback_asks_each_aspect_and_averages(judge_server, tmp_path):
    config = Config(rubric="ultrafeedback", judge=judge_config(judge_server, tmp_path), min_score=1)
    ratings = {"# Instruction Following": "Rating: 5", "# Informativeness": "Rating: 4",
               "# Honesty": "Rating: 4\nRationale: confident", "# Truthfulness": "Rating: 3"}
    judge_server.reply = lambda body: next(
        answer for heading, answer in ratings.items() if body["messages"][0]["content"].startswith(heading)
    )
    result = apply(quality_judge, rows("fine"), config, tools())
    assert judge_server.count == 4
    assert result.kept["decisions"][0][0]["score"] == 4.0
    assert json.loads(result.kept["metadata"][0])["judge"]["aspects"] == {
        "instruction_following": 5.0, "helpfulness": 4.0, "honesty": 4.0, "truthfulness": 3.0,
    }
    judge_server.reply = lambda body: "Rating: 9" if "# Honesty" in body["messages"][0]["content"] else "Rating: 5"
    dropped = apply(quality_judge, rows("poor"), config, tools()).dropped
    assert dropped["reason"].to_list() == ["judge score unparseable: honesty: score 9 outside 1-5"]


def test_judge_failures_and_budget_are_their_own_reasons(judge_server, tmp_path):
    from tests.fakes.provider_server import status

    failing = Config(judge=judge_config(judge_server, tmp_path, max_retries=0), min_score=1)
    judge_server.rules.append(lambda request: status(500, "down"))
    failed = apply(quality_judge, rows("great"), failing, tools())
    assert failed.dropped["reason"][0].startswith("judge failed: ")
    judge_server.rules.clear()

    broke = judge_config(judge_server, tmp_path, budget_usd=1e-9, prices={"fake-judge": {"input": 1e6, "output": 1e6}})
    unsent = apply(quality_judge, rows("fine"), Config(judge=broke, min_score=1), tools())
    assert unsent.dropped["reason"].to_list() == ["budget exhausted"]


def test_rows_without_a_response_are_not_sent(judge_server, tmp_path):
    result = apply(quality_judge, rows("great", response=None), Config(judge=judge_config(judge_server, tmp_path)), tools())
    assert result.dropped["reason"].to_list() == ["no response to judge"] and judge_server.count == 0


def test_complexity_judges_the_instruction_alone(judge_server, tmp_path):
    judge_server.reply = lambda body: "##Complexity: 3"
    config = Config(rubric="deita_complexity", judge=judge_config(judge_server, tmp_path))
    result = apply(quality_judge, rows("fine", response=None), config, tools())
    assert result.kept["decisions"][0][0]["score"] == 3.0
    assert "##Query: Write a note that is fine\n##Complexity:" in judge_server.requests[0]["body"]["messages"][0]["content"]


def test_a_users_rubric_file_with_its_own_scale(judge_server, tmp_path):
    path = tmp_path / "terse.yaml"
    path.write_text(
        "name: terse\nversion: '2'\nscale: {min: 0, max: 10}\ndefault_min_score: 7\n"
        "aspects:\n  brevity: 'Rate 0-10 how terse this is: {response}'\n"
    )
    judge_server.reply = lambda body: "8/10"
    result = apply(quality_judge, rows("fine"), Config(rubric_file=path, judge=judge_config(judge_server, tmp_path)), tools())
    assert result.kept["decisions"][0][0]["score"] == 8.0
    assert json.loads(result.kept["metadata"][0])["judge"]["rubric"] == "terse"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("name: x\nversion: '1'\nscale: {min: 1, max: 5}\ndefault_min_score: 3\naspects: {a: 'Rate {answer}'}\n",
         "aspects.a uses unknown placeholder(s) ['answer']"),
        ("name: x\nversion: '1'\nscale: {min: 5, max: 1}\ndefault_min_score: 3\naspects: {a: '{response}'}\n",
         "scale must be {min: <number>, max: <larger number>}"),
        ("name: x\nscale: {min: 1, max: 5}\naspects: {a: '{response}'}\n", "a rubric has exactly the keys"),
        ("name: x\nversion: '1'\nscale: {min: 1, max: 5}\ndefault_min_score: 9\naspects: {a: '{response}'}\n",
         "default_min_score 9 is outside the scale 1-5"),
    ],
)
def test_a_broken_rubric_file_is_refused_naming_the_file(tmp_path, text, message):
    path = tmp_path / "mine.yaml"
    path.write_text(text)
    with pytest.raises(RubricError, match=re.escape(message)) as error:
        load_rubric(path)
    assert str(path) in str(error.value)


def test_every_shipped_rubric_loads_with_its_scale():
    scales = {name: (r.low, r.high, r.default_min_score, list(r.aspects)) for name in quality_judge.SHIPPED
              for r in [load_rubric(rubric_path(name))]}
    assert scales == {
        "lima": (1, 6, 4, ["helpfulness"]),
        "ultrafeedback": (1, 5, 3.5, ["instruction_following", "helpfulness", "honesty", "truthfulness"]),
        "deita_quality": (1, 6, 3, ["quality"]),
        "deita_complexity": (1, 6, 2, ["complexity"]),
        "brief": (1, 6, 3, ["helpfulness"]),
    }


@pytest.mark.parametrize(
    ("step", "message"),
    [
        ({"name": "quality_judge", "min_score": 7}, "filters[0]: Value error, min_score 7 is outside the lima rubric's scale 1-6"),
        ({"name": "quality_judge", "rubric": "lima", "rubric_file": "x.yaml"}, "give rubric or rubric_file, not both"),
        ({"name": "quality_judge", "rubric": "lmia"}, "filters[0].rubric: Input should be 'lima'"),
        ({"name": "quality_judge", "judge": {"provider": "openai", "max_tokens": 9}},
         "judge.max_tokens: set the judge's sampling on the filter"),
        ({"name": "quality_judge", "rubric_file": "missing.yaml"}, "missing.yaml: cannot read the rubric"),
    ],
)
def test_config_errors_name_the_step(step, message):
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config({"dataset": "d", "recipe": {"name": "self_instruct"}, "filters": [step]})
