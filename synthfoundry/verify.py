"""Score a candidate response against a row's ground truth with the row's own verifier.

Published maths and RLVR rows carry `answer` and `verifier`, so a trainer (or the correctness filter) can check a
policy's response without knowing which recipe made the row:

    from synthfoundry.verify import verify
    reward = verify(completion_text, row).score        # row: a published row as a dict

Verifiers: "math_verify" (symbolic equivalence of the response's final answer with `answer`) and
"reasoning_gym:<dataset>" (that generator's own `score_answer`, which may also read the row's `metadata`).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

MATH_VERIFY = "math_verify"
REASONING_GYM = "reasoning_gym:"


@dataclass(frozen=True)
class Verdict:
    score: float  # 1.0 right, 0.0 wrong; a few reasoning-gym tasks give partial credit
    extracted: str | None  # the final answer read from the response; None when there was none


def verify(response: str, row: Mapping[str, Any]) -> Verdict:
    """Score `response` against `row["answer"]` with `row["verifier"]`."""
    verifier = row["verifier"] or ""
    if verifier == MATH_VERIFY:
        return _math_verify(response, row["answer"])
    if verifier.startswith(REASONING_GYM):
        return _reasoning_gym(verifier.removeprefix(REASONING_GYM), response, row)
    raise ValueError(f"unknown verifier {verifier!r} (known: {MATH_VERIFY!r}, '{REASONING_GYM}<dataset>')")


def _math_verify(response: str, answer: str) -> Verdict:
    from math_verify import parse, verify as equivalent

    # math-verify's timeout uses SIGALRM, which only the main thread may set; task threads run without it.
    timeout = 5 if threading.current_thread() is threading.main_thread() else None
    found = parse(response, parsing_timeout=timeout)
    if not found:
        return Verdict(0.0, None)
    gold = parse(answer, parsing_timeout=timeout)
    return Verdict(float(equivalent(gold, found, timeout_seconds=timeout)), str(found[-1]))


def _reasoning_gym(dataset: str, response: str, row: Mapping[str, Any]) -> Verdict:
    """The answer is the last <answer>...</answer> block when there is one (reasoning-gym's convention), else
    the whole response."""
    from reasoning_gym.utils import extract_answer

    candidate = extract_answer(response)
    candidate = response.strip() if candidate is None else candidate
    metadata = row.get("metadata") or "{}"
    entry = {
        "question": row.get("instruction"),
        "answer": row["answer"],
        "metadata": json.loads(metadata) if isinstance(metadata, str) else metadata,
    }
    return Verdict(float(_generator(dataset).score_answer(candidate, entry)), candidate)


@lru_cache(maxsize=None)
def _generator(dataset: str) -> Any:
    """`score_answer` is a method of the generator; one small instance per dataset serves every row."""
    import reasoning_gym

    return reasoning_gym.create_dataset(dataset, size=1, seed=0)
