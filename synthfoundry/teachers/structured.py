"""Structured outputs: ask for JSON matching a pydantic model, validate it, and ask again with the error."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from pydantic import BaseModel, ValidationError

from synthfoundry.teachers.base import ChatRequest, Completion, Teacher, Unanswered

_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)

FEEDBACK = (
    "That reply is not valid: {problem}. Reply again with only a JSON object that matches the schema, nothing else."
)


def schema_text(output: type[BaseModel]) -> str:
    """Canonical JSON so the same model always renders the same request (and cache key)."""
    return json.dumps(output.model_json_schema(), sort_keys=True, separators=(",", ":"))


def _problem(error: ValidationError) -> str:
    details = [f"{'.'.join(map(str, e['loc'])) or 'root'}: {e['msg']}" for e in error.errors()[:5]]
    return "; ".join(details)[:500]


async def complete_structured(
    teacher: Teacher, request: ChatRequest, output: type[BaseModel], attempts: int
) -> Completion:
    """Validate each answer into `output`; feed the validation error back, up to `attempts` requests in all.

    Every attempt is a plain request, so each is cached and billed like any other; the returned completion
    carries the tokens and cost of all attempts, which is what the row cost.
    """
    request = replace(request, json_schema=schema_text(output))
    spent: list[Completion] = []
    for _ in range(attempts):
        completion = await teacher.complete(request)
        spent.append(completion)
        text = _FENCE.sub(r"\1", completion.text)
        try:
            parsed = output.model_validate_json(text)
        except ValidationError as error:
            problem = _problem(error)
        else:
            costs = [c.cost_usd for c in spent]
            return replace(
                completion,
                text=text,
                parsed=parsed,
                prompt_tokens=sum(c.prompt_tokens for c in spent),
                completion_tokens=sum(c.completion_tokens for c in spent),
                cost_usd=None if None in costs else sum(costs),
            )
        request = replace(
            request,
            messages=(
                *request.messages,
                {"role": "assistant", "content": completion.text},
                {"role": "user", "content": FEEDBACK.format(problem=problem)},
            ),
        )
    raise Unanswered(f"invalid structured output after {attempts} attempts: {problem}")
