import polars as pl
import pytest

from synthfoundry.exporters import EXPORTERS, ExportError, ExportOptions
from synthfoundry.exporters.verl import ANSWER_FORMAT
from tests.exporters.conftest import load, reward_manager_scores


def rlvr(rows, verifier="math_verify"):
    return rows.with_columns(
        pl.lit(None, pl.String).alias("response"),
        pl.format("{}", pl.int_range(pl.len()) + 2).alias("answer"),
        pl.lit(verifier).alias("verifier"),
    )


def test_verl_rows_carry_chat_prompt_ground_truth_and_verifier(version, tmp_path):
    rows, manifest = version
    tasks = rlvr(rows)
    [path] = EXPORTERS["verl"](tasks, manifest, tmp_path / "out", ExportOptions())
    loaded = load("parquet", path, tmp_path)
    assert loaded.column_names == ["data_source", "prompt", "ability", "reward_model", "extra_info"]
    assert loaded.num_rows == rows.height
    first = loaded[0]
    assert first["data_source"] == "synthfoundry/quickstart" and first["ability"] == "math"
    assert first["prompt"] == [
        {"role": "system", "content": ANSWER_FORMAT},
        {"role": "user", "content": f"{tasks['instruction'][0]}\n\n{tasks['input'][0]}"},
    ]
    assert first["reward_model"] == {"style": "rule", "ground_truth": "2"}
    assert first["extra_info"]["index"] == 0 and first["extra_info"]["verifier"] == "math_verify"
    assert first["extra_info"]["id"] == tasks["id"][0]
    assert [info["index"] for info in loaded["extra_info"]] == list(range(rows.height))


def test_the_answer_format_goes_where_asked_and_merges_with_a_system_turn(version, tmp_path):
    rows, manifest = version
    tasks = rlvr(rows).with_columns(
        pl.when(pl.int_range(pl.len()) == 0)
        .then(pl.lit([{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                      {"role": "assistant", "content": "Hello"}]))
        .otherwise(pl.col("messages"))
        .alias("messages")
    )

    def prompts(where):
        [path] = EXPORTERS["verl"](tasks, manifest, tmp_path / where, ExportOptions(answer_format=where))
        return pl.read_parquet(path)["prompt"].to_list()

    system, user, none = prompts("system"), prompts("user"), prompts("none")
    assert system[0] == [
        {"role": "system", "content": f"Be brief.\n\n{ANSWER_FORMAT}"}, {"role": "user", "content": "Hi"}
    ]
    assert user[0][-1] == {"role": "user", "content": f"Hi\n\n{ANSWER_FORMAT}"} and len(user[0]) == 2
    assert user[1][-1]["content"].endswith(ANSWER_FORMAT) and len(user[1]) == 1
    assert none[1] == [{"role": "user", "content": user[1][-1]["content"].removesuffix(f"\n\n{ANSWER_FORMAT}")}]
    assert none[0][0] == {"role": "system", "content": "Be brief."}
    [path] = EXPORTERS["verl"](rlvr(rows, "regex:Final: (\\d+)"), manifest, tmp_path / "regex", ExportOptions())
    assert pl.read_parquet(path)["prompt"][1].to_list() == none[1]  # a regex reads its own pattern


def test_compute_score_as_verls_reward_manager_calls_it(version, tmp_path):
    rows, manifest = version
    [path] = EXPORTERS["verl"](rlvr(rows).head(4), manifest, tmp_path / "out", ExportOptions())
    responses = [  # ground truths 2, 3, 4, 5: the asked-for format, then the other readable endings
        "12 - 10 = 2\n<answer>2</answer>", "so the answer is \\boxed{3}", "4 - 1 = 3\n#### 4", "<answer>7</answer>",
    ]
    assert reward_manager_scores(path, responses, format_score=0.0) == [1.0, 1.0, 1.0, 0.0]


def test_verl_refuses_rows_without_ground_truth(version, tmp_path):
    rows, manifest = version
    with pytest.raises(ExportError, match=r"25 of 25 rows have no 'answer'; RLVR trainers need"):
        EXPORTERS["verl"](rows, manifest, tmp_path / "out", ExportOptions())


def test_code_rows_are_ability_code_and_their_reward_runs_the_tests_in_the_sandbox(version, tmp_path):
    from synthfoundry.exporters.verl import CODE_FORMAT

    rows, manifest = version
    tests = '{"tests": "assert add(1, 2) == 3\\nassert add(2, 2) == 4"}'
    code = rows.head(3).with_columns(pl.lit(None, pl.String).alias("response"), pl.lit(tests).alias("answer"),
                                     pl.lit("code_tests:python").alias("verifier"))
    [path] = EXPORTERS["verl"](code, manifest, tmp_path / "out", ExportOptions())
    loaded = load("parquet", path, tmp_path)
    assert set(loaded["ability"]) == {"code"} and loaded[0]["prompt"][0] == {"role": "system", "content": CODE_FORMAT}
    responses = ["```python\ndef add(a, b):\n    return a + b\n```", "def add(a, b):\n    return a * 2\n",
                 "```python\nimport time\ndef add(a, b):\n    time.sleep(30)\n```"]
    scores = reward_manager_scores(path, responses, format_score=0.0, sandbox={"timeout_s": 2})
    assert scores == [1.0, 0.5, 0.0]  # a * 2 passes add(2, 2) only; the sleeper is stopped by the 2 s limit
