import polars as pl

from synthfoundry.ledger import by_source, by_stage, kinds, top_reasons
from synthfoundry.stages import LEDGER_SCHEMA


def ledger(*entries):
    """(stage, reason) pairs as ledger rows, texts t0, t1, ..."""
    rows = [{"id": str(i), "stage": stage, "reason": reason, "score": None, "text": f"t{i}"}
            for i, (stage, reason) in enumerate(entries)]
    return pl.DataFrame(rows, schema=LEDGER_SCHEMA)


def test_a_kind_masks_standalone_numbers_only():
    rejected = ledger(
        ("diversity", "cosine 0.953 > 0.9 to a published row"), ("diversity", "cosine 0.97 > 0.9 to a published row"),
        ("decontamination", "gsm8k: item 12 shares a 13-gram"), ("decontamination", "gsm8k: item 40 shares a 13-gram"),
    )
    found = kinds(rejected)
    assert found.to_dicts() == [
        {"stage": "decontamination", "kind": "gsm8k: item # shares a #-gram", "rows": 2},
        {"stage": "diversity", "kind": "cosine # > # to a published row", "rows": 2},
    ]


def test_by_stage_keeps_each_stages_top_kinds_and_sums_the_rest_with_examples():
    rejected = ledger(("judge", "score 1"), ("judge", "too long"), ("judge", "too long"), ("judge", "empty"),
                      ("rouge", "rouge-L 0.8 > 0.7"))
    grouped = by_stage(rejected, examples=1, top=1)
    assert [(g["stage"], g["kind"], g["rows"]) for g in grouped] == [
        ("judge", "too long", 2), ("judge", "(2 other reasons)", 2), ("rouge", "rouge-L # > #", 1)]
    assert grouped[0]["examples"] == [{"reason": "too long", "text": "t1"}]
    assert by_stage(ledger()) == []


def test_top_reasons_is_one_line_most_first():
    rejected = ledger(("judge", "too long"), ("rouge", "rouge-L 0.8 > 0.7"), ("rouge", "rouge-L 0.9 > 0.7"))
    assert top_reasons(rejected, limit=1) == "rouge: rouge-L # > # (2)"
    assert top_reasons(ledger()) == "nothing was dropped"


def test_by_source_counts_the_text_before_the_first_colon():
    rejected = ledger(*[("decontamination", r) for r in ["gsm8k: item 3 ...", "gsm8k: item 9 ...", "math: item 1 ...",
                                                         "no colon"]])
    assert by_source(rejected) == {"gsm8k": 2, "math": 1}
    assert by_source(rejected, top=1) == {"gsm8k": 2}
