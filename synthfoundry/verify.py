"""Score a candidate response against a row's ground truth with the row's own verifier.

Published maths and RLVR rows carry `answer` and `verifier`, so a trainer (or the correctness filter) can check a
policy's response without knowing which recipe made the row:

    from synthfoundry.verify import verify
    reward = verify(completion_text, row).score        # row: a published row as a dict

Verifiers (the row's `verifier`):
  math_verify              symbolic equivalence of the response's final answer with `answer` (math-verify)
  reasoning_gym:<dataset>  that generator's own `score_answer`, which may also read the row's `metadata`
  exact                    the final answer equals `answer` (surrounding whitespace aside)
  normalised               equal after case folding, punctuation removal and whitespace collapsing
  numeric[:<tolerance>]    the final number equals `answer`'s within the tolerance (relative or absolute; 1e-6)
  choice                   the chosen option letter ("(B)", "Answer: B", "b)", a lone "B") is `answer`'s
  regex:<pattern>          the last match of the pattern (its first group, if it has one) equals `answer`
  code_tests:python        the response's program passes the tests in `answer` (JSON), run in the sandbox
  tool_calls               the response's function calls match `answer` (JSON, BFCL's possible-answer shape)

Every verifier but `regex` reads the response's final answer one way (`final_answer`), in this order: the last
`<answer>...</answer>` block (reasoning-gym's convention; what the verl export's prompts ask for), then inside it (or
the response) the last `\\boxed{...}`, else the rest of the line after the last `#### ` (GSM8K) or "the answer is",
else the whole response (where `numeric` takes the last number and `math_verify` lets math-verify find the answer).
`regex` applies its own pattern to the whole response. Each verifier also extracts answers on their own and tells
whether two agree, which is what majority voting over samples needs.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from synthfoundry.verdicts import Verdict, Verifier, VerifierError, normalise

if TYPE_CHECKING:
    from synthfoundry.sandbox import Sandbox

MATH_VERIFY = "math_verify"
CODE_TESTS = "code_tests:"
REASONING_GYM = "reasoning_gym:"
KNOWN = (
    "math_verify, reasoning_gym:<dataset>, exact, normalised, numeric[:<tolerance>], choice, regex:<pattern>, "
    "code_tests:python, tool_calls"
)


def verify(response: str, row: Mapping[str, Any], sandbox: Sandbox | None = None) -> Verdict:
    """Score `response` against `row["answer"]` with `row["verifier"]`; VerifierError for an unusable verifier.
    `sandbox`: where a verifier that runs code runs it (the run's; default: one built for this call)."""
    checker = get_verifier(row["verifier"] or "", sandbox)
    found = checker.extract(response or "")
    if found is None:
        return Verdict(0.0, None)
    score, reason = checker.grade(found, row)
    return Verdict(score, checker.show(found), reason)


def get_verifier(spec: str, sandbox: Sandbox | None = None) -> Verifier:
    """The verifier a row's `verifier` names; one that runs code gets `sandbox` (default: its own, built on first
    use), the others are built once per name."""
    if spec.startswith(CODE_TESTS):
        from synthfoundry.sandbox import LANGUAGES
        from synthfoundry.sandbox.code_tests import CodeTests

        language = spec[len(CODE_TESTS):]
        if language not in LANGUAGES:
            raise VerifierError(f"verifier {spec!r}: unknown language (known: {', '.join(LANGUAGES)})")
        return CodeTests(language, sandbox)
    return _verifier(spec)


@lru_cache(maxsize=256)
def _verifier(spec: str) -> Verifier:
    name, colon, argument = spec.partition(":")
    if name == "reasoning_gym" and argument:
        return ReasoningGym(argument)
    if name == "regex" and argument:
        try:
            return Regex(re.compile(argument))
        except re.error as error:
            raise VerifierError(f"verifier {spec!r}: not a valid regular expression ({error})") from None
    if spec == "tool_calls":
        from synthfoundry.tools.verifier import ToolCalls

        return ToolCalls()
    if name == "numeric":
        try:
            tolerance = float(argument) if colon else 1e-6
        except ValueError:
            raise VerifierError(f"verifier {spec!r}: the tolerance must be a number, e.g. numeric:1e-6") from None
        if not tolerance >= 0:
            raise VerifierError(f"verifier {spec!r}: the tolerance must be >= 0")
        return Numeric(tolerance)
    simple = {MATH_VERIFY: MathVerify, "exact": Exact, "normalised": Normalised, "choice": Choice}
    if name in simple and not colon:
        return simple[name]()
    raise VerifierError(f"unknown verifier {spec!r} (known: {KNOWN})")


_ANSWER_TAG = re.compile(r"<answer>(.*?)</answer>", re.DOTALL | re.IGNORECASE)
_BOXED = re.compile(r"\\(?:boxed|fbox)\s*\{")
_LINE_MARKER = re.compile(r"####|\banswer\s+is\b:?", re.IGNORECASE)


@dataclass(frozen=True)
class FinalAnswer:
    text: str
    marked: bool  # read from a tag, a box or a marker; False: the whole response


def final_answer(response: str) -> FinalAnswer:
    """The response's final answer, read the one documented way (see the module docstring)."""
    text, marked = response, False
    tagged = _ANSWER_TAG.findall(text)
    if tagged:
        text, marked = tagged[-1], True
    boxed = _last_boxed(text)
    if boxed is not None:
        return FinalAnswer(boxed.strip(), True)
    markers = list(_LINE_MARKER.finditer(text))
    if markers:
        text, marked = text[markers[-1].end():].strip().split("\n", 1)[0], True
    text = text.strip()
    return FinalAnswer(text.strip("*$ ").removesuffix(".").strip("*$ ") if marked else text, marked)


def _last_boxed(text: str) -> str | None:
    """The content of the last `\\boxed{...}`, braces balanced; None when there is none or it is unclosed."""
    opened = list(_BOXED.finditer(text))
    if not opened:
        return None
    depth, start = 1, opened[-1].end()
    for at in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[at], 0)
        if depth == 0:
            return text[start:at]
    return None


