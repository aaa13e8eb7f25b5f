"""ROUGE-L novelty pool, as in Self-Instruct: rouge-score's LCS F1, exact, without comparing every pair.

Scoring a candidate against every pool member in Python costs ~335 µs a pair, hours at a pool of 10 k. Two facts
make it cheap and keep every score identical to `rouge_scorer._score_lcs`:
- the LCS of two token lists is at most the size of their token multiset intersection, which an inverted index
  gives for the whole pool in a few numpy additions; a member whose F1 bound cannot beat the best so far is skipped;
- the LCS of the few members left is computed bit-parallel on Python ints (Allison-Dix / Hyyrö), one big-int step
  per shared token instead of a len(a) x len(b) table.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Hashable, Iterable
from functools import cache

import numpy as np

# Distinct F1 values of texts this short differ by far more than this; it only absorbs float rounding of the bound.
_SLACK = 1e-9


@cache
def tokenizer() -> Callable[[str], list[str]]:
    """rouge-score's default tokenizer (lower-case alphanumeric runs, no stemming), imported on first use (~1 s)."""
    from rouge_score import tokenizers

    return tokenizers.DefaultTokenizer(use_stemmer=False).tokenize


def f_measure(lcs: int, target_length: int, prediction_length: int) -> float:
    """rouge-score's ROUGE-L F1 from an LCS length, with its exact float operations."""
    if not lcs:
        return 0.0
    precision, recall = lcs / prediction_length, lcs / target_length
    return 2 * precision * recall / (precision + recall)


def lcs_length(masks: dict[int, int], length: int, other: list[int]) -> int:
    """LCS of a token list given as its match masks (token -> bit i set where token i matches) and `other`."""
    full = (1 << length) - 1
    v = full
    for token in other:
        match = masks.get(token)
        if match:
            u = v & match
            v = ((v + u) | (v - u)) & full
    return length - v.bit_count()


class _Growable:
    """An int32 array with amortised O(1) append, so postings grow with the pool without copying each time."""

    __slots__ = ("data", "size")

    def __init__(self) -> None:
        self.data = np.empty(4, dtype=np.int32)
        self.size = 0

    def append(self, value: int) -> None:
        if self.size == len(self.data):
            self.data = np.concatenate([self.data, np.empty(len(self.data), dtype=np.int32)])
        self.data[self.size] = value
        self.size += 1

    def view(self) -> np.ndarray:
        return self.data[: self.size]


class RougePool:
    """Texts kept so far, tokenised and indexed once; `admit` checks a candidate against all of them.

    Members may carry a `group` (e.g. the prompt several samples answer): a candidate is never compared with
    members of its own group.
    """

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self._vocabulary: dict[str, int] = {}
        self._members: list[list[int]] = []
        self._lengths = _Growable()
        self._groups: dict[Hashable, int] = {}
        self._group_of = _Growable()  # member -> group code, -1 for none
        self._postings: list[tuple[_Growable, _Growable]] = []  # token -> (member ids, counts in the member)
        for text in texts:
            self.add(text)

    def __len__(self) -> int:
        return len(self._members)

    def _encode(self, text: str, grow: bool) -> list[int]:
        tokens = tokenizer()(text)
        vocabulary = self._vocabulary
        if grow:
            for token in tokens:
                if token not in vocabulary:
                    vocabulary[token] = len(vocabulary)
                    self._postings.append((_Growable(), _Growable()))
        return [vocabulary.get(token, -1) for token in tokens]

    def add(self, text: str, group: Hashable | None = None) -> None:
        tokens = self._encode(text, grow=True)
        member = len(self._members)
        self._members.append(tokens)
        self._lengths.append(len(tokens))
        self._group_of.append(-1 if group is None else self._groups.setdefault(group, len(self._groups)))
        for token, count in Counter(tokens).items():
            ids, counts = self._postings[token]
            ids.append(member)
            counts.append(count)

    def max_similarity(self, text: str, group: Hashable | None = None) -> float:
        """Highest ROUGE-L F1 between `text` and any pool member outside `group` (0.0 for an empty pool)."""
        tokens = self._encode(text, grow=False)
        if not tokens or not self._members:
            return 0.0
        shared = np.zeros(len(self._members), dtype=np.int32)
        masks: dict[int, int] = {}
        for position, token in enumerate(tokens):
            if token >= 0:
                masks[token] = masks.get(token, 0) | (1 << position)
        for token, mask in masks.items():
            ids, counts = self._postings[token]
            shared[ids.view()] += np.minimum(counts.view(), mask.bit_count())
        bound = 2.0 * shared / (len(tokens) + self._lengths.view())
        if group in self._groups:
            bound[self._group_of.view() == self._groups[group]] = 0.0
        best = 0.0
        candidates = np.flatnonzero(bound > _SLACK)
        for member in candidates[np.argsort(-bound[candidates], kind="stable")]:
            if bound[member] <= best + _SLACK:
                break
            other = self._members[member]
            best = max(best, f_measure(lcs_length(masks, len(tokens), other), len(other), len(tokens)))
        return best

    def admit(self, text: str, threshold: float, group: Hashable | None = None) -> float:
        """Return the max similarity; the text joins the pool only when it is at or below `threshold`."""
        score = self.max_similarity(text, group)
        if score <= threshold:
            self.add(text, group)
        return score
