"""Accounting as values: what a stage's teacher requests cost travels with the stage's result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class InFlight:
    """The in-flight limit a stage's requests were sent under: adaptive or fixed, lowest and highest (so the
    manifest shows where an adaptive limit settled)."""

    adaptive: bool
    lowest: int
    highest: int

    def __add__(self, other: InFlight) -> InFlight:
        return InFlight(self.adaptive or other.adaptive, min(self.lowest, other.lowest), max(self.highest, other.highest))


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
    in_flight: InFlight | None = None

    def __add__(self, other: Spend) -> Spend:
        def merged(name: str):
            mine, theirs = getattr(self, name), getattr(other, name)
            if name == "exhausted":
                return mine or theirs
            if name == "in_flight":
                return theirs if mine is None else mine if theirs is None else mine + theirs
            return mine + theirs

        return Spend(**{name: merged(name) for name in self.__dataclass_fields__})

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
            "in_flight": asdict(self.in_flight) if self.in_flight else None,
        }


def text_tokens(text: str) -> int:
    """Tokens of a text before any tokenizer has seen it, over-estimated (3 characters a token) so that forecasts,
    rate limits and worst-case costs err on the side of more; the provider's usage replaces it once answered."""
    return len(text) // 3


def prompt_tokens(*texts: str) -> int:
    """Tokens of one request's messages: each message's text and 4 for its framing."""
    return sum(text_tokens(text) + 4 for text in texts)


@dataclass(frozen=True)
class Estimate:
    """At most what a step will ask of the teacher, worked out from its config and seeds before anything is sent.

    `rows` bounds the rows the step passes on and `row_tokens` the prompt tokens of the longest one, which is
    what distillation sends per row; `answered` of those rows already have a response (loaded data), so
    distillation passes them on unasked.
    """

    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rows: int = 0
    row_tokens: int = 0
    answered: int = 0

    @classmethod
    def asking(cls, count: int, tokens_each: int, max_tokens: int) -> Estimate:
        """`count` requests of at most `tokens_each` prompt tokens and `max_tokens` answer tokens."""
        return cls(count, count * tokens_each, count * max_tokens)

    def __add__(self, other: Estimate) -> Estimate:
        return Estimate(
            self.requests + other.requests,
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.rows + other.rows,
            max(self.row_tokens, other.row_tokens),
            self.answered + other.answered,
        )

    def passing(self, rows: int, row_tokens: int = 0) -> Estimate:
        """This estimate for a step that passes on `rows` rows of at most `row_tokens` prompt tokens."""
        return replace(self, rows=rows, row_tokens=row_tokens)
