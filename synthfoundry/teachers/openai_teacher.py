"""OpenAI, or any OpenAI-compatible server (vLLM, Ollama, llama.cpp server), as a teacher."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import openai
import pydantic
from openai.types.chat import ChatCompletion

from synthfoundry.redaction import redact
from synthfoundry.teachers.base import ChatRequest, Completion, TeacherError, split_reasoning
from synthfoundry.teachers.batch import BatchResults
from synthfoundry.teachers.sdk import SDKTeacher

# Errors that the same request will hit again: fail the run instead of filling the ledger with them.
_FATAL = (openai.AuthenticationError, openai.PermissionDeniedError, openai.BadRequestError, openai.NotFoundError)

# Batch API: what each line asks, and the statuses after which a batch's files are final.
_ENDPOINT = "/v1/chat/completions"
_ENDED = ("completed", "expired", "failed", "cancelled")


class OpenAITeacher(SDKTeacher[openai.AsyncOpenAI]):
    provider = "openai"
    sdk = openai.AsyncOpenAI
    sdk_http_client = openai.DefaultAsyncHttpxClient

    def _response_format(self, schema_text: str) -> dict:
        """OpenAI enforces a JSON Schema; compatible servers (llama.cpp, vLLM, Ollama) reliably know json_object,
        and llama.cpp also reads a `schema` beside it."""
        schema = json.loads(schema_text)
        if self.base_url is None:
            name = "".join(c if c.isalnum() or c in "_-" else "_" for c in schema.get("title", "output"))[:64]
            return {"type": "json_schema", "json_schema": {"name": name, "schema": schema, "strict": False}}
        return {"type": "json_object", "schema": schema}

    def body(self, request: ChatRequest) -> dict[str, Any]:
        """The chat.completions body for `request`: what `complete` sends, and what a Batch API line carries."""
        body: dict[str, Any] = {
            "model": self.model,
            "messages": list(request.messages),
            "temperature": request.temperature,
            "top_p": request.top_p,
            "max_tokens": request.max_tokens,
        }
        if request.seed is not None:
            body["seed"] = request.seed
        if request.stop:
            body["stop"] = list(request.stop)
        if request.json_schema:
            body["response_format"] = self._response_format(request.json_schema)
        if request.tools:
            body["tools"] = json.loads(request.tools)
        return body

    def _refused(self, error: openai.APIStatusError) -> TeacherError:
        where = f" at {self.base_url}" if self.base_url else ""
        detail = redact(error.message, self.secrets)
        return TeacherError(
            f"openai model {self.model!r}{where} refused the request (HTTP {error.status_code}): {detail}"
        )

    async def complete(self, request: ChatRequest) -> Completion:
        try:
            return await self.answer(
                lambda: self._clients.get().chat.completions.create(**self.body(request)), self.completion
            )
        except _FATAL as error:
            raise self._refused(error) from None

    async def submit_batch(self, bodies: Mapping[str, dict[str, Any]]) -> str:
        """Upload the requests as a JSONL file and start an OpenAI Batch on it (the only window is 24 h)."""
        lines = "".join(
            json.dumps({"custom_id": key, "method": "POST", "url": _ENDPOINT, "body": body}, ensure_ascii=False) + "\n"
            for key, body in bodies.items()
        )
        client = self._clients.get()
        try:
            upload = await client.files.create(file=("requests.jsonl", lines.encode()), purpose="batch")
            batch = await client.batches.create(input_file_id=upload.id, endpoint=_ENDPOINT, completion_window="24h")
        except _FATAL as error:
            raise self._refused(error) from None
        return batch.id

    async def batch_results(self, batch_id: str) -> BatchResults | str:
        """Once the batch has ended, its output and error files read back; until then, its progress."""
        client = self._clients.get()
        try:
            batch = await client.batches.retrieve(batch_id)
            if batch.status not in _ENDED:
                counts = batch.request_counts
                done = f", {counts.completed + counts.failed}/{counts.total} done" if counts else ""
                return batch.status + done
            items: dict[str, Completion | str] = {}
            for file_id in (batch.output_file_id, batch.error_file_id):
                if file_id:
                    for line in (await client.files.content(file_id)).text.splitlines():
                        if line.strip():
                            result = json.loads(line)
                            items[result["custom_id"]] = self._batch_item(result)
        except _FATAL as error:
            raise self._refused(error) from None
        missing = batch.status if batch.status != "completed" else "missing from the results"
        if batch.status == "failed" and batch.errors and batch.errors.data:
            missing += ": " + "; ".join(e.message or e.code or "" for e in batch.errors.data)[:300]
        return BatchResults(missing, items)

    def _batch_item(self, result: dict[str, Any]) -> Completion | str:
        """One line of a batch's output or error file: an answer, or why there is none."""
        response = result.get("response") or {}
        if response.get("status_code") == 200:
            try:
                return self.completion(ChatCompletion.model_validate(response["body"]))
            except (pydantic.ValidationError, IndexError) as error:  # one garbled line must not sink the batch
                return f"unreadable answer ({type(error).__name__})"
        error = result.get("error") or (response.get("body") or {}).get("error") or {}
        if error.get("code") == "batch_expired":
            return "expired"
        return f"failed (HTTP {response.get('status_code', '-')}): {error.get('message', 'no reason given')}"

    def completion(self, response: ChatCompletion) -> Completion:
        """Read an answer (from `complete`, or a Batch API result line parsed as a ChatCompletion)."""
        choice = response.choices[0]
        text = choice.message.content or ""
        # Reasoning servers (vLLM, DeepSeek, Ollama) return it beside the answer; others inline a <think> block.
        reasoning = getattr(choice.message, "reasoning_content", None) or getattr(choice.message, "reasoning", None)
        if not reasoning:
            text, reasoning = split_reasoning(text)
        usage = response.usage
        calls = [c for c in choice.message.tool_calls or () if c.type == "function"]
        return Completion(
            text=text,
            model=response.model or self.model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason or "stop",
            reasoning=reasoning,
            provider=self.provider,
            tool_calls=tuple({"id": c.id, "name": c.function.name, "arguments": c.function.arguments} for c in calls),
        )
