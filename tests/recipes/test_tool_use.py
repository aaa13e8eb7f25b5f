import json
import random
from pathlib import Path

import polars as pl
import pytest

from synthfoundry.recipes import tool_use
from synthfoundry.tools import Tool
from tests.fakes.provider_server import ProviderServer
from tests.fakes.tool_replies import EXPECTED_REASON, ScriptedToolTeacher
from tests.helpers import assert_accounted, run_recipe

SCRIPTED_TOOLS = str(Path(__file__).with_name("scripted_tools.py"))
TINY_SERVER = str(Path(__file__).parents[1] / "tools" / "tiny_mcp_server.py")


def test_plan_cycles_the_categories_and_offers_the_target_alone_or_with_others():
    tools = tuple(Tool(name, "", {"type": "object"}) for name in "abcde")
    planned = tool_use.plan(tool_use.Config(rows=12, tools_per_row=3), tools, random.Random(0))
    assert sorted(t.category for t in planned) == sorted(list(tool_use.CATEGORIES) * 2)
    for trajectory in planned:
        alone = tool_use.CATEGORIES[trajectory.category]["tools"] == "one"
        assert len(trajectory.tools) == (1 if alone else 3)
        assert len({t.name for t in trajectory.tools}) == len(trajectory.tools)


@pytest.fixture
def scripted():
    with ProviderServer(reply=ScriptedToolTeacher()) as server:
        yield server


def _scenario(request: str) -> str:
    return request[len("Request ("):].split(",")[0]


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_exactly_the_good_trajectories_are_published(tmp_path, scripted, provider, monkeypatch):
    """Scripted good, malformed, schema-violating, failing and irrelevant calls, through the user's path: each bad
    one in the ledger with its check's reason; every good one published, with its trajectory and ground truth."""
    monkeypatch.setenv("ANTHROPIC_API_KEY", "test-key")  # the Anthropic SDK sends one even to a loopback server
    url = scripted.base_url if provider == "openai" else scripted.origin
    recipe = {"name": "tool_use", "rows": 30, "toolset": {"module": SCRIPTED_TOOLS}}
    published = run_recipe(tmp_path, recipe, {"provider": provider, "model": "fake", "base_url": url},
                           filters="none")
    assert_accounted(published)
    kept, ledger = published.data, published.ledger.filter(pl.col("stage") == "synthesis")
    assert kept.height and ledger.height and kept.height + ledger.height == 30
    assert {_scenario(r) for r in kept["instruction"]} == {"good"}
    for text, reason in ledger.select("text", "reason").iter_rows():
        assert reason.startswith(EXPECTED_REASON[_scenario(text)]), (text, reason)
    scenarios = {_scenario(t) for t in ledger["text"]}
    assert scenarios == ({"schema", "failing", "called", "malformed"} - ({"malformed"} if provider != "openai" else set()))
    for row in kept.iter_rows(named=True):
        category = json.loads(row["metadata"])["category"]
        messages = json.loads(row["trajectory"])
        assert [m["role"] for m in messages[:2]] == ["system", "user"] and messages[-1]["role"] == "assistant"
        calls = [c for m in messages for c in m.get("tool_calls") or []]
        results = [m for m in messages if m["role"] == "tool"]
        assert len(results) == len(calls) and (category == "irrelevance") == (not calls)
        assert row["verifier"] == "tool_calls" and json.loads(row["answer"]) == ([] if not calls else json.loads(
            row["answer"]))
        first = [m for m in messages if m.get("tool_calls")][:1]
        if first:  # the answer is the first step's calls, and the verifier accepts them as written
            assert tool_use_score(first[0], row) == 1.0
        assert {t["function"]["name"] for t in json.loads(row["tools"])} >= {c["function"]["name"] for c in calls}
    if provider == "openai":  # the calls went out as OpenAI tools and came back as tool messages
        bodies = [r["body"] for r in scripted.paths("/v1/chat/completions") if r["body"].get("tools")]
        assert any(m["role"] == "tool" for b in bodies for m in b["messages"])


def tool_use_score(assistant: dict, row: dict) -> float:
    from synthfoundry.verify import verify

    return verify(json.dumps(assistant), row).score


@pytest.mark.usefixtures("prefect_harness")
def test_an_mcp_server_is_the_toolset(tmp_path, scripted):
    recipe = {"name": "tool_use", "rows": 6, "categories": ["simple", "parallel"],
              "toolset": {"mcp": ["python", TINY_SERVER]}}
    published = run_recipe(tmp_path, recipe, {"provider": "openai", "model": "fake", "base_url": scripted.base_url},
                           filters="none")
    checked = 0
    for trajectory in published.data["trajectory"]:
        messages = json.loads(trajectory)
        calls = {c["id"]: c["function"] for m in messages for c in m.get("tool_calls") or []}
        for result in (m for m in messages if m["role"] == "tool"):  # answered by the server's own functions
            call = calls[result["tool_call_id"]]
            arguments = json.loads(call["arguments"])
            expected = arguments["a"] + arguments["b"] if call["name"] == "add" else arguments["text"].upper()
            assert json.loads(result["content"]) == expected
            checked += 1
    assert checked


@pytest.mark.usefixtures("prefect_harness")
def test_a_bad_toolset_stops_the_run_before_any_request(tmp_path, scripted):
    from tasks.failures import PreflightFailed

    module = tmp_path / "untyped.py"
    module.write_text('def f(x):\n    """Doc."""\n    return x\n')
    recipe = {"name": "tool_use", "rows": 3, "toolset": {"module": str(module)}}
    with pytest.raises(PreflightFailed, match=r"recipe.toolset: .*untyped.py: function f .*parameter 'x' has no type"):
        run_recipe(tmp_path, recipe, {"provider": "openai", "model": "fake", "base_url": scripted.base_url})
    assert scripted.requests == []


