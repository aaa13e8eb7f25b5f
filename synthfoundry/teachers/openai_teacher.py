"""OpenAI, or any OpenAI-compatible server (vLLM, Ollama, llama.cpp server), as a teacher."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import openai

from synthfoundry.teachers.base import ChatRequest, Completion, PerLoop, TeacherError, split_reasoning

if TYPE_CHECKING:
    import httpx2

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
    ) -> None:
        self.model = model
        self.base_url = base_url
        self._api_key = api_key
        # One SDK client per event loop (see PerLoop). An injected `http_client` is shared by all of them,
        # so only one without a connection pool fits: a test's mock transport.
        self._clients = PerLoop(
            lambda: openai.AsyncOpenAI(
                api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries, http_client=http_client
            )
        )

    async def complete(self, request: ChatRequest) -> Completion:
        options: dict[str, Any] = {}
        if request.seed is not None:
            options["seed"] = request.seed
        if request.stop:
            options["stop"] = list(request.stop)
        try:
            response = await self._clients.get().chat.completions.create(
                model=self.model,
                messages=list(request.messages),
                temperature=request.temperature,
                top_p=request.top_p,
                max_tokens=request.max_tokens,
                **options,
            )
        except _FATAL as error:
            where = f" at {self.base_url}" if self.base_url else ""
            detail = error.message.replace(self._api_key, "***")
            raise TeacherError(
                f"openai model {self.model!r}{where} refused the request (HTTP {error.status_code}): {detail}"
            ) from None
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
        )

    def params(self) -> dict:
        return {"provider": self.provider, "model": self.model, "base_url": self.base_url}
