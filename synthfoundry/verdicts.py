"""What every verifier is (`Verifier`) and returns (`Verdict`), below the verifiers themselves: verify.py names the
built-in ones, and verifiers that live elsewhere (the sandbox's code tests) subclass this without importing them."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from synthfoundry.errors import UserError


class VerifierError(UserError, ValueError):
    """A verifier name that does not exist, a malformed argument, or a ground truth the verifier cannot read."""


@dataclass(frozen=True)
class Verdict:
    score: float  # 1.0 right, 0.0 wrong; a few reasoning-gym tasks give partial credit
    extracted: str | None  # the final answer read from the response; None when there was none
    reason: str = ""  # why it fell short, when the verifier can say more than the answer (a failing test's name)


class Verifier:
    """How one kind of answer is read and compared. Subclasses define `extract` and `agree`."""

    def extract(self, response: str) -> Any | None:
        """The response's final answer, parsed; None when it has none."""
        raise NotImplementedError

    def agree(self, first: Any, second: Any) -> bool:
        """Two extracted answers are the same answer."""
        raise NotImplementedError

    def gold(self, answer: str) -> Any:
        found = self.extract(answer)
        if found is None:
            raise VerifierError(f"the ground truth {answer!r} is not an answer this verifier can read")
        return found

    def score(self, found: Any, row: Mapping[str, Any]) -> float:
        return float(self.agree(self.gold(str(row["answer"])), found))

    def grade(self, found: Any, row: Mapping[str, Any]) -> tuple[float, str]:
        """The score and, for verifiers that can tell, why it is short of 1 ("" otherwise)."""
        return self.score(found, row), ""

    def outcome(self, found: Any, row: Mapping[str, Any]) -> Any:
        """What a majority vote compares samples on (with `agree`): the answer itself, or, for code, what the
        program does on the tests' inputs."""
        return found

    def show(self, found: Any) -> str:
        return str(found)


def normalise(text: str) -> str:
    """How verifiers compare free text: case-folded, punctuation dropped, whitespace collapsed."""
    text = "".join(" " if unicodedata.category(c)[0] in "PS" else c for c in text.casefold())
    return " ".join(text.split())
