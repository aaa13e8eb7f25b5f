"""The evaluate flow end to end: real TRL + peft training of the shipped SmolLM2-135M on published versions, held-out
tasks scored by the project's verifiers, the record beside the versions and on their cards."""

import json
import math
import random
from pathlib import Path

import polars as pl
import pytest
import yaml
from typer.testing import CliRunner

from synthfoundry.cli import app
from synthfoundry.dataset import DatasetStore
from tests.helpers import publish_rows, published_rows, run_recipe

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("prefect_harness")]
TINY = {"max_steps": 4, "batch_size": 4, "max_length": 64, "lora_rank": 8, "learning_rate": 1e-3,
        "checkpoint_every": 100}
EVAL = {"items": 8, "max_new_tokens": 8, "resamples": 200}

GENERATOR = "basic_arithmetic"


def arithmetic_rows(count: int, run_id: str, corrupt: bool = False) -> pl.DataFrame:
    """`count` reasoning-gym tasks as an SFT dataset publishes them; `corrupt`: the same questions, each answered
    by a random 6-digit negative number (wrong in value and in form)."""
    import reasoning_gym

    items = list(reasoning_gym.create_dataset(GENERATOR, size=count, seed=7))
    wrong = random.Random(run_id)
    answers = [str(item["answer"]) for item in items]
    responses = [f"-{wrong.randint(100000, 999999)}" for _ in items] if corrupt else answers
    return published_rows(
        count, run_id=run_id,
        instruction=[item["question"] for item in items], input=[""] * count, response=responses, answer=answers,
        verifier=[f"reasoning_gym:{GENERATOR}"] * count,
        metadata=[json.dumps(item["metadata"], default=str) for item in items],
        seed_ids=[[f"{GENERATOR}:7:{index}"] for index in range(count)],
    )


@pytest.fixture
def arms_root(tmp_path):
    """`clean` v1 (right answers) and `corrupt` v1 (the same questions, wrong answers) in one store."""
    root = tmp_path / "published"
    publish_rows(root, "clean", arithmetic_rows(16, "clean-run"))
    publish_rows(root, "corrupt", arithmetic_rows(16, "corrupt-run", corrupt=True))
    return root


@pytest.fixture(scope="module")
def student_folder():
    """The shipped GGUF dequantised once into the project's cache, as a first evaluation does; each test then
    trains in its own cache folder."""
    from synthfoundry.evaluation.student import cache_root, prepare_student

    return prepare_student(None, "cpu", cache_root()).folder


@pytest.fixture
def write_config(tmp_path, student_folder):
    def write(name="evaluate.yaml", **overrides) -> str:
        config = {"dataset": "clean", "publish": {"root": str(tmp_path / "published")}, "base": False,
                  "student": {"path": student_folder}, "train": TINY, "eval": EVAL,
                  "cache_dir": str(tmp_path / "cache"), **overrides}
        path = tmp_path / name
        path.write_text(yaml.safe_dump(config))
        return str(path)

    return write


