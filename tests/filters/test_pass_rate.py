import threading
from collections import Counter

import pytest

from synthfoundry.config import ConfigError, parse_config
from synthfoundry.filters import pass_rate
from synthfoundry.filters.base import apply
from synthfoundry.records import rows_frame
from synthfoundry.teachers.config import TeacherConfig
from tests.fakes.provider_server import ProviderServer, status
from tests.filters.tools import tools


class ScriptedPolicy:
    """Always right on "easy" prompts, never on "hard" ones, right on every other call for "medium" ones."""

    def __init__(self):
        self.calls = Counter()
        self.lock = threading.Lock()

    def __call__(self, body):
        prompt = body["messages"][-1]["content"]
        kind, _, answer = prompt.partition(" ")
        with self.lock:
            self.calls[prompt] += 1
            call = self.calls[prompt]
        right = kind == "easy" or (kind == "medium" and call % 2 == 0)
        return f"Let me think. <answer>{answer if right else 'nope'}</answer>"


@pytest.fixture
def policy_server():
    with ProviderServer(reply=ScriptedPolicy()) as server:
        yield server


def policy(server):
    return TeacherConfig(provider="openai", model="policy", base_url=server.base_url, cache=False)


def rows():
    return rows_frame([
        {"id": kind, "instruction": f"{kind} {answer}", "answer": answer, "verifier": "exact"}
        for kind, answer in [("easy", "4"), ("medium", "7"), ("hard", "9")]
    ] + [{"id": "no-truth", "instruction": "medium 1", "answer": None, "verifier": None},
         {"id": "typo", "instruction": "easy 1", "answer": "1", "verifier": "exakt"}])


def test_keeps_prompts_the_policy_sometimes_solves(policy_server):
    config = pass_rate.Config(policy=policy(policy_server), samples=4, low=0.1, high=0.9)
    result = apply(pass_rate, rows(), config, tools())
    assert result.kept["id"].to_list() == ["medium"]
    assert result.kept["pass_rate"].to_list() == [0.5]
    assert result.kept["decisions"][0].to_list() == [{"stage": "pass_rate", "score": 0.5}]
    reasons = dict(zip(result.dropped["id"], result.dropped["reason"]))
    assert reasons["easy"] == "pass rate 1.00 > 0.9: always solved"
    assert reasons["hard"] == "pass rate 0.00 < 0.1: never solved"
    assert reasons["no-truth"] == "no ground truth to score the policy against (the row has no answer or verifier)"
    assert reasons["typo"].startswith("unknown verifier 'exakt'")
    assert dict(zip(result.dropped["id"], result.dropped["score"])) == {
        "easy": 1.0, "hard": 0.0, "no-truth": None, "typo": None
    }
    sent = policy_server.paths("/v1/chat/completions")
    assert len(sent) == 3 * 4  # rows that cannot be scored cost no requests
    assert len({r["body"]["seed"] for r in sent}) == 12  # each sample its own seed: no cache collapses them
    assert {r["body"]["temperature"] for r in sent} == {1.0}


def test_the_band_is_the_configs(policy_server):
    config = pass_rate.Config(policy=policy(policy_server), samples=2, low=0.0, high=1.0)
    result = apply(pass_rate, rows()[:3], config, tools())
    assert result.kept["pass_rate"].to_list() == [1.0, 0.5, 0.0]


def test_policy_failures_are_ledgered_not_counted_as_wrong(policy_server):
    policy_server.rules.append(lambda request: status(503, "overloaded") if b"hard" in request.body else None)
    config = pass_rate.Config(policy=policy(policy_server).model_copy(update={"max_retries": 0}), samples=3)
    result = apply(pass_rate, rows()[:3], config, tools())
    reason = dict(zip(result.dropped["id"], result.dropped["reason"]))["hard"]
    assert reason.startswith("policy failed on 3 of 3 samples (") and reason.endswith("): pass rate not measured")
    assert result.counts == {"in": 3, "kept": 1, "dropped": 2}


def test_band_must_be_ordered():
    with pytest.raises(ConfigError, match=r"filters\[0\]: Value error, low \(0.8\) must not exceed high \(0.2\)"):
        parse_config({"dataset": "d", "recipe": {"name": "procedural", "datasets": {"basic_arithmetic": 2}},
                      "filters": [{"name": "pass_rate", "low": 0.8, "high": 0.2}]})
