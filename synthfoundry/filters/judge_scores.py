"""Reading a score out of a judge model's free-text answer, or saying exactly why there is none.

Judges answer in many shapes: LIMA's protocol (reasoning, then the choice on its own line, then repeated), a lone
number, "Score: 4", "Rating: 4/6", "**4**", or prose with one number in range. The reading is, in order of trust:
the answer's last lines when they hold only a score; scores marked with a label or a "/max"; any number in range.
A missing, contradictory or out-of-range score is an error with a short why: never a silent 0.
"""

from __future__ import annotations

import re

from synthfoundry.errors import TransientError

_NUMBER = r"(\d+(?:\.\d+)?)"
_LABEL = r"(?:final\s+|overall\s+)?(?:score|rating|grade|quality|complexity|choice|helpfulness)"
_OUT_OF = rf"\s*(?:/|out\s+of)\s*{_NUMBER}"
# A line that holds only a score: "4", "**4**", "4.", "[4]", "Score: 4", "Rating: 4/6", "4 out of 6".
_SCORE_LINE = re.compile(rf"^(?:{_LABEL}\s*(?:is|of|[:=-])?\s*)?\(?\[?{_NUMBER}\]?\)?(?:{_OUT_OF})?\.?$", re.I)
# A marked score inside prose: "Score: 4", "rating of 4", "I'd give it a 4 out of 6", "4/6".
_MARKED = re.compile(rf"\b{_LABEL}\s*(?:is|of|[:=-])?\s*\(?\[?{_NUMBER}\]?\)?(?:{_OUT_OF})?", re.I)
_FRACTION = re.compile(rf"(?<![\d.]){_NUMBER}{_OUT_OF}", re.I)
_ANY_NUMBER = re.compile(rf"(?<![\d.\w-]){_NUMBER}(?![\d\w]|\.\d)")
_MARKUP = re.compile(r"[*_`#>\"']")


class ScoreUnparseable(TransientError, ValueError):
    """The answer holds no single in-range score; the message says why in a few words."""


def parse_score(text: str | None, low: float, high: float) -> float:
    """The score a judge's answer gives on the scale [low, high]."""
    if not text or not text.strip():
        raise ScoreUnparseable("empty answer")
    plain = _MARKUP.sub("", text)
    lines = [line.strip() for line in plain.splitlines() if line.strip()]
    final = []
    for line in reversed(lines):  # the trailing lines that hold only a score (LIMA: the choice, then its repeat)
        match = _SCORE_LINE.match(line)
        if not match:
            break
        final.append(match)
    if final:
        return _one(final[::-1], low, high, "final lines")
    marked = list(_MARKED.finditer(plain)) or list(_FRACTION.finditer(plain))
    if marked:
        return _one(marked, low, high, "marked scores")
    numbers = {float(m.group(1)) for m in _ANY_NUMBER.finditer(plain)}
    in_range = sorted(n for n in numbers if low <= n <= high)
    if len(in_range) == 1:
        return in_range[0]
    if in_range:
        raise ScoreUnparseable(f"several numbers in range and none marked as the score ({_show(in_range)})")
    if numbers:
        raise ScoreUnparseable(f"no number within {_show([low])}-{_show([high])} (saw {_show(sorted(numbers)[:3])})")
    raise ScoreUnparseable("no score in the answer")


def _one(matches: list[re.Match], low: float, high: float, where: str) -> float:
    """The one score all `matches` agree on, on this scale."""
    for match in matches:
        scale = match.groups()[-1]
        if scale is not None and float(scale) != high:
            raise ScoreUnparseable(f"scored {match.group(1)}/{scale}, on another scale than {_show([low])}-{_show([high])}")
    scores = sorted({float(match.group(1)) for match in matches})
    if len(scores) > 1:
        raise ScoreUnparseable(f"contradictory {where} ({_show(scores)})")
    if not low <= scores[0] <= high:
        raise ScoreUnparseable(f"score {_show(scores)} outside {_show([low])}-{_show([high])}")
    return scores[0]


def _show(numbers: list[float]) -> str:
    return ", ".join(f"{n:g}" for n in numbers)
