import json
import random
from pathlib import Path

import pytest
from rouge_score import rouge_scorer

import synthfoundry
from synthfoundry.similarity.rouge import RougePool, tokenizer

GSM8K = Path(synthfoundry.__file__).parent / "seeds" / "gsm8k" / "train.jsonl"


def gsm8k_questions(n):
    with GSM8K.open() as lines:
        return [json.loads(line)["question"] for line, _ in zip(lines, range(n))]


def perturbed(text, rng):
    words = text.split()
    for _ in range(rng.randint(1, 4)):
        del words[rng.randrange(len(words))]
    return " ".join(words)


def test_identical_text_scores_one_and_is_not_admitted():
    pool = RougePool(["Write a poem about the sea."])
    assert pool.max_similarity("Write a poem about the sea.") == 1.0
    assert pool.admit("Write a poem about the sea.", 0.7) == 1.0
    assert len(pool) == 1


def test_novel_text_is_admitted_and_then_blocks_its_copy():
    pool = RougePool(["Write a poem about the sea."])
    score = pool.admit("List three prime numbers greater than one hundred.", 0.7)
    assert score < 0.3
    assert len(pool) == 2
    assert pool.admit("List three prime numbers greater than one hundred!", 0.7) == 1.0


def test_threshold_boundary_uses_rouge_l_f1():
    # 4 of 5 tokens in common, in order: P = R = 0.8, F1 = 0.8
    pool = RougePool(["a b c d e"])
    assert abs(pool.max_similarity("a b c d x") - 0.8) < 1e-9
    assert pool.admit("a b c d y", 0.7) > 0.7 and len(pool) == 1
    assert pool.admit("a b c d x", 0.81) < 0.81 and len(pool) == 2


def test_order_matters_as_in_lcs_not_bag_of_words():
    # same tokens, reversed: the multiset bound is 1.0 but the LCS is 1 token of 4
    assert RougePool(["a b c d"]).max_similarity("d c b a") == rouge_scorer._score_lcs(list("abcd"), list("dcba")).fmeasure


@pytest.mark.parametrize("text", ["", "!!! ...", "   "])
def test_texts_without_tokens_score_zero_and_match_nothing(text):
    pool = RougePool(["Write a poem about the sea.", text])
    assert pool.max_similarity(text) == 0.0
    assert pool.max_similarity("Write a poem") > 0


def test_empty_pool_scores_zero():
    assert RougePool().max_similarity("anything at all") == 0.0


def test_scores_equal_rouge_score_on_gsm8k_questions_and_their_perturbations():
    """Same tokenizer, same float operations: the max over the pool is bit-identical to pairwise rouge-score."""
    rng = random.Random(0)
    questions = gsm8k_questions(80)
    pool_texts = questions[:50] + [perturbed(q, rng) for q in questions[:20]]
    pool = RougePool(pool_texts)
    references = [tokenizer()(text) for text in pool_texts]
    candidates = questions[50:] + [perturbed(q, rng) for q in questions[:20]] + questions[20:30]
    for candidate in candidates:
        tokens = tokenizer()(candidate)
        expected = max(rouge_scorer._score_lcs(ref, tokens).fmeasure for ref in references)
        assert pool.max_similarity(candidate) == expected


def test_admitting_in_order_makes_the_same_decisions_as_pairwise_rouge_score():
    rng = random.Random(1)
    questions = gsm8k_questions(40)
    stream = [text for q in questions for text in (q, perturbed(q, rng))]
    rng.shuffle(stream)
    pool, references, expected, got = RougePool(), [], [], []
    for text in stream:
        tokens = tokenizer()(text)
        best = max((rouge_scorer._score_lcs(ref, tokens).fmeasure for ref in references), default=0.0)
        if best <= 0.7:
            references.append(tokens)
        expected.append(best <= 0.7)
        got.append(pool.admit(text, 0.7) <= 0.7)
    assert got == expected
    assert 0.3 < sum(got) / len(got) < 0.9  # both decisions occur


def test_members_of_the_candidates_group_are_not_compared():
    pool = RougePool()
    pool.add("Write a poem about the sea.", group="prompt-1")
    assert pool.max_similarity("Write a poem about the sea.", group="prompt-1") == 0.0
    assert pool.max_similarity("Write a poem about the sea.", group="prompt-2") == 1.0
    assert pool.max_similarity("Write a poem about the sea.") == 1.0
    assert pool.admit("Write a poem about the sea.", 0.7, group="prompt-1") == 0.0 and len(pool) == 2
