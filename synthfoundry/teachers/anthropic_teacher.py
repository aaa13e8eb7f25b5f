"""Anthropic's Messages API as a teacher.

anthropic 2.x speaks API version 2026-10-21, which has no sampling parameters: temperature, top_p and top_k
are gone from the SDK and the API answers 400 to any of them, so sampling is the model's own. `seed` never existed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import anthropic

from synthfoundry.teachers.base import ChatRequest, Completion, PerLoop, TeacherError

if TYPE_CHECKING:
    import httpx2

# Errors that the same request will hit again: fail the run instead of filling the ledger with them.
_FATAL = (
    anthropic.AuthenticationError,
    anthropic.PaymentRequiredError,
    anthropic.PermissionDeniedError,
    anthropic.BadRequestError,
    anthropic.NotFoundError,
)

# Speak OpenAI's finish_reason vocabulary so filters can treat every teacher alike ("length" = truncated).
_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "max_tokens": "length"}


class AnthropicTeacher:
    provider = "anthropic"

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
            lambda: anthropic.AsyncAnthropic(
                api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries, http_client=http_client
            )
        )

    async def complete(self, request: ChatRequest) -> Completion:
        system = "\n\n".join(m["content"] for m in request.messages if m["role"] == "system")
        options: dict[str, Any] = {}
        if system:
            options["system"] = system
        if request.stop:
            options["stop_sequences"] = list(request.stop)
        try:
            response = await self._clients.get().messages.create(
                model=self.model,
                messages=[m for m in request.messages if m["role"] != "system"],
                max_tokens=request.max_tokens,
                **options,
            )
        except _FATAL as error:
            detail = error.message.replace(self._api_key, "***")
            raise TeacherError(
                f"anthropic model {self.model!r} refused the request (HTTP {error.status_code}): {detail}"
            ) from None
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
        )

    def params(self) -> dict:
        return {"provider": self.provider, "model": self.model, "base_url": self.base_url}
