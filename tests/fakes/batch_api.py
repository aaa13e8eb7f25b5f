"""OpenAI Batch and Anthropic Message Batches on the loopback fake provider, with scripted lifecycles.

`FakeBatches(server)` adds the routes: file upload and content, batch create / retrieve, message batch
create / retrieve / results. Each retrieve moves a batch one step along its lifecycle (OpenAI statuses; an Anthropic
batch is `in_progress` until the last step, then `ended`) unless `hold` is set: the k-th batch created follows
`lifecycles[k]`, the last one repeating. At the last step every item meets
its `fate(body, submission)` (the how-many-th time its custom_id is submitted, from 1): "ok" answers with the
server's reply, "error" fails it (HTTP 500 / api_error), "expired" expires it. A last step of "failed" fails the
whole OpenAI batch (validation), answering nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import default as email_policy
from typing import Any

from tests.fakes.provider_server import ProviderServer, Reply, Request

Fate = Callable[[dict, int], str]


@dataclass
class FakeBatch:
    id: str
    provider: str  # "openai" | "anthropic"
    items: dict[str, dict]  # custom_id -> request body
    submissions: dict[str, int]  # custom_id -> how many times it has been submitted, this batch included
    lifecycle: tuple[str, ...]
    input_file_id: str | None = None
    step: int = 0
    files: dict[str, str] = field(default_factory=dict)  # "output" / "error" -> file id
    results: list[dict] = field(default_factory=list)  # Anthropic result lines, once ended


class FakeBatches:
    def __init__(
        self,
        server: ProviderServer,
        lifecycles: Sequence[tuple[str, ...]] = (("validating", "in_progress", "finalizing", "completed"),),
        fate: Fate = lambda body, submission: "ok",
    ) -> None:
        self.server = server
        self.lifecycles = lifecycles
        self.fate = fate
        self.hold = False  # keep every batch where it is (in flight)
        self.batches: list[FakeBatch] = []  # in the order they were created
        self.files: dict[str, bytes] = {}
        self._submitted: Counter[str] = Counter()
        server.routes[("POST", "/v1/files")] = self.upload
        server.routes[("POST", "/v1/batches")] = self.create_openai
        server.routes[("POST", "/v1/messages/batches")] = self.create_anthropic

    def submitted(self) -> list[set[str]]:
        """The custom_ids of each batch created, in order."""
        return [set(batch.items) for batch in self.batches]

    # ---- OpenAI ----
    def upload(self, request: Request) -> Reply:
        head = f"content-type: {request.headers['content-type']}\r\n\r\n".encode()
        form = BytesParser(policy=email_policy).parsebytes(head + request.body)
        part = next(p for p in form.iter_parts() if p.get_param("name", header="content-disposition") == "file")
        return Reply.json(self._file(part.get_payload(decode=True), purpose="batch"))

    def _file(self, content: bytes, purpose: str) -> dict:
        file_id = f"file-{len(self.files) + 1}"
        self.files[file_id] = content
        self.server.routes[("GET", f"/v1/files/{file_id}/content")] = lambda _: Reply(200, self.files[file_id])
        return {"id": file_id, "object": "file", "bytes": len(content), "created_at": 0,
                "filename": f"{file_id}.jsonl", "purpose": purpose, "status": "processed"}

    def create_openai(self, request: Request) -> Reply:
        body = request.json()
        lines = [json.loads(line) for line in self.files[body["input_file_id"]].decode().splitlines() if line]
        batch = self._new("openai", {line["custom_id"]: line["body"] for line in lines})
        batch.input_file_id = body["input_file_id"]
        self.server.routes[("GET", f"/v1/batches/{batch.id}")] = lambda _: self._retrieve_openai(batch)
        return Reply.json(self._openai(batch))

    def _retrieve_openai(self, batch: FakeBatch) -> Reply:
        self._advance(batch)
        return Reply.json(self._openai(batch))

    def _openai(self, batch: FakeBatch) -> dict:
        status = batch.lifecycle[batch.step]
        ended = batch.step == len(batch.lifecycle) - 1
        if ended and not batch.files and status != "failed":
            self._finish_openai(batch)
        errors = self.files[batch.files["error"]].splitlines() if "error" in batch.files else []
        return {
            "id": batch.id, "object": "batch", "endpoint": "/v1/chat/completions", "completion_window": "24h",
            "input_file_id": batch.input_file_id, "created_at": 0, "status": status,
            "output_file_id": batch.files.get("output"), "error_file_id": batch.files.get("error"),
            "errors": {"object": "list", "data": [{"code": "invalid_jsonl", "message": "injected validation failure"}]}
            if status == "failed" else None,
            "request_counts": {"total": len(batch.items), "completed": len(batch.items) - len(errors) if batch.files else 0,
                               "failed": len(errors)},
        }

    def _finish_openai(self, batch: FakeBatch) -> None:
        output, errors = [], []
        for custom_id, body in batch.items.items():
            fate = self.fate(body, batch.submissions[custom_id])
            line: dict[str, Any] = {"id": f"batch_req_{custom_id[:8]}", "custom_id": custom_id}
            if fate == "ok":
                answer = json.loads(self.server.openai_chat(self._chat(body)).body)
                response = {"status_code": 200, "request_id": "req", "body": answer}
                output.append({**line, "response": response, "error": None})
            elif fate == "expired":
                errors.append({**line, "response": None, "error": {"code": "batch_expired",
                               "message": "This request could not be executed before the completion window expired."}})
            else:
                errors.append({**line, "response": {"status_code": 500, "request_id": "req",
                               "body": {"error": {"message": "injected server error", "type": "server_error"}}},
                               "error": None})
        for name, lines in (("output", output), ("error", errors)):
            if lines:
                content = "".join(json.dumps(x) + "\n" for x in lines).encode()
                batch.files[name] = self._file(content, "batch_output")["id"]

    # ---- Anthropic ----
    def create_anthropic(self, request: Request) -> Reply:
        entries = request.json()["requests"]
        batch = self._new("anthropic", {e["custom_id"]: e["params"] for e in entries})
        base = f"/v1/messages/batches/{batch.id}"
        self.server.routes[("GET", base)] = lambda _: self._retrieve_anthropic(batch)
        self.server.routes[("GET", f"{base}/results")] = lambda _: Reply(
            200, "".join(json.dumps(x) + "\n" for x in batch.results).encode(), {"content-type": "application/binary"}
        )
        return Reply.json(self._anthropic(batch))

    def _retrieve_anthropic(self, batch: FakeBatch) -> Reply:
        self._advance(batch)
        return Reply.json(self._anthropic(batch))

    def _anthropic(self, batch: FakeBatch) -> dict:
        ended = batch.step == len(batch.lifecycle) - 1
        if ended and not batch.results:
            for custom_id, body in batch.items.items():
                fate = self.fate(body, batch.submissions[custom_id])
                if fate == "ok":
                    message = json.loads(self.server.anthropic_messages(self._chat(body)).body)
                    result: dict = {"type": "succeeded", "message": message}
                elif fate == "expired":
                    result = {"type": "expired"}
                else:
                    result = {"type": "errored", "error": {"type": "error",
                              "error": {"type": "api_error", "message": "injected server error"}}}
                batch.results.append({"custom_id": custom_id, "result": result})
        kinds = Counter(r["result"]["type"] for r in batch.results)
        return {
            "id": batch.id, "type": "message_batch", "processing_status": "ended" if ended else "in_progress",
            "created_at": "2026-01-01T00:00:00Z", "expires_at": "2026-01-02T00:00:00Z",
            "ended_at": "2026-01-01T01:00:00Z" if ended else None,
            "results_url": f"{self.server.origin}/v1/messages/batches/{batch.id}/results" if ended else None,
            "request_counts": {"processing": 0 if ended else len(batch.items), "succeeded": kinds["succeeded"],
                               "errored": kinds["errored"], "canceled": 0, "expired": kinds["expired"]},
        }

    # ---- both ----
    def _new(self, provider: str, items: dict[str, dict]) -> FakeBatch:
        self._submitted.update(list(items))
        prefix = "batch" if provider == "openai" else "msgbatch"
        number = len(self.batches)
        lifecycle = self.lifecycles[min(number, len(self.lifecycles) - 1)]
        submissions = {k: self._submitted[k] for k in items}
        batch = FakeBatch(f"{prefix}_{number + 1}", provider, items, submissions, lifecycle)
        self.batches.append(batch)
        return batch

    def _advance(self, batch: FakeBatch) -> None:
        if not self.hold:
            batch.step = min(batch.step + 1, len(batch.lifecycle) - 1)

    @staticmethod
    def _chat(body: dict) -> Request:
        return Request("POST", "", {"content-type": "application/json"}, json.dumps(body).encode())
