from synthfoundry.filters.rouge import RougePool


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


def test_empty_pool_scores_zero():
    assert RougePool().max_similarity("anything at all") == 0.0
