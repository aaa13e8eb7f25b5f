"""A teacher failing 20 % of requests in every way a provider fails: every row is kept or in the ledger with a
reason that names its fault, and the SDK's and the teacher layer's retries recover most of them."""

import polars as pl
import pytest

from tests.fakes.provider_server import (
    ProviderServer,
    Reply,
    disconnect,
    malformed,
    rate_limited,
    status,
    timeout,
    truncated,
)
from tests.fakes.replies import self_instruct_reply
from tests.helpers import assert_accounted, run_recipe

pytestmark = pytest.mark.usefixtures("prefect_harness")

EMPTY = Reply.json({"id": "x", "object": "chat.completion", "created": 0, "model": "m", "choices": [
    {"index": 0, "message": {"role": "assistant", "content": ""}, "finish_reason": "stop"}]})
FAULTS = {
    "429": lambda: rate_limited(retry_after=0.05),
    "500": lambda: status(500),
    "503": lambda: status(503),
    "timeout": lambda: timeout(3),
    "disconnect": disconnect,
    "malformed": malformed,
    "truncated": lambda: truncated(Reply.json({"id": "x", "choices": [{"message": {"content": "cut"}}]})),
    "empty": lambda: EMPTY,
}
# What a fault that outlives its retries leaves in the ledger.
REASONS = ("teacher failed: RateLimitError", "teacher failed: InternalServerError", "teacher failed: APITimeoutError",
           "teacher failed: APIConnectionError", "teacher failed: UnreadableAnswer")
# What an empty answer that outlived its retries leaves: none of these once a one-off empty answer is asked again.
EMPTY_REASONS = ("empty response", "no instruction could be parsed", "no instance could be parsed",
                 "no class label could be parsed", "teacher failed generating an instance", "teacher failed identifying")


def injector(every: int = 5):
    """Every `every`-th chat request fails, with each kind of fault in turn: exactly 1/every of them, all kinds."""
    seen: list[int] = [0]
    injected: list[str] = []

    def rule(request):
        if request.path != "/v1/chat/completions":
            return None
        seen[0] += 1
        if seen[0] % every:
            return None
        name = sorted(FAULTS)[len(injected) % len(FAULTS)]
        injected.append(name)
        return FAULTS[name]()

    return rule, injected


def test_a_fifth_of_requests_failing_loses_no_row_unaccounted(tmp_path, record_property):
    rule, injected = injector(5)
    with ProviderServer(reply=self_instruct_reply) as server:
        server.rules.append(rule)
        teacher = {"provider": "openai", "model": "fake-teacher", "base_url": server.base_url, "max_tokens": 64,
                   "max_retries": 3, "timeout_s": 1, "circuit_breaker": None}
        recipe = {"name": "self_instruct", "target_instructions": 12, "prompts_per_round": 4, "max_rounds": 8}
        published = run_recipe(tmp_path, recipe, teacher, filters=[{"name": "diversity"}])
        sent = server.count

    assert len(injected) == sent // 5 and set(injected) == set(FAULTS)  # 20 %, every kind of fault met
    stages = published.manifest["stages"].values()
    record_property("faults_injected", len(injected))
    record_property("requests_under_faults", sent)
    record_property("rows_lost", sum(s["in"] - s["kept"] - s["dropped"] for s in stages))
    assert_accounted(published)
    unexplained = published.ledger.filter(
        ~pl.col("reason").str.starts_with("ROUGE-L") & ~pl.col("reason").str.contains("near-duplicate|similar")
    )
    assert all(reason.startswith(REASONS) for reason in unexplained["reason"]), unexplained["reason"].to_list()
    assert injected.count("empty") > 0
    assert not any(reason.startswith(EMPTY_REASONS) for reason in published.ledger["reason"])  # retried, not lost
    assert published.data.height > 0
