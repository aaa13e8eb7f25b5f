import json

import polars as pl
import pytest

from tests.fakes.code_replies import TASKS
from tests.helpers import assert_accounted, run_recipe

SCRIPT = {"double": "good", "palindrome": "fixed", "vowels": "wrong", "clamp": "weak", "lengths": "hang",
          "evens": "garbled"}


def snippets(folder):
    """One seed file per task, scripted to make the fake teacher answer it well or badly."""
    folder.mkdir()
    for task, behaviour in SCRIPT.items():
        (folder / f"{task}.py").write_text(f"# task: {task}\n# script: {behaviour}\n{TASKS[task][1]}")
    return folder


@pytest.fixture
def code_teacher():
    from tests.fakes.code_replies import code_reply
    from tests.fakes.provider_server import ProviderServer

    with ProviderServer(reply=code_reply) as server:
        yield server


@pytest.mark.slow
def test_a_run_publishes_exactly_the_solutions_that_pass_their_tests(prefect_harness, code_teacher, tmp_path):
    published = run_recipe(
        tmp_path,
        {"name": "code_instruct", "snippets": str(snippets(tmp_path / "seeds")), "seeds": 6, "max_attempts": 2},
        teacher={"provider": "openai", "base_url": code_teacher.base_url, "model": "fake-coder", "max_tokens": 400},
        sandbox={"timeout_s": 2, "concurrency": 2},
    )
    assert_accounted(published)
    assert sorted(published.data["instruction"]) == sorted(TASKS[t][0] for t in ("double", "palindrome"))
    fixed = published.data.filter(pl.col("instruction").str.contains("mirrored"))
    assert json.loads(fixed["metadata"][0])["attempts"] == 2  # passed once its failure was sent back
    assert fixed["response"][0] == f"```python\n{TASKS['palindrome'][1]}```"
    assert set(published.data["verifier"]) == {"code_tests:python"}
    reasons = dict(zip(published.ledger["text"], published.ledger["reason"]))
    assert reasons[TASKS["vowels"][0]] == (
        "the solution fails its tests: test 3 of 3 failed: AssertionError at line 3")
    assert reasons[TASKS["clamp"][0]] == "the tests accept a wrong solution (every function returning None)"
    assert reasons[TASKS["lengths"][0]] == "the solution fails its tests: timeout after 2 s"
    [garbled] = [reason for text, reason in reasons.items() if "# script: garbled" in text]
    assert garbled == "the reply has no problem and no solution and no tests section"
    manifest = published.manifest
    assert manifest["sandbox"]["isolation"] in ("bwrap", "unshare") and manifest["sandbox"]["timeout_s"] == 2
    assert manifest["contract"]["suite"] == "code" and manifest["contract"]["success"]
    card = (tmp_path / "published").rglob("card.md").__next__().read_text()
    assert f"- sandbox: model-written code ran under {manifest['sandbox']['isolation']}, 2 s" in card