def _validate(tmp_path, **overrides):
    """`synthfoundry validate` on a tool_use run config (a local teacher: nothing to pay, no key needed)."""
    import yaml
    from typer.testing import CliRunner

    from synthfoundry.cli import app

    config = {"dataset": "tools", "recipe": {"name": "tool_use", "rows": 2}, "teacher": {"provider": "local"},
              "publish": {"root": str(tmp_path / "published")}, **overrides}
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(config))
    return CliRunner().invoke(app, ["validate", str(path)])


def test_preflight_opens_the_toolset_in_the_runs_own_sandbox(tmp_path):
    """The estimate's toolset opens under `sandbox:` of the run config, as synthesis's does: a module slower to import
    than the run's timeout fails the check there (under the default 10 s it loads)."""
    module = tmp_path / "slow_tools.py"
    module.write_text('import time\n\ntime.sleep(1.5)\n\n\ndef double(x: int) -> int:\n'
                      '    """Twice x.\n\n    Args:\n        x: a number.\n    """\n    return 2 * x\n')
    recipe = {"name": "tool_use", "rows": 2, "toolset": {"module": str(module)}}
    timed_out = _validate(tmp_path, recipe=recipe, sandbox={"timeout_s": 0.5})
    assert timed_out.exit_code == 1, timed_out.output
    [failed] = [line for line in timed_out.stdout.splitlines() if line.startswith("FAIL")]
    assert failed.startswith("FAIL  recipe.toolset: ") and "slow_tools.py" in failed and "timeout after 0.5 s" in failed
    loaded = _validate(tmp_path, recipe=recipe)
    assert loaded.exit_code == 0 and "ok    recipe.toolset: readable" in loaded.stdout, loaded.output


def test_answer_filters_are_refused_saying_the_ground_truth_is_calls(tmp_path):
    result = _validate(tmp_path, filters=[{"name": "correctness"}, {"name": "pass_rate"}])
    assert result.exit_code == 1, result.output
    failed = [line for line in result.stdout.splitlines() if line.startswith("FAIL")]
    assert [line.split(":")[0] for line in failed] == ["FAIL  filters[0]", "FAIL  filters[1]"]
    for line in failed:
        assert "never gives" not in line
        assert "tool_use gives its rows tool calls as ground truth" in line and "not calls" in line
        assert "use the tool_calls verifier" in line and "the reward of the `verl` export" in line


@pytest.mark.slow
@pytest.mark.usefixtures("prefect_harness")
def test_the_shipped_config_publishes_through_python_m_flows_generate_and_loads_in_datasets(tmp_path, scripted):
    """The user's path: the sample run config (shipped everyday toolset) with the teacher pointed at the scripted
    fake, `python -m flows.generate`, then `synthfoundry export --format trl` read back by `datasets`."""
    import os
    import subprocess
    import sys

    import datasets
    import yaml
    from prefect.settings import PREFECT_API_URL
    from typer.testing import CliRunner

    from synthfoundry.cli import app

    repo = Path(__file__).parents[2]
    config = yaml.safe_load((repo / "deployments" / "configs" / "tool_use.yaml").read_text())
    config["teacher"] = {"provider": "openai", "model": "fake", "base_url": scripted.base_url}
    config["publish"]["root"] = str(tmp_path / "published")
    # the fake scripts one good request in five, in arrival order: 40 rows make a good one with calls all but certain
    config["recipe"]["rows"] = 40
    path = tmp_path / "tool_use.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {**os.environ, "PYTHONPATH": str(repo), "PREFECT_API_URL": PREFECT_API_URL.value()}
    done = subprocess.run([sys.executable, "-m", "flows.generate", str(path)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = tmp_path / "trl"
    exported = CliRunner().invoke(app, ["export", "tool_use", "--root", config["publish"]["root"], "--format", "trl",
                                        "--out", str(out)])
    assert exported.exit_code == 0, exported.output
    loaded = datasets.load_dataset("json", data_files=str(out / "train.jsonl"), split="train",
                                   cache_dir=str(tmp_path / "hf"))
    assert loaded.num_rows > 0 and loaded.column_names == ["id", "messages", "tools"]
    executed = [m["content"] for row in loaded for m in row["messages"] if m["role"] == "tool"]
    assert executed and all("error" not in json.loads(content) for content in executed if content.startswith("{"))


@pytest.mark.usefixtures("prefect_harness")
def test_semantics_is_the_tool_use_judge_rubric(tmp_path, scripted):
    """APIGen's last check: the quality_judge step with the `tool_use` rubric reads each trajectory's calls and
    results (the scripted judge rates calls of `lookup` 2 of 5)."""
    # the fake scripts one good request in five, in arrival order: 40 rows make both tools' good calls all but certain
    recipe = {"name": "tool_use", "rows": 40, "categories": ["simple", "multiple"],
              "toolset": {"module": SCRIPTED_TOOLS}}
    published = run_recipe(tmp_path, recipe, {"provider": "openai", "model": "fake", "base_url": scripted.base_url},
                           filters=[{"name": "quality_judge", "rubric": "tool_use"}])
    judged = published.ledger.filter(pl.col("stage") == "quality_judge")
    assert judged.height and set(judged["reason"]) == {"judge score 2 < min_score 4 (tool_use)"}
    assert published.data.height
    assert not any('"name": "lookup"' in t for t in published.data["trajectory"])
    prompts = [r["body"]["messages"][0]["content"] for r in scripted.paths("/v1/chat/completions")
               if "how well the calls" in r["body"]["messages"][0]["content"]]
    assert any("Call: add(" in p and "Result: " in p for p in prompts)
