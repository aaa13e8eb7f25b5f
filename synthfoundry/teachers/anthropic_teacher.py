"""Anthropic's Messages API as a teacher.

anthropic 2.x speaks API version 2026-10-21, which has no sampling parameters: temperature, top_p and top_k
are gone from the SDK and the API answers 400 to any of them, so sampling is the model's own. `seed` never existed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import anthropic
from anthropic.types import Message

from synthfoundry.redaction import redact
from synthfoundry.teachers.base import ChatRequest, Completion, TeacherError
from synthfoundry.teachers.batch import BatchResults
from synthfoundry.teachers.sdk import SDKTeacher

# Errors that the same request will hit again: fail the run instead of filling the ledger with them.
_FATAL = (
    anthropic.AuthenticationError,
    anthropic.PaymentRequiredError,
    anthropic.PermissionDeniedError,
    anthropic.BadRequestError,
    anthropic.NotFoundError,
)

# Speak OpenAI's finish_reason vocabulary so filters can treat every teacher alike ("length" = truncated).
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def _messages(messages: tuple[dict[str, Any], ...]) -> list[dict[str, Any]]:
    """OpenAI-form turns as Messages API turns: assistant `tool_calls` become `tool_use` blocks, and the `tool`
    turns answering them one user turn of `tool_result` blocks."""
    turns: list[dict[str, Any]] = []
    for message in messages:
        if message["role"] == "system":
            continue
        if message["role"] == "tool":
            block = {"type": "tool_result", "tool_use_id": message["tool_call_id"], "content": message["content"]}
            if turns and turns[-1]["role"] == "user" and isinstance(turns[-1]["content"], list):
                turns[-1]["content"].append(block)
            else:
                turns.append({"role": "user", "content": [block]})
        elif message.get("tool_calls"):
            content = [{"type": "text", "text": message["content"]}] if message.get("content") else []
            content += [{"type": "tool_use", "id": call["id"], "name": call["function"]["name"],
                         "input": json.loads(call["function"]["arguments"])} for call in message["tool_calls"]]
            turns.append({"role": "assistant", "content": content})
        else:
            turns.append(message)
    return turns


class AnthropicTeacher(SDKTeacher[anthropic.AsyncAnthropic]):
    provider = "anthropic"
    sdk = anthropic.AsyncAnthropic
    sdk_http_client = anthropic.DefaultAsyncHttpxClient

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The Messages API body for `request`: what `complete` sends, and what a Message Batch entry carries."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": _messages(request.messages),
            "max_tokens": request.max_tokens,
        }
        system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system")
        if system:
            body["system"] = system
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if request.tools:
            body["tools"] = [{"name": f["function"]["name"], "description": f["function"].get("description", ""),
                              "input_schema": f["function"]["parameters"]} for f in json.loads(request.tools)]
        if request.json_schema:
            # Structured outputs answer in JSON text; transform_schema makes a pydantic schema acceptable to the API
            # (constraints it cannot enforce move into descriptions; our own validation still checks them).
            schema = anthropic.transform_schema(json.loads(request.json_schema))
            body["output_config"] = {"format": {"type": "json_schema", "schema": schema}}
        return body

    def _refused(self, error: anthropic.APIStatusError) -> TeacherError:
        detail = redact(error.message, self.secrets)
        return TeacherError(f"anthropic model {self.model!r} refused the request (HTTP {error.status_code}): {detail}")

    async def complete(self, request: ChatRequest) -> Completion:
        try:
            return await self.answer(lambda: self._clients.get().messages.create(**self.body(request)), self.completion)
        except _FATAL as error:
            raise self._refused(error) from None

    async def submit_batch(self, bodies: Mapping[str, dict[str, Any]]) -> str:
        """Start a Message Batch of the requests (Anthropic's window is 24 h)."""
        requests = [{"custom_id": key, "params": body} for key, body in bodies.items()]
        try:
            batch = await self._clients.get().messages.batches.create(requests=requests)  # type: ignore[arg-type]
        except _FATAL as error:
            raise self._refused(error) from None
        return batch.id

    async def batch_results(self, batch_id: str) -> BatchResults | str:
        """Once the batch has ended, its results stream read back; until then, its progress."""
        batches = self._clients.get().messages.batches
        items: dict[str, Completion | str] = {}
        try:
            batch = await batches.retrieve(batch_id)
            if batch.processing_status != "ended":
                return f"{batch.processing_status}, {batch.request_counts.processing} requests processing"
            async for entry in await batches.results(batch_id):
                result = entry.result
                if result.type == "succeeded":
                    items[entry.custom_id] = self.completion(result.message)
                elif result.type == "errored":
                    error = result.error.error
                    items[entry.custom_id] = f"errored ({error.type}): {error.message}"
                else:
                    items[entry.custom_id] = result.type  # expired, canceled
        except _FATAL as error:
            raise self._refused(error) from None
        return BatchResults("missing from the results", items)

    def completion(self, response: Message) -> Completion:
        """Read an answer (from `complete`, or a Message Batch result's message)."""
        text = "".join(block.text for block in response.content if block.type == "text")
        reasoning = "\n\n".join(block.thinking for block in response.content if block.type == "thinking")
        stop_reason = response.stop_reason or "end_turn"
        return Completion(
            text=text,
            model=response.model or self.model,
            prompt_tokens=response.usage.input_tokens,
            completion_tokens=response.usage.output_tokens,
            finish_reason=_FINISH.get(stop_reason, stop_reason),
            reasoning=reasoning or None,
            provider=self.provider,
            tool_calls=tuple({"id": block.id, "name": block.name, "arguments": json.dumps(block.input)}
                             for block in response.content if block.type == "tool_use"),
        )
