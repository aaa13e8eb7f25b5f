"""OpenAI, or any OpenAI-compatible server (vLLM, Ollama, llama.cpp server), as a teacher."""

from __future__ import annotations

import json
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion

from synthfoundry.teachers.base import ChatRequest, ClientShards, Completion, TeacherError, split_reasoning

# Errors that the same request will hit again: fail the run instead of filling the ledger with them.
_FATAL = (openai.AuthenticationError, openai.PermissionDeniedError, openai.BadRequestError, openai.NotFoundError)


class OpenAITeacher:
    provider = "openai"

    def __init__(
        self,
        model: str,
        api_key: str,
        base_url: str | None = None,
        timeout_s: float = 120,
        max_retries: int = 4,
        http_client: httpx2.AsyncClient | None = None,
        max_connections: int = 100,
    ) -> None:
        """`max_connections` sizes the connection pools to the requests in flight: the SDK's default keeps only
        100 connections alive, so beyond 100 in flight every request would pay for a new connection."""
        self.model = model
        self.base_url = base_url
        self._api_key = api_key
        # Small pools used in turn (see ClientShards), each sized so that all of them hold max_connections.
        self._clients = ClientShards(
            lambda size: openai.AsyncOpenAI(
                api_key=api_key,
                base_url=base_url,
                timeout=timeout_s,
                max_retries=max_retries,
                http_client=http_client
                or openai.DefaultAsyncHttpxClient(
                    limits=httpx2.Limits(max_connections=size, max_keepalive_connections=size)
                ),
            ),
            max_connections,
            shared=http_client is not None,
        )

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
        return body

    async def complete(self, request: ChatRequest) -> Completion:
        try:
            response = await self._clients.get().chat.completions.create(**self.body(request))
        except _FATAL as error:
            where = f" at {self.base_url}" if self.base_url else ""
            detail = error.message.replace(self._api_key, "***")
            raise TeacherError(
                f"openai model {self.model!r}{where} refused the request (HTTP {error.status_code}): {detail}"
            ) from None
        return self.completion(response)

    def completion(self, response: ChatCompletion) -> Completion:
        """Read an answer (from `complete`, or a Batch API result line parsed as a ChatCompletion)."""
        choice = response.choices[0]
        text = choice.message.content or ""
        # Reasoning servers (vLLM, DeepSeek, Ollama) return it beside the answer; others inline a <think> block.
        reasoning = getattr(choice.message, "reasoning_content", None) or getattr(choice.message, "reasoning", None)
        if not reasoning:
            text, reasoning = split_reasoning(text)
        usage = response.usage
        return Completion(
            text=text,
            model=response.model or self.model,
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            finish_reason=choice.finish_reason or "stop",
            reasoning=reasoning,
            provider=self.provider,
        )

    def params(self) -> dict:
        return {"provider": self.provider, "model": self.model, "base_url": self.base_url}
