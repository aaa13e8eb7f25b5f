import json

import datasets
import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from synthfoundry.cli import app
from synthfoundry.dataset import DatasetStore
from synthfoundry.exporters.verl import ANSWER_FORMAT
from tests.exporters.conftest import reward_manager_scores
from tests.helpers import publish_rows, published_rows, report_ledger

runner = CliRunner()


@pytest.fixture
def root(tmp_path):
    """A real store: quickstart v1 (20 rows), v2 (+10 rows, with a ledger)."""
    root = tmp_path / "root"
    publish_rows(root, "quickstart", published_rows(20, seed=1, run_id="run-1"))
    publish_rows(root, "quickstart", published_rows(10, seed=2, run_id="run-2"), report_ledger())
    return str(root)


def cli(*args):
    return runner.invoke(app, [str(a) for a in args])


def ok(*args):
    result = cli(*args)
    assert result.exit_code == 0, result.output
    return result


def refused(*args, code=1):
    """A user error: one line on stderr, the given exit code, no traceback."""
    result = cli(*args)
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    return result


COMMANDS = ["run", "validate", "versions", "show", "diff", "tag", "rollback", "ledger", "export", "card", "check", "repair"]


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help(command):
    assert f"Usage: synthfoundry {command}" in ok(command, "--help").stdout


def test_usage_errors_exit_2():
    assert refused("show", code=2).exit_code == 2  # missing DATASET
    assert "No such command" in refused("publish-everything", code=2).output


def test_versions_and_show(root):
    rows = json.loads(ok("versions", "quickstart", "--root", root, "--json").stdout)
    assert [(r["version"], r["added"], r["total"]) for r in rows] == [("v1", 20, 20), ("v2", 10, 30)]
    text = ok("versions", "quickstart", "--root", root).stdout
    assert text.splitlines()[0].split()[:4] == ["version", "created_at", "added", "total"]

    shown = json.loads(ok("show", "quickstart", "--root", root, "--version", 1, "--json").stdout)
    assert shown["version"] == "v1" and shown["contract"]["suite"] == "sft" and len(shown["data_files"]) == 1
    text = ok("show", "quickstart", "--root", root).stdout
    assert "quickstart v2" in text and "10 added, 30 in total" in text and "diversity" in text


def test_user_errors_are_one_line(root, tmp_path):
    result = refused("show", "quickstart", "--root", root, "--version", 9)
    assert result.stderr.strip() == "error: dataset 'quickstart' has no version v9; it has v1, v2"


@pytest.mark.parametrize("command", [["check"], ["repair"], ["versions"], ["show"], ["rollback", "--to", 1],
                                     ["export", "--format", "trl", "--out", "out"]])
def test_a_place_without_the_dataset_is_one_error_and_nothing_is_created(tmp_path, command):
    place = tmp_path / "empty"
    place.mkdir()
    result = refused(command[0], "nothing", "--root", place, *command[1:])
    assert result.stderr.strip() == f"error: no dataset 'nothing' under {place}: nothing was ever published there " \
                                    "(is --root right?)"
    assert list(place.iterdir()) == [] and not (tmp_path / "out").exists()


