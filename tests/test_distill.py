"""Distillation: n samples per prompt, per-row provider and cost, and unsent rows in the ledger."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from synthfoundry.distill import distill, to_answer
from synthfoundry.records import content_id, rows_frame
from synthfoundry.teachers import make_managed_teacher
from synthfoundry.teachers.config import TeacherConfig
from tests.fakes.provider_server import ProviderServer


def candidates(count: int) -> pl.DataFrame:
    return rows_frame(
        [
            {"id": content_id("row", i), "recipe": "r", "recipe_version": "1", "template_hash": "t", "seed_ids": ["s"],
             "instruction": f"Explain thing number {i}.", "input": ""}
            for i in range(count)
        ]
    )


def test_samples_keep_the_first_id_and_get_distinct_ones_after() -> None:
    frame = candidates(2)
    samples = to_answer(frame, 3)

    assert samples.height == 6 and samples["id"].n_unique() == 6
    assert samples["id"].to_list()[::3] == frame["id"].to_list()
    assert samples["id"][1] == content_id(frame["id"][0], "sample", 1)
    assert samples["instruction"].to_list() == [i for i in frame["instruction"] for _ in range(3)]
    assert samples["seed_ids"].to_list() == [["s"]] * 6


def test_rows_carry_cost_and_budget_leftovers_go_to_the_ledger(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    with ProviderServer() as server:
        config = TeacherConfig(
            provider="openai",
            base_url=server.base_url,
            model="gpt-4o-mini",
            max_tokens=50,
            budget_usd=0.0003,
            prices={"gpt-4o-mini": {"input": 1.0, "output": 1.0}},
            cache_path=tmp_path / "c.sqlite",
        )
        result = distill(candidates(10), make_managed_teacher(config), 0.7, 1.0, 50, max_in_flight=1, n=2)

    assert result.counts["in"] == 20
    assert result.kept.height == server.count > 0
    assert (result.kept["cost_usd"] > 0).all() and (result.kept["teacher_provider"] == "openai").all()
    assert set(result.dropped["reason"]) == {"budget exhausted"}
    assert result.kept["cost_usd"].sum() <= 0.0003
    # the same shape of teacher_params as every recipe writes (records.teacher_params), with the endpoint
    params = json.loads(result.kept["teacher_params"][0])
    assert params == {"provider": "openai", "model": "gpt-4o-mini", "base_url": server.base_url, "temperature": 0.7,
                      "top_p": 1.0, "max_tokens": 50}
