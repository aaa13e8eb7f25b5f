"""MinHash signatures of word n-gram shingles and a greedy LSH near-duplicate pass (datasketch), for long texts.

Signatures are plain uint32 arrays (datasketch 2's "affine32" scheme) so they can be stored beside the rows they describe: a later run rebuilds the
LSH of everything published from the stored signatures instead of re-hashing the texts.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Sequence

import numpy as np

_WORD = re.compile(r"\w+")
SCHEME = "affine32"
SEED = 1


def shingles(text: str, n: int) -> set[bytes]:
    """Word n-grams of the lower-cased text; a text shorter than `n` words is one shingle."""
    words = _WORD.findall(text.lower())
    if len(words) <= n:
        return {" ".join(words).encode()} if words else set()
    return {" ".join(words[i : i + n]).encode() for i in range(len(words) - n + 1)}


def signatures(texts: Sequence[str], n: int, num_perm: int) -> np.ndarray:
    """One MinHash signature (num_perm uint32 values) per text; an empty text gets the empty set's signature."""
    from datasketch import MinHash

    out = np.empty((len(texts), num_perm), dtype=np.uint32)
    permutations = MinHash(num_perm=num_perm, seed=SEED, scheme=SCHEME).permutations
    for row, text in enumerate(texts):
        minhash = MinHash(num_perm=num_perm, seed=SEED, permutations=permutations, scheme=SCHEME)
        minhash.update_batch(list(shingles(text, n)))
        out[row] = minhash.hashvalues
    return out


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """Jaccard similarity estimated from two signatures: the fraction of equal values."""
    return float(np.mean(a == b))


class NearDuplicates:
    """An LSH over kept signatures: `admit` drops a signature whose estimated Jaccard to a comparable member is
    above the threshold, and otherwise adds it. Members of the candidate's own group are never compared."""

    def __init__(self, threshold: float, num_perm: int) -> None:
        from datasketch import MinHashLSH

        self.threshold = threshold
        self._lsh = MinHashLSH(threshold=threshold, num_perm=num_perm)
        self._members: list[tuple[np.ndarray, Hashable | None]] = []

    def __len__(self) -> int:
        return len(self._members)

    def add(self, signature: np.ndarray, group: Hashable | None = None) -> None:
        self._lsh.insert(len(self._members), _lean(signature), check_duplication=False)
        self._members.append((signature, group))

    def nearest(self, signature: np.ndarray, group: Hashable | None = None) -> float:
        """Highest estimated Jaccard to an LSH candidate outside `group` (0.0 when none)."""
        best = 0.0
        for key in self._lsh.query(_lean(signature)):
            other, other_group = self._members[key]
            if group is None or other_group != group:
                best = max(best, jaccard(signature, other))
        return best

    def admit(self, signature: np.ndarray, group: Hashable | None = None) -> float:
        score = self.nearest(signature, group)
        if score <= self.threshold:
            self.add(signature, group)
        return score


def _lean(signature: np.ndarray):
    from datasketch import LeanMinHash

    return LeanMinHash(seed=SEED, hashvalues=signature, scheme=SCHEME)
