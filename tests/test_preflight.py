import os
import subprocess
import sys
from pathlib import Path

import yaml

"""The run's forecast and checks, before anything is sent: no teacher, no Prefect."""

import pytest

from synthfoundry.config import parse_config
from synthfoundry.preflight import preflight
from synthfoundry.teachers.pricing import price_for

PROCEDURAL = {"name": "procedural", "datasets": {"basic_arithmetic": 3}}
FAKE = {"provider": "openai", "model": "gpt-4o-mini", "base_url": "http://127.0.0.1:9/v1"}


def config(tmp_path, recipe=None, teacher=None, **overrides):
    return parse_config({
        "dataset": "d",
        "recipe": recipe or {"name": "self_instruct", "target_instructions": 4, "prompts_per_round": 2, "max_rounds": 3},
        "teacher": teacher or FAKE,
        "publish": {"root": str(tmp_path / "root")},
        **overrides,
    })


def test_a_sound_config_passes_with_a_forecast_of_every_stage(tmp_path):
    report = preflight(config(tmp_path), environ={})
    assert report.ok, report.problems
    stages = report.forecast.stages
    assert stages["synthesis"].requests == 3 * 2 + 2 * stages["synthesis"].rows  # rounds, then label + instance
    assert stages["distillation"].requests == stages["synthesis"].rows
    assert stages["quality_judge"].requests == stages["synthesis"].rows  # the recipe's default judge, one aspect
    assert report.forecast.usd > 0  # gpt-4o-mini has a price
    assert (tmp_path / "root").is_dir()  # created, and found writable


def test_teacher_n_multiplies_distillation_and_max_requests_refuses(tmp_path):
    report = preflight(config(tmp_path, teacher={**FAKE, "n": 200000}), environ={})
    assert not report.ok
    assert report.forecast.stages["distillation"].requests == 200000 * report.forecast.stages["synthesis"].rows
    (problem,) = report.problems
    assert problem.startswith("forecast: the run may send up to")
    assert "more than teacher.max_requests (5000)" in problem and "raise teacher.max_requests" in problem
    assert preflight(config(tmp_path, teacher={**FAKE, "n": 200000, "max_requests": None}), environ={}).ok


def test_a_forecast_over_budget_refuses_to_start_unless_allowed(tmp_path):
    report = preflight(config(tmp_path, teacher={**FAKE, "budget_usd": 0.0001}), environ={})
    assert len(report.problems) == 1 and "exceeds teacher.budget_usd ($0.0001)" in report.problems[0]
    assert "teacher.allow_over_forecast: true" in report.problems[0]
    assert preflight(
        config(tmp_path, teacher={**FAKE, "budget_usd": 0.0001, "allow_over_forecast": True}), environ={}
    ).ok


def test_an_unpriced_model_with_a_budget_is_refused(tmp_path):
    report = preflight(config(tmp_path, teacher={**FAKE, "model": "mystery", "budget_usd": 1}), environ={})
    assert report.forecast.usd is None
    assert any("needs a price for model 'mystery'" in p for p in report.problems)


def test_a_filter_with_its_own_judge_is_priced_at_the_judge_model(tmp_path):
    def forecast(judge_model):
        judge = [{"name": "quality_judge", "judge": {**FAKE, "model": judge_model}}]
        return preflight(config(tmp_path, filters=judge), environ={}).forecast

    cheap, dear = forecast("gpt-4o-mini"), forecast("gpt-4o")  # the run's teacher is gpt-4o-mini in both
    assert cheap.stages == dear.stages and dear.stages["quality_judge"].requests > 0
    teacher, judge = price_for("openai", "gpt-4o-mini"), price_for("openai", "gpt-4o")
    for run, judge_price in ((cheap, teacher), (dear, judge)):
        expected = sum((judge_price if name == "quality_judge" else teacher).cost(e.prompt_tokens, e.completion_tokens)
                       for name, e in run.stages.items())
        assert run.usd == pytest.approx(expected)
    assert dear.usd > cheap.usd


def test_an_unpriced_judge_with_a_budget_is_refused_naming_it(tmp_path):
    judge = [{"name": "quality_judge", "judge": {**FAKE, "model": "mystery"}}]
    report = preflight(config(tmp_path, teacher={**FAKE, "budget_usd": 1}, filters=judge), environ={})
    assert report.forecast.usd is None
    assert any("needs a price for model 'mystery': add it to filters[0].judge.prices" in p for p in report.problems)


def test_a_recipe_that_asks_nothing_needs_no_key(tmp_path):
    report = preflight(config(tmp_path, recipe=PROCEDURAL, teacher={"provider": "openai"}), environ={})
    assert report.ok and report.forecast.total.requests == 0