def test_an_arm_trained_on_wrong_answers_has_a_worse_held_out_loss(arms_root, write_config):
    result = CliRunner().invoke(app, ["evaluate", write_config(arms=["v1", "corrupt@v1"]), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    scores = {row["arm"]: row for row in summary["scores"]}
    assert set(scores) == {"v1", "corrupt@v1"} and all(row["set"] == "procedural" for row in scores.values())
    assert scores["corrupt@v1"]["loss"]["mean"] > scores["v1"]["loss"]["mean"]
    [difference] = summary["differences"]  # corrupt@v1 - v1, paired over the same 8 held-out items
    assert difference["loss"]["mean"] > 0 and difference["loss"]["n"] == 8
    budgets = [arm["budget"] for arm in summary["arms"]]
    assert [b["steps"] for b in budgets] == [4, 4] and budgets[0]["trainer"] == "SFTTrainer"
    assert summary["sets"]["procedural"]["overlap"] == {"v1": 0, "corrupt@v1": 0}
    # recorded beside both versions, which stay as published; their cards show it
    for dataset in ("clean", "corrupt"):
        store = DatasetStore(arms_root, dataset)
        [record] = store.evaluations(1)
        assert record["id"] == summary["id"] and len(store.versions()) == 1
        assert "## Extrinsic evaluation" in (arms_root / "exports" / dataset / "v1" / "card.md").read_text()


def test_the_same_seed_gives_the_same_result_and_other_seeds_show_the_spread(arms_root, write_config, tmp_path):
    from flows.evaluate import evaluate_dataset

    short = {**TINY, "max_steps": 2}
    first = evaluate_dataset(config_path=write_config(arms=["v1"], train={**short, "repeat_seeds": [1]}))
    again = evaluate_dataset(config_path=write_config("again.yaml", arms=["v1"], train=short,
                                                      cache_dir=str(tmp_path / "other-cache")))
    assert first["items"]["v1|procedural"] == again["items"]["v1|procedural"]  # trained afresh, per-item identical
    [spread] = first["seed_variance"]
    assert spread["seeds"] == [0, 1] and spread["loss"]["values"][0] != spread["loss"]["values"][1]
    assert spread["loss"]["stdev"] > 0


def adapter_moved(cache: Path) -> bool:
    """Whether the one trained adapter under `cache` moved off its start: LoRA's B matrices start at zero."""
    from safetensors.torch import load_file

    [adapter] = cache.glob("evaluation/runs/*/weights/adapter_model.safetensors")
    tensors = load_file(adapter)
    return any(name.endswith("lora_B.weight") and tensor.abs().max() > 0 for name, tensor in tensors.items())


def test_a_preference_version_trains_with_dpo(tmp_path, fake_openai, write_config):
    """A preference version published by the flow (fake teacher and judge) -> DPOTrainer on its pairs -> base and
    the trained arm scored on GSM8K test items (the default set for rows without a verifier)."""
    recipe = {"name": "self_instruct", "target_instructions": 6, "prompts_per_round": 3, "max_rounds": 6,
              "instances": False}
    teacher = {"provider": "openai", "model": "fake-teacher", "base_url": fake_openai.base_url, "n": 2}
    filters = [{"name": "quality_judge", "min_score": 1}, {"name": "preference_pairs"}]
    pairs = run_recipe(tmp_path, recipe, teacher, dataset="pairs", filters=filters).data
    config = write_config(dataset="pairs", arms=["v1"], base=True, train={**TINY, "max_steps": 3},
                          eval={**EVAL, "items": 4})

    result = CliRunner().invoke(app, ["evaluate", config, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    [arm] = [a for a in summary["arms"] if a["budget"]]
    assert arm["kind"] == "preference" and arm["budget"]["trainer"] == "DPOTrainer"
    assert arm["budget"]["steps"] == 3 and arm["budget"]["rows"] == pairs.height
    assert arm["budget"]["final_loss"] < math.log(2)  # DPO starts at ln 2 (adapter off = reference): it learned
    assert adapter_moved(tmp_path / "cache")
    scores = {row["arm"]: row for row in summary["scores"]}
    assert set(scores) == {"base", "v1"} and {row["set"] for row in scores.values()} == {"gsm8k"}
    for row in scores.values():
        assert row["loss"]["n"] == 4 and row["loss"]["low"] <= row["loss"]["mean"] <= row["loss"]["high"]
    [record] = DatasetStore(tmp_path / "published", "pairs").evaluations(1)  # per item, as recorded
    assert record["items"]["base|gsm8k"]["loss"] != record["items"]["v1|gsm8k"]["loss"]  # scored with the adapter
    [difference] = summary["differences"]
    assert (difference["arm"], difference["against"]) == ("v1", "base")


def test_an_rlvr_version_trains_with_grpo_rewarded_by_its_verifier(tmp_path, write_config):
    """A procedural RLVR version published by the flow -> GRPOTrainer whose reward is each row's reasoning-gym
    verifier (partial credit when the answer is inside the completion) -> base and the arm on fresh tasks."""
    from flows.generate import generate_dataset

    easy = {"min_terms": 2, "max_terms": 2, "max_digits": 1, "operators": ["+"], "allow_negation": False,
            "allow_parentheses": False}
    run = {"dataset": "sums", "seed": 5, "contract": "rlvr", "publish": {"root": str(tmp_path / "published")},
           "recipe": {"name": "procedural", "datasets": {"basic_arithmetic": 8}, "options": {"basic_arithmetic": easy}},
           "filters": [{"name": "diversity", "threshold": 0.99}]}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))
    generate_dataset(config_path=str(tmp_path / "run.yaml"))
    train = {**TINY, "max_steps": 3, "num_generations": 4, "max_completion_length": 16}
    config = write_config(dataset="sums", arms=["v1"], base=True, train=train, eval={**EVAL, "items": 4})

    result = CliRunner().invoke(app, ["evaluate", config, "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    [arm] = [a for a in summary["arms"] if a["budget"]]
    budget = arm["budget"]
    assert arm["kind"] == "rlvr" and budget["trainer"] == "GRPOTrainer" and budget["steps"] == 3
    # one mean reward per step, from the verifier; a group whose rewards all agree teaches nothing
    assert len(budget["rewards"]) == 3 and all(0 <= r <= 1 for r in budget["rewards"])
    assert max(budget["reward_std"]) > 0
    assert adapter_moved(tmp_path / "cache")
    assert summary["sets"]["procedural"] == {"items": 4, "overlap": {"v1": 0}}
    scores = {row["arm"]: row for row in summary["scores"]}
    assert set(scores) == {"base", "v1"} and all(row["accuracy"]["n"] == 4 for row in scores.values())


def test_a_cancelled_evaluation_resumes_from_its_last_checkpoint(arms_root, write_config, tmp_path):
    """`synthfoundry evaluate` killed once its trainer has saved a checkpoint (a cancelled run), then run again: the
    arm resumes from that step, trains to the same step budget, and the checkpoints are gone once it is done."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from prefect.settings import PREFECT_API_URL

    config = write_config(arms=["v1"], train={**TINY, "max_steps": 6, "checkpoint_every": 2})
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]), "PREFECT_API_URL": PREFECT_API_URL.value()}
    first = subprocess.Popen([sys.executable, "-m", "synthfoundry", "evaluate", config, "--json"], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    runs = tmp_path / "cache" / "evaluation" / "runs"
    deadline = time.monotonic() + 600
    while not list(runs.glob("*/checkpoint-2/trainer_state.json")) and first.poll() is None:
        assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
        time.sleep(0.5)
    time.sleep(1)  # let the checkpoint's files finish
    os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    assert first.returncode == -signal.SIGKILL, "the run ended before it could be cancelled"
    saved = sorted(int(path.name.rsplit("-", 1)[1]) for path in runs.glob("*/checkpoint-*"))
    assert saved and max(saved) < 6

    result = CliRunner().invoke(app, ["evaluate", config, "--json"])
    assert result.exit_code == 0, result.output
    [arm] = json.loads(result.stdout)["arms"]
    assert arm["budget"]["resumed_from_step"] == max(saved) and arm["budget"]["steps"] == 6
    assert not list(runs.glob("*/checkpoint-*")) and adapter_moved(tmp_path / "cache")
