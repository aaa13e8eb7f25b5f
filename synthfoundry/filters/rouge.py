"""ROUGE-L novelty against a growing pool, as in Self-Instruct: a candidate too similar to anything kept is dropped."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import cache


@cache
def _rouge() -> tuple[Callable[[str], list[str]], Callable]:
    """rouge-score's tokenizer and LCS scorer, imported on first use (rouge_score imports nltk: ~1 s)."""
    from rouge_score import rouge_scorer, tokenizers

    return tokenizers.DefaultTokenizer(use_stemmer=False).tokenize, rouge_scorer._score_lcs


class RougePool:
    """Texts kept so far, tokenised once; `admit` checks a candidate against all of them and adds it if novel."""

    def __init__(self, texts: Iterable[str] = ()) -> None:
        self._tokens: list[list[str]] = []
        for text in texts:
            self.add(text)

    def __len__(self) -> int:
        return len(self._tokens)

    def add(self, text: str) -> None:
        tokenize, _ = _rouge()
        self._tokens.append(tokenize(text))

    def max_similarity(self, text: str) -> float:
        """Highest ROUGE-L F1 between `text` and any pool member (0.0 for an empty pool)."""
        tokenize, score_lcs = _rouge()
        tokens = tokenize(text)
        return max((score_lcs(ref, tokens).fmeasure for ref in self._tokens), default=0.0)

    def admit(self, text: str, threshold: float) -> float:
        """Return the max similarity; the text joins the pool only when it is at or below `threshold`."""
        score = self.max_similarity(text)
        if score <= threshold:
            self.add(text)
        return score
