import json

import pytest
from typer.testing import CliRunner

from synthfoundry import card, report
from synthfoundry.card import Card, Section
from synthfoundry.cli import app
from tests.helpers import two_versions


@pytest.fixture
def store(tmp_path):
    return two_versions(tmp_path)


def test_a_card_is_a_list_of_sections_others_can_add_to():
    built = Card("ds v1", [Section("", ["- rows: 3"]), Section("Pipeline", ["(none)"]),
                           Section("Lineage", ["- run r"])])
    built.add(Section("Extrinsic evaluation", ["- SFT arm: +3.1 points"]), before="Lineage")
    built.section("").lines.append("- sandbox: bubblewrap")
    assert [s.title for s in built.sections] == ["", "Pipeline", "Extrinsic evaluation", "Lineage"]
    assert built.markdown() == (
        "# ds v1\n\n- rows: 3\n- sandbox: bubblewrap\n\n## Pipeline\n\n(none)\n\n"
        "## Extrinsic evaluation\n\n- SFT arm: +3.1 points\n\n## Lineage\n\n- run r\n"
    )


def test_card_files_beside_the_manifest(store):
    v2 = store.latest()
    figures = report.evaluate_version(store, v2)
    written = card.write_card(store, v2, figures, report.plots(figures))
    folder = v2.path
    assert sorted(p.removeprefix(folder + "/") for p in written) == [
        "card.md", "evaluation.json", "plots/judge.png", "plots/lengths.png", "plots/scores.png", "plots/stages.png",
    ]
    for path in written:
        if path.endswith(".png"):
            assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    text = open(f"{folder}/card.md").read()
    for heading in ("# ds v2", "## Pipeline", "## Why rows were dropped", "## Diversity", "## Contamination",
                    "## Lengths", "## Lineage", "## Change from v1", "## Load it"):
        assert heading in text
    assert "![judge](plots/judge.png)" in text and "| gsm8k | 2 |" in text
    assert "- policy pass rate (`pass_rate`): mean 0.375" in text
    assert "no budget set" in text and "budget unknown" not in text
    assert "<details><summary>run config</summary>" in text  # card.md and the HF README: collapsed there
    assert json.loads(open(f"{folder}/evaluation.json").read())["contamination"] == figures["contamination"]


def test_the_budget_a_run_set_is_on_its_card(store):
    figures = report.evaluate_version(store, store.latest())
    budgeted = {**figures, "cost": {**figures["cost"], "budget_usd": 20.0}}
    assert "budget $20.0000" in card.version_card(budgeted).markdown()
    assert "budget $20.0000" in card.cost_line({"budget_usd": 20.0, "spent_usd": 1.5})


def test_the_prefect_card_points_to_the_config_instead_of_an_open_block(store):
    figures = report.evaluate_version(store, store.latest())
    text = card.version_card(figures, collapsible=False).markdown()
    assert "<details>" not in text and '"recipe"' not in text
    assert "run config: `config` in the version's manifest.json" in text


def test_load_it_names_the_absolute_place(tmp_path, monkeypatch):
    two_versions(tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["card", "ds", "--root", "data"])
    assert result.exit_code == 0, result.output
    assert f"DatasetStore('{tmp_path}/data', 'ds')" in result.stdout
    assert f"--root {tmp_path}/data --version 2" in result.stdout
    assert card.place("s3://bucket/prefix") == "s3://bucket/prefix"


def test_tables_are_rows_for_artifacts(store):
    figures = report.evaluate_version(store, store.latest())
    rows = card.tables(figures)
    stages = {s["stage"]: s for s in rows["stages"]}
    assert stages["diversity"] == {"stage": "diversity", "in": 13, "kept": 10, "dropped": 3, "kept_share": 0.7692}
    assert {"benchmark": "math500", "hits": 1} in rows["contamination"]
    assert all("histogram" not in row for row in rows["lengths"])


def test_the_sandbox_code_ran_in_is_one_line_of_the_card(store):
    figures = report.evaluate_version(store, store.latest())
    assert "code ran" not in card.version_card(figures).markdown()  # a run that ran no code
    sandboxed = {"isolation": "bwrap", "timeout_s": 10.0, "memory_mb": 1024, "max_processes": 128, "concurrency": 2}
    text = card.version_card({**figures, "sandbox": sandboxed}).markdown()
    assert "- sandbox: model-written code ran under bwrap, 10 s and 1024 MB per program" in text
    text = card.version_card({**figures, "sandbox": {**sandboxed, "isolation": "none"}}).markdown()
    assert "- **unsandboxed**: model-written code ran with `sandbox: {isolation: none}`" in text