def test_a_missing_key_is_found_before_sending(tmp_path):
    report = preflight(config(tmp_path, teacher={"provider": "anthropic"}), environ={})
    assert report.problems == [
        "teacher key: no API key for the anthropic teacher: set ANTHROPIC_API_KEY (or teacher.api_key_env), "
        "or name a Prefect Secret block in teacher.api_key_secret"
    ]
    assert preflight(config(tmp_path, teacher={"provider": "anthropic"}), environ={"ANTHROPIC_API_KEY": "k"}).ok


def test_every_problem_is_reported_at_once(tmp_path):
    (tmp_path / "root").write_text("a file, not a folder")
    report = preflight(
        config(tmp_path, teacher={"provider": "openai", "base_url": "127.0.0.1:8000"}, contract="nosuch"), environ={}
    )
    text = "\n".join(report.problems)
    assert "contract: no contract suite 'nosuch'" in text
    assert f"publish root: {tmp_path / 'root'}: cannot write there" in text
    assert "teacher.base_url: '127.0.0.1:8000' is not an http(s) URL" in text
    assert "no API key for the openai teacher: set OPENAI_API_KEY" in text
    assert report.message().startswith("the run was not started: 4 problem(s), nothing was sent or published")


@pytest.mark.parametrize("recipe", ["backtranslation", "mammoth2", "wrap"])
def test_documents_that_match_nothing_are_an_error(tmp_path, recipe):
    report = preflight(config(tmp_path, recipe={"name": recipe, "documents": str(tmp_path / "none" / "*.txt")}), environ={})
    (problem,) = report.problems
    assert problem.startswith(f"recipe.documents: no readable document in {tmp_path / 'none' / '*.txt'}")
    assert "no documents found" in problem


def test_a_document_recipe_forecasts_from_its_passages(tmp_path):
    (tmp_path / "docs").mkdir()
    for i in range(3):
        (tmp_path / "docs" / f"{i}.txt").write_text(f"Paragraph {i} about bread and yeast, long enough to keep. " * 3)
    recipe = {"name": "wrap", "documents": str(tmp_path / "docs"), "styles": ["qa", "easy"]}
    report = preflight(config(tmp_path, recipe=recipe), environ={})
    assert report.ok and report.forecast.stages["synthesis"].requests == 3 * 2
    assert report.forecast.stages["synthesis"].completion_tokens == 3 * 2 * 512


def test_an_empty_topics_file_is_refused_not_replaced_by_the_shipped_outline(tmp_path):
    topics = tmp_path / "topics.txt"
    topics.write_text("\n\n")
    report = preflight(config(tmp_path, recipe={"name": "cosmopedia", "topics_file": str(topics)}), environ={})
    assert report.problems == [f"recipe.topics_file: {topics}: no topics (one per line); an empty file is refused "
                               "rather than guessed at"]


def test_a_filter_with_its_own_judge_needs_its_key(tmp_path):
    steps = [{"name": "quality_judge", "judge": {"provider": "anthropic"}}]
    report = preflight(config(tmp_path, filters=steps), environ={})
    assert report.problems == [
        "filters[0].judge key: no API key for the anthropic teacher: set ANTHROPIC_API_KEY (or teacher.api_key_env), "
        "or name a Prefect Secret block in teacher.api_key_secret"
    ]


def test_pass_rate_asks_samples_per_row(tmp_path):
    steps = [{"name": "pass_rate", "samples": 4}]
    report = preflight(config(tmp_path, recipe=PROCEDURAL, filters=steps), environ={})
    assert report.ok and report.forecast.stages["pass_rate"].requests == 3 * 4


@pytest.mark.parametrize("recipe, contract, filters", [
    ({"name": "metamath"}, "rlvr", [{"name": "correctness"}]),  # sft rows that carry answers fit the RLVR suite
    (PROCEDURAL, "rlvr", [{"name": "pass_rate"}]),
    ({"name": "metamath", "output": "rlvr", "operations": ["rephrase"]}, "rlvr", [{"name": "pass_rate"}]),
    ({"name": "self_instruct"}, "sft", [{"name": "diversity"}]),
], ids=["metamath-sft-rlvr", "procedural", "metamath-rlvr", "self-instruct"])
def test_a_contract_and_filters_that_fit_the_recipe_pass(tmp_path, recipe, contract, filters):
    report = preflight(config(tmp_path, recipe=recipe, contract=contract, filters=filters), environ={})
    assert report.ok, report.problems


