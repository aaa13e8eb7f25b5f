"""Data contracts on real great_expectations: the shipped SFT suite, its failure reports, suite-file errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest

from synthfoundry.contracts import ContractError, ContractSuite, load_suite, suite_path, validate
from synthfoundry.records import PUBLISHED_SCHEMA


@pytest.fixture(scope="module")
def sft() -> ContractSuite:
    return load_suite(suite_path("sft"))


def sft_rows(n: int = 3) -> pl.DataFrame:
    """A valid published SFT frame, nested columns included (seed_ids, decisions); other columns null."""
    data = {
            "id": [f"row-{i}" for i in range(n)],
            "recipe": ["self_instruct"] * n,
            "recipe_version": ["1"] * n,
            "template_hash": ["3f2a9c"] * n,
            "seed_ids": [["seed_task_1", "seed_task_7"]] * n,
            "instruction": [f"Write a haiku about the number {i}." for i in range(n)],
            "input": [""] * n,
            "response": [f"Haiku number {i}." for i in range(n)],
            "reasoning": [None] * n,
            "teacher_provider": ["local"] * n,
            "teacher_model": ["SmolLM2-135M-Instruct"] * n,
            "teacher_params": ['{"temperature": 0.7}'] * n,
            "prompt_tokens": [40] * n,
            "completion_tokens": [12] * n,
            "finish_reason": ["stop"] * n,
            "run_id": ["run-1"] * n,
            "created_at": [datetime(2025, 1, 1, tzinfo=UTC)] * n,
            "decisions": [[{"stage": "rouge", "score": 0.2}]] * n,
        }
    return pl.DataFrame(data, schema={name: PUBLISHED_SCHEMA[name] for name in data}).select(
        pl.col(name) if name in data else pl.lit(None, dtype).alias(name) for name, dtype in PUBLISHED_SCHEMA.items()
    )


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "suite.yaml"
    path.write_text(text)
    return path


def test_importing_contracts_does_not_import_great_expectations() -> None:
    code = "import sys, synthfoundry.contracts; sys.exit('great_expectations' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_shipped_sft_suite_loads(sft: ContractSuite) -> None:
    assert sft.name == "sft"
    assert {"expect_column_values_to_be_unique", "expect_table_columns_to_match_set"} <= {
        e.expectation for e in sft.expectations
    }


def test_valid_frame_passes(sft: ContractSuite) -> None:
    result = validate(sft_rows(), sft)
    assert result.success, result.summary()
    assert result.failures == () and result.evaluated == len(sft.expectations) and result.rows == 3
    assert "passed" in result.summary()


BROKEN = {
    "duplicate-instruction": (
        lambda f: f.with_columns(pl.lit("Write a haiku about the number 0.").alias("instruction")),
        "expect_column_values_to_be_unique(column='instruction')",
        "e.g. 'Write a haiku about the number 0.'",
    ),
    "empty-response": (
        lambda f: f.with_columns(pl.lit("").alias("response")),
        "expect_column_value_lengths_to_be_between(column='response'",
        "3 of 3 rows; e.g. ''",
    ),
    "null-teacher-model": (
        lambda f: f.with_columns(pl.lit(None, pl.String).alias("teacher_model")),
        "expect_column_values_to_not_be_null(column='teacher_model')",
        "e.g. None",
    ),
    "missing-column": (
        lambda f: f.drop("template_hash"),
        "expect_table_columns_to_match_set",
        "missing ['template_hash']",
    ),
}


@pytest.mark.parametrize(("break_it", "expectation", "evidence"), BROKEN.values(), ids=BROKEN.keys())
def test_broken_frame_fails_with_evidence(
    sft: ContractSuite, break_it: Callable[[pl.DataFrame], pl.DataFrame], expectation: str, evidence: str
) -> None:
    result = validate(break_it(sft_rows()), sft)
    assert not result.success
    summary = result.summary()
    failed_line = next((line for line in summary.splitlines() if expectation in line), None)
    assert failed_line is not None, summary
    assert evidence in failed_line, summary
    json.dumps(result.to_dict())  # the manifest must be able to carry it


def test_missing_column_also_reports_the_expectations_that_could_not_run(sft: ContractSuite) -> None:
    result = validate(sft_rows().drop("template_hash"), sft)
    failure = next(f for f in result.failures if f.column == "template_hash")
    assert failure.expectation == "expect_column_values_to_not_be_null"
    assert 'column "template_hash"' in (failure.observed or "") and "does not exist" in (failure.observed or "")


def test_examples_are_capped_and_json_ready(sft: ContractSuite) -> None:
    too_short = sft_rows(12).with_columns(pl.int_range(pl.len()).cast(pl.String).alias("instruction"))
    result = validate(too_short, sft)
    (failure,) = result.failures
    assert failure.unexpected_count == 12 and failure.examples == ("0", "1", "2", "3", "4")
    assert json.loads(json.dumps(result.to_dict()))["failures"][0]["examples"] == ["0", "1", "2", "3", "4"]


def test_any_gx_expectation_works_and_nested_columns_are_checked_as_json(tmp_path: Path) -> None:
    suite = load_suite(
        write(
            tmp_path,
            "name: lineage\nexpectations:\n"
            "  - expectation: expect_column_values_to_match_regex\n"
            "    kwargs: {column: seed_ids, regex: 'seed_task_'}\n",
        )
    )
    frame = sft_rows().with_columns(pl.when(pl.col("id") == "row-1").then([]).otherwise("seed_ids").alias("seed_ids"))
    (failure,) = validate(frame, suite).failures
    assert failure.examples == ("[]",)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "name: s\nexpectations:\n  - expectation: expect_column_values_to_not_be_null\n    kwargs: {column: id}\n"
            "  - expectation: expect_column_values_to_be_uniq\n    kwargs: {column: id}\n",
            "expectations[1] expect_column_values_to_be_uniq: unknown expectation type "
            "(did you mean expect_column_values_to_be_unique?)",
        ),
        (
            "name: s\nexpectations:\n  - expectation: expect_column_values_to_not_be_null\n",
            "expectations[0].kwargs: required",
        ),
        (
            "name: s\nexpectations:\n  expectation: expect_column_values_to_not_be_null\n",
            "expectations: required, a non-empty list",
        ),
        (
            "name: s\nexpectations:\n  - expectation: expect_column_values_to_not_be_null\n    kwargs: {colum: id}\n",
            "expectations[0] expect_column_values_to_not_be_null: kwargs.column: field required",
        ),
        ("- just\n- a list\n", "(top level): expected a mapping"),
        ("name: s\nexpectations: [\n", "not valid YAML at line"),
    ],
    ids=["unknown-type", "missing-kwargs", "not-a-list", "bad-kwargs", "top-level-list", "invalid-yaml"],
)
def test_malformed_suite_is_rejected_with_file_and_entry(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ContractError) as caught:
        load_suite(path)
    assert str(path) in str(caught.value)
    assert message in str(caught.value)


def test_suite_path_resolves_names_and_passes_paths_through(tmp_path: Path) -> None:
    assert suite_path("sft") == Path(__file__).resolve().parents[1] / "data_contracts" / "sft.yaml"
    assert suite_path(tmp_path / "mine.yaml") == tmp_path / "mine.yaml"
    (tmp_path / "rlvr.yaml").write_text("")
    assert suite_path("rlvr", root=tmp_path) == tmp_path / "rlvr.yaml"
    with pytest.raises(ContractError, match=r"no contract suite 'stf'.*available: .*sft"):
        suite_path("stf")


def preference_rows(n: int = 3) -> pl.DataFrame:
    """A valid published preference frame: one pair per prompt, chosen (the response) beats rejected."""
    return sft_rows(n).with_columns(
        pl.format("A worse answer {}.", pl.int_range(pl.len())).alias("rejected"),
        pl.lit(5.0).alias("chosen_score"),
        pl.lit(2.0).alias("rejected_score"),
        pl.lit(3.0).alias("margin"),
    )


BROKEN_PAIRS = {
    "rejected-is-chosen": (
        lambda f: f.with_columns(pl.when(pl.col("id") == "row-1").then("response").otherwise("rejected").alias("rejected")),
        "expect_column_values_to_be_null(column='id'",
        "1 of 3 rows; e.g. 'row-1'",
    ),
    "no-margin": (
        lambda f: f.with_columns(pl.lit(0.0).alias("margin"), pl.col("chosen_score").alias("rejected_score")),
        "expect_column_values_to_be_between(column='margin'",
        "3 of 3 rows",
    ),
    "rejected-scores-higher": (
        lambda f: f.with_columns(pl.lit(6.0).alias("rejected_score")),
        "expect_column_pair_values_a_to_be_greater_than_b(column_A='chosen_score'",
        "3 of 3 rows",
    ),
    "missing-score": (
        lambda f: f.with_columns(pl.lit(None, pl.Float64).alias("chosen_score")),
        "expect_column_values_to_not_be_null(column='chosen_score')",
        "3 of 3 rows",
    ),
    "two-pairs-for-one-prompt": (
        lambda f: f.with_columns(pl.lit("Write a haiku.").alias("instruction")),
        "expect_compound_columns_to_be_unique(column_list=['instruction', 'input'])",
        "3 of 3 rows",
    ),
}


def test_preference_suite_passes_valid_pairs() -> None:
    result = validate(preference_rows(), load_suite(suite_path("preference")))
    assert result.success, result.summary()


@pytest.mark.parametrize(("break_it", "expectation", "evidence"), BROKEN_PAIRS.values(), ids=BROKEN_PAIRS.keys())
def test_preference_suite_names_each_broken_pair(
    break_it: Callable[[pl.DataFrame], pl.DataFrame], expectation: str, evidence: str
) -> None:
    result = validate(break_it(preference_rows()), load_suite(suite_path("preference")))
    failed_line = next((line for line in result.summary().splitlines() if expectation in line), None)
    assert failed_line is not None and evidence in failed_line, result.summary()