def test_diff_tag_and_rollback(root):
    changes = json.loads(ok("diff", "quickstart", 1, 2, "--root", root, "--json").stdout)
    assert changes["added"]["count"] == 10 and changes["removed"]["count"] == 0
    table = ok("diff", "quickstart", 1, 2, "--root", root).stdout.split("\n\n")[1].splitlines()
    assert [line.split() for line in table] == [
        ["stage", "v1", "in", "v1", "kept", "v2", "in", "v2", "kept"],
        ["synthesis", "20", "20", "10", "10"],
        ["distillation", "20", "20", "10", "10"],
        ["diversity", "20", "20", "13", "10"],  # v2's ledger: 3 near-duplicates dropped
        ["quality_judge", "-", "-", "13", "10"],  # only in v2
        ["decontamination", "-", "-", "13", "10"],
        ["publish", "20", "20", "10", "10"],
    ]

    ok("tag", "quickstart", "best", "--version", 1, "--root", root)
    rows = json.loads(ok("versions", "quickstart", "--root", root, "--json").stdout)
    assert rows[0]["tags"] == "best"
    assert "not allowed" in refused("tag", "quickstart", "v7", "--version", 1, "--root", root).stderr
    ok("tag", "quickstart", "best", "--delete", "--root", root)
    assert "has no tag 'best'" in refused("tag", "quickstart", "best", "--delete", "--root", root).stderr

    rolled = json.loads(ok("rollback", "quickstart", "--to", 1, "--root", root, "--json").stdout)
    assert rolled == {"version": "v3", "rollback_of": "v1"}
    store = DatasetStore(root, "quickstart")
    assert sorted(store.read()["id"]) == sorted(store.read(1)["id"])
    assert [v.tag for v in store.versions()] == ["v1", "v2", "v3"]


def test_ledger_by_stage_and_reason_with_examples(root):
    text = ok("ledger", "quickstart", "--root", root, "--examples", 1).stdout
    assert text.startswith("quickstart v2: 9 rows dropped")
    assert "diversity: 3" in text and "cosine # > # to a row kept earlier" in text
    assert "- cosine 0.934 > 0.9 to a row kept earlier | 'text 0'" in text
    assert "decontamination: 3\n  by benchmark: gsm8k 2, math500 1\n" in text
    kinds = json.loads(ok("ledger", "quickstart", "--root", root, "--stage", "decontamination", "--json").stdout)
    assert {k["stage"] for k in kinds} == {"decontamination"} and sum(k["rows"] for k in kinds) == 3
    assert "has no stage 'judge'" in refused("ledger", "quickstart", "--root", root, "--stage", "judge").stderr
    assert "0 rows dropped" in ok("ledger", "quickstart", "--root", root, "--version", 1).stdout


def test_export_hf_loads_every_row_with_datasets(root, tmp_path):
    out = tmp_path / "hf"
    result = json.loads(ok("export", "quickstart", "--root", root, "--format", "hf", "--out", out, "--json").stdout)
    assert result["version"] == "v2" and result["rows"] == 30
    loaded = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == 30
    assert sorted(loaded["id"]) == sorted(DatasetStore(root, "quickstart").read()["id"])
    readme = (out / "README.md").read_text()
    assert "## Diversity" in readme and "![stages](plots/stages.png)" in readme and (out / "plots/stages.png").exists()


def test_export_other_formats_and_their_errors(root, tmp_path):
    ok("export", "quickstart", "--root", root, "--format", "trl", "--out", tmp_path / "trl", "--version", 1,
       "--reasoning", "drop", "--file-format", "parquet")
    sft = pl.read_parquet(tmp_path / "trl" / "train.parquet")
    assert sft.columns == ["id", "messages"] and sft.height == 20
    assert "not a preference dataset" in refused("export", "quickstart", "--root", root, "--format", "dpo",
                                                 "--out", tmp_path / "dpo").stderr
    assert "have no 'answer'" in refused("export", "quickstart", "--root", root, "--format", "verl",
                                         "--out", tmp_path / "verl").stderr
    assert "is not one of" in refused("export", "quickstart", "--root", root, "--format", "csv",
                                      "--out", tmp_path / "x", code=2).output


def test_card_writes_beside_the_manifest(root):
    result = ok("card", "quickstart", "--root", root, "--version", 2)
    assert result.stdout.startswith("# quickstart v2") and "## Change from v1" in result.stdout
    folder = DatasetStore(root, "quickstart").versions()[1].path
    assert open(f"{folder}/card.md").read().startswith("# quickstart v2")


def test_card_of_a_rollback(root):
    ok("rollback", "quickstart", "--to", 1, "--root", root)
    figures = json.loads(ok("card", "quickstart", "--root", root, "--json").stdout)["evaluation"]
    assert figures["lineage"]["rollback_of"] == "v1" and figures["rows"]["total"] == 20
    assert figures["change"]["rows"] == {"previous": 30, "current": 20, "delta": -10}