class MathVerify(Verifier):
    @staticmethod
    def _timeout() -> int | None:
        # math-verify's timeout uses SIGALRM, which only the main thread may set; task threads run without it.
        return 5 if threading.current_thread() is threading.main_thread() else None

    def extract(self, response: str) -> Any | None:
        """A marked answer is parsed as it is or as LaTeX ($...$); a bare response is searched by math-verify."""
        found = final_answer(response)
        return self._parse(found.text) or (self._parse(f"${found.text}$") if found.marked else None) or None

    def _parse(self, text: str) -> list:
        from math_verify import parse

        return parse(text, parsing_timeout=self._timeout()) if text else []

    def agree(self, first: Any, second: Any) -> bool:
        from math_verify import verify as equivalent

        return bool(equivalent(first, second, timeout_seconds=self._timeout()))

    def gold(self, answer: str) -> Any:
        return self._parse(answer) or self._parse(f"${answer}$")

    def show(self, found: Any) -> str:
        return str(found[-1])


@dataclass(frozen=True)
class ReasoningGym(Verifier):
    dataset: str

    def extract(self, response: str) -> str | None:
        return final_answer(response).text or None

    def agree(self, first: str, second: str) -> bool:
        return normalise(first) == normalise(second)

    def score(self, found: str, row: Mapping[str, Any]) -> float:
        metadata = row.get("metadata") or "{}"
        entry = {
            "question": row.get("instruction"),
            "answer": row["answer"],
            "metadata": json.loads(metadata) if isinstance(metadata, str) else metadata,
        }
        return float(_generator(self.dataset).score_answer(found, entry))


@cache
def _generator(dataset: str) -> Any:
    """`score_answer` is a method of the generator; one small instance per dataset serves every row."""
    import reasoning_gym

    return reasoning_gym.create_dataset(dataset, size=1, seed=0)


class Exact(Verifier):
    def extract(self, response: str) -> str | None:
        return final_answer(response).text or None

    def agree(self, first: str, second: str) -> bool:
        return first == second

    def gold(self, answer: str) -> str:
        return answer.strip()


class Normalised(Verifier):
    def extract(self, response: str) -> str | None:
        return normalise(final_answer(response).text) or None

    def agree(self, first: str, second: str) -> bool:
        return first == second


_NUMBER = re.compile(
    r"(?<![\w.])([-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?(?:[eE][-+]?\d+)?|[-+]?\.\d+)(?:\s*/\s*(\d+)(?![\d.]))?"
)


def _number(match: re.Match) -> float:
    value = float(match.group(1).replace(",", ""))
    return value / int(match.group(2)) if match.group(2) and int(match.group(2)) else value


@dataclass(frozen=True)
class Numeric(Verifier):
    tolerance: float

    def extract(self, response: str) -> float | None:
        """The final answer's first number, or the response's last when nothing marks an answer (thousands
        separators and simple fractions understood)."""
        found = final_answer(response)
        numbers = list(_NUMBER.finditer(found.text))
        return _number(numbers[0] if found.marked else numbers[-1]) if numbers else None

    def agree(self, first: float, second: float) -> bool:
        return math.isclose(first, second, rel_tol=self.tolerance, abs_tol=self.tolerance)

    def show(self, found: float) -> str:
        return f"{found:g}"


_CHOICE = (
    re.compile(r"(?i:answer)(?:\s+is)?\s*[:\-]?\s*\(?\b([A-J])\b"),  # "Answer: B", "the answer is (C)"
    re.compile(r"(?<![\w(])\(?([A-Ja-j])\)"),  # "(B)", "b)"
    re.compile(r"^\s*\(?([A-Ja-j])\)?\s*[.:]?\s*$"),  # a lone "B" or "b."
)


class Choice(Verifier):
    def extract(self, response: str) -> str | None:
        """The option letter, by the most explicit pattern that occurs; the last occurrence of it."""
        text = final_answer(response).text
        for pattern in _CHOICE:
            found = pattern.findall(text)
            if found:
                return found[-1].upper()
        return None

    def agree(self, first: str, second: str) -> bool:
        return first == second


@dataclass(frozen=True)
class Regex(Verifier):
    pattern: re.Pattern

    def extract(self, response: str) -> str | None:
        found = list(self.pattern.finditer(response))
        if not found:
            return None
        last = found[-1]
        return ((last.group(1) if self.pattern.groups else last.group(0)) or "").strip()

    def agree(self, first: str, second: str) -> bool:
        return first == second

    def gold(self, answer: str) -> str:
        return answer.strip()
