"""Accounting as values: what a stage's teacher requests cost travels with the stage's result."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Spend:
    """What one stage's requests cost: returned with the stage's result and added up by the flow, so the manifest
    is right however many processes the stages ran in."""

    spent_usd: float = 0.0
    cached_usd: float = 0.0  # what the cache hits would have cost
    sent: int = 0
    cached: int = 0
    failed: int = 0
    refused: int = 0  # not sent: the budget was exhausted
    unpriced: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    exhausted: bool = False

    def __add__(self, other: Spend) -> Spend:
        return Spend(**{
            name: (getattr(self, name) or getattr(other, name)) if name == "exhausted"
            else getattr(self, name) + getattr(other, name)
            for name in self.__dataclass_fields__
        })

    @property
    def requests(self) -> int:
        return self.sent + self.cached

    def summary(self, budget_usd: float | None = None) -> dict:
        """As the manifest records it."""
        return {
            "spent_usd": round(self.spent_usd, 6),
            "cached_usd": round(self.cached_usd, 6),
            "budget_usd": budget_usd,
            "budget_exhausted": self.exhausted,
            "requests": {
                "sent": self.sent,
                "cached": self.cached,
                "failed": self.failed,
                "not_sent_budget": self.refused,
                "unpriced": self.unpriced,
            },
            "tokens": {"prompt": self.prompt_tokens, "completion": self.completion_tokens},
        }