def test_a_secret_block_is_looked_up_only_through_the_given_lookup(tmp_path):
    teacher = {**FAKE, "base_url": None, "api_key_secret": "team-key"}
    asked = []
    report = preflight(config(tmp_path, teacher=teacher), environ={}, secret_exists=lambda n: asked.append(n) or False)
    assert asked == ["team-key"]
    assert report.problems == [
        "teacher key: teacher.api_key_secret: no Prefect Secret block named 'team-key': create it (UI: Blocks > "
        "Secret, or `Secret(value=KEY).save('team-key')`), or leave api_key_secret out and set OPENAI_API_KEY"
    ]
    assert preflight(config(tmp_path, teacher=teacher), environ={}).ok  # no lookup given: trusted, as before


def _validate_code_run(tmp_path, path_variable: str, **sandbox) -> subprocess.CompletedProcess:
    """`synthfoundry validate` on a code recipe's run config, in a process whose PATH is `path_variable`."""
    config = {"dataset": "code", "recipe": {"name": "code_instruct", "seeds": 2}, "teacher": {"provider": "local"},
              "publish": {"root": str(tmp_path / "published")}, **({"sandbox": sandbox} if sandbox else {})}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(config))
    env = {**os.environ, "PATH": path_variable, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.run([sys.executable, "-m", "synthfoundry", "validate", str(tmp_path / "run.yaml")],
                          capture_output=True, text=True, env=env, timeout=300)


@pytest.mark.slow
def test_a_code_run_is_refused_where_no_sandbox_works_and_runs_unsandboxed_only_when_asked(tmp_path):
    nothing = tmp_path / "empty-bin"  # a PATH with neither bwrap nor unshare on it
    nothing.mkdir()
    refused = _validate_code_run(tmp_path, str(nothing))
    assert refused.returncode == 1, refused.stdout + refused.stderr
    [line] = [line for line in refused.stdout.splitlines() if line.startswith("FAIL")]
    assert line.startswith("FAIL  sandbox.isolation: sandbox: no sandbox works here (isolation: auto); install "
                           "bubblewrap (Debian/Ubuntu: `apt-get install -y bubblewrap`")
    unsandboxed = _validate_code_run(tmp_path, str(nothing), isolation="none")
    assert unsandboxed.returncode == 0, unsandboxed.stdout
    assert "ok    sandbox.isolation: none: model-written code runs UNSANDBOXED" in unsandboxed.stdout


def test_seeds_benchmarks_and_rubrics_in_a_bucket_are_read_where_they_are(tmp_path, s3):
    """Places in a run config are URLs as much as paths: topics, seed tasks, a benchmark glob and a rubric in a
    bucket are read from it (never a local `s3:` folder), and a missing one is named with its URL."""
    import json

    import s3fs

    bucket = s3fs.S3FileSystem(skip_instance_cache=True)
    places = f"{s3}/places"
    bucket.pipe(f"{places}/topics.txt", b"tides\nvolcanoes\n")
    bucket.pipe(f"{places}/seeds.jsonl", b'{"instruction": "Name a colour."}\n{"instruction": "Add 2 and 3."}\n')
    bucket.pipe(f"{places}/evals/a.jsonl", json.dumps({"question": "What is the tallest volcano?"}).encode() + b"\n")
    rubric = Path(__file__).parents[1] / "synthfoundry" / "filters" / "rubrics" / "brief.yaml"
    bucket.pipe(f"{places}/rubric.yaml", rubric.read_bytes())
    benchmark = {"name": "mine", "path": f"{places}/evals/*.jsonl", "columns": ["question"]}
    filters = [{"name": "decontamination", "benchmarks": [benchmark]},
               {"name": "quality_judge", "rubric_file": f"{places}/rubric.yaml"}]
    topics = preflight(config(tmp_path, recipe={"name": "cosmopedia", "topics_file": f"{places}/topics.txt"},
                              filters=filters), environ={})
    assert topics.ok, topics.problems
    assert topics.forecast.stages["synthesis"].rows == 2  # one prompt per topic read from the bucket
    seeds = preflight(config(tmp_path, recipe={"name": "self_instruct", "seed_tasks": f"{places}/seeds.jsonl",
                                               "target_instructions": 2}), environ={})
    assert seeds.ok, seeds.problems
    missing = preflight(config(tmp_path, recipe={"name": "cosmopedia", "topics_file": f"{places}/nope.txt"}),
                        environ={})
    assert any(f"{places}/nope.txt: cannot read topics" in problem for problem in missing.problems), missing.problems
    assert not list(tmp_path.rglob("s3:*")) and not list(Path.cwd().glob("s3:*"))
