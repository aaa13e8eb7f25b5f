import gc

from synthfoundry.teachers.base import ChatRequest, Completion, complete_all


class Echo:
    """A teacher that answers at once and notes the collector's threshold while requests are in flight."""

    provider, model, base_url = "echo", "echo", None

    def __init__(self) -> None:
        self.thresholds: set[tuple[int, int, int]] = set()

    async def complete(self, request: ChatRequest) -> Completion:
        self.thresholds.add(gc.get_threshold())
        return Completion(request.messages[0]["content"], self.model, 1, 1)

    def params(self) -> dict:
        return {}


def test_a_fan_out_leaves_the_process_gc_settings_alone():
    """The library keeps no process-wide state: a raised gen-0 threshold measured 2.23 -> 2.03 ms client CPU per
    request and no throughput at 256 in flight, not worth changing the host process's collector for."""
    teacher, before = Echo(), gc.get_threshold()
    requests = [ChatRequest(messages=({"role": "user", "content": f"q{i}"},)) for i in range(64)]
    outcome = complete_all(teacher, requests, max_in_flight=32)
    assert [r.text for r in outcome.results] == [f"q{i}" for i in range(64)]
    assert teacher.thresholds == {before} and gc.get_threshold() == before