def test_check_and_repair(root):
    assert "nothing to repair" in ok("check", "quickstart", "--root", root).stdout
    assert json.loads(ok("repair", "quickstart", "--root", root, "--json").stdout) == []


def write_config(tmp_path, **overrides):
    config = {"dataset": "pre", "recipe": {"name": "self_instruct"}, "publish": {"root": str(tmp_path / "out")},
              "teacher": {"provider": "local"}, **overrides}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_validate_passes_a_good_config(tmp_path):
    checks = json.loads(ok("validate", write_config(tmp_path), "--json").stdout)
    assert {c["name"]: c["ok"] for c in checks} == {
        "config": True, "teacher key": True, "filters[1].benchmarks[0]": True, "contract": True, "publish root": True,
        "forecast": True,
    }


def test_validate_names_every_problem_without_sending_a_request(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    path = write_config(
        tmp_path,
        recipe={"name": "self_instruct", "seed_tasks": str(tmp_path / "missing.jsonl")},
        teacher={"provider": "openai", "model": "my-finetune", "budget_usd": 5},
        contract="no_such_suite",
    )
    result = refused("validate", path)
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert [line.split(":")[0] for line in failed] == [
        "FAIL  recipe.seed_tasks", "FAIL  teacher key", "FAIL  contract", "FAIL  forecast"
    ]
    assert "set OPENAI_API_KEY" in result.stdout and "add it to teacher.prices" in result.stdout

    (tmp_path / "broken.yaml").write_text("dataset: [unclosed")
    assert "FAIL  config" in refused("validate", tmp_path / "broken.yaml").stdout


def test_validate_reads_the_documents_a_recipe_names(tmp_path):
    empty = tmp_path / "corpus"
    empty.mkdir()
    result = refused("validate", write_config(tmp_path, recipe={"name": "wrap", "documents": str(empty)}))
    assert "FAIL  recipe.documents: " in result.stdout and "0 documents readable" in result.stdout
    (empty / "a.txt").write_text("A document long enough to rephrase. " * 5)
    assert "ok    recipe.documents: " in ok("validate", write_config(tmp_path, recipe={"name": "wrap",
                                                                                   "documents": str(empty)})).stdout


def test_run_stops_before_the_flow_when_a_check_fails(tmp_path):
    result = refused("run", write_config(tmp_path, contract="no_such_suite"))
    assert result.stderr.startswith("error: contract: ") and "synthfoundry validate" in result.stderr
    assert not (tmp_path / "out" / "exports").exists()


@pytest.mark.slow
def test_run_then_export_for_an_rl_trainer(prefect_harness, tmp_path):
    config = yaml.safe_load(open("deployments/configs/procedural.yaml"))
    config["recipe"]["datasets"] = {"basic_arithmetic": 12}
    config["publish"]["root"] = str(tmp_path / "root")
    path = tmp_path / "procedural.yaml"
    path.write_text(yaml.safe_dump(config))
    ok("run", path)
    ok("export", "procedural", "--root", tmp_path / "root", "--format", "verl", "--out", tmp_path / "verl",
       "--answer-format", "user")
    loaded = datasets.load_dataset("parquet", data_files=str(tmp_path / "verl" / "train.parquet"), split="train",
                                   cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == DatasetStore(tmp_path / "root", "procedural").read().height > 0
    first = loaded[0]
    assert first["extra_info"]["verifier"] == "reasoning_gym:basic_arithmetic"
    assert first["prompt"][-1]["content"].endswith(ANSWER_FORMAT)
    answer = first["reward_model"]["ground_truth"]
    assert reward_manager_scores(tmp_path / "verl" / "train.parquet", [f"<answer>{answer}</answer>"]) == [1.0]
    card = open(f"{DatasetStore(tmp_path / 'root', 'procedural').latest().path}/card.md").read()
    assert card.startswith("# procedural v1") and "## Why rows were dropped" in card
