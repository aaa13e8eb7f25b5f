import json

import polars as pl
import pytest
from pydantic import ValidationError

from synthfoundry.recipes import mammoth2 as m2
from synthfoundry.recipes.document_seeds import read_documents
from synthfoundry.teachers.base import Completion, TeacherFailure
from tests.helpers import assert_accounted, run_recipe, sample_corpus


def completion(text, finish_reason="stop"):
    return Completion(text=text, model="teacher-m", prompt_tokens=10, completion_tokens=5,
                      finish_reason=finish_reason, provider="openai")


def test_prompts_show_the_document_and_the_pair():
    extract = m2.render_extract("Q: Why?\nA: Because.")
    assert "Q: <the question>\nA: <its answer>" in extract and "Web page:\n<document>\nQ: Why?\nA: Because.\n</document>\n\nThe text between" in extract
    refine = m2.render_refine(m2.Pair("What is 2 + 2?", "4"))
    assert "add any missing steps" in refine and refine.endswith("Question: What is 2 + 2?\n\nAnswer: 4\n")


def test_recall_counts_question_like_patterns_in_the_sample_corpus():
    documents = read_documents(m2.Config()).frame
    scores = {source.rsplit("/", 1)[-1]: m2.recall_matches(text, m2.DEFAULT_RECALL_PATTERNS)
              for source, text in documents.select("source", "text").iter_rows()}
    assert scores["library-faq.html"] >= 8 and scores["word-problems.txt"] >= 6
    assert scores["meditation.txt"] == 0 and scores["tea-blog.html"] == 0


def test_recall_patterns_are_validated():
    with pytest.raises(ValidationError, match="not a valid regular expression"):
        m2.Config(recall_patterns=["(unclosed"])
    assert m2.recall_matches("Problem 1. Add.\nSolution: 2", (r"^problem",)) == 1


@pytest.mark.parametrize(
    ("reply", "pairs"),
    [
        ("Q: Who can get a card?\nA: Anyone in the county.\n\nQ: How many items?\nA: Up to 30.",
         [("Who can get a card?", "Anyone in the county."), ("How many items?", "Up to 30.")]),
        ("Here are the pairs:\n**Question:** What is 2 + 2?\n**Answer:** 4\nwith the working\n- shown here",
         [("What is 2 + 2?", "4\nwith the working\n- shown here")]),
        ("Problem 1. A train goes 180 km in 2 h. Speed?\nSolution: 90 km/h.",
         [("A train goes 180 km in 2 h. Speed?", "90 km/h.")]),
        ("**Question**\nHow do I renew?\n\n**Answer**\nOnline.", [("How do I renew?", "Online.")]),
        ("Q: Twice?\nA: first\nA: second", [("Twice?", "first")]),  # a second answer is ignored
        ("A: an answer with no question\nQ: a question with no answer", []),
        ("NONE", []),
        ("Q: NONE\nA: NONE", []),
        ("The page has menus and ads only.", []),
        ("", []),
    ],
)
def test_parse_pairs(reply, pairs):
    assert [(p.question, p.answer) for p in m2.parse_pairs(reply)] == pairs


def test_parse_pairs_keeps_one_pair_per_question():
    assert len(m2.parse_pairs("Q: Why?\nA: One.\nQ: Why?\nA: Two.")) == 1


def test_clean_refined_drops_a_leading_label():
    assert m2.clean_refined("Improved answer: First, divide.\nAnswer: 90") == "First, divide.\nAnswer: 90"
    assert m2.clean_refined("  A: 90 km/h  ") == "90 km/h"


DOCUMENTS = pl.DataFrame({
    "id": ["faq", "essay", "forum", "broken-teacher"],
    "source": ["faq.html", "essay.txt", "forum.html", "x.html"],
    "text": [
        "Q: Who can get a card?\nA: Anyone.\nQ: How long is a loan?\nA: Three weeks.",
        "A calm essay about the sea. It has no questions at all.",
        "How do I reverse a list? Is there a method? Thanks!",
        "Question: why? Answer: because?",
    ],
})


def teacher(requests):
    replies = []
    for request in requests:
        prompt = request.messages[-1]["content"]
        if "Who can get a card?" in prompt and "Web page:" in prompt:
            replies.append(completion("Q: Who can get a card?\nA: Anyone.\nQ: How long is a loan?\nA: Three weeks."))
        elif "Web page:" in prompt and "reverse a list" in prompt:
            replies.append(completion("NONE"))
        elif "Web page:" in prompt:
            replies.append(TeacherFailure("APITimeoutError"))
        elif "Who can get a card?" in prompt:
            replies.append(completion("Answer: Anyone who lives, works or studies in the county; bring photo ID."))
        else:
            replies.append(completion("Loans last three", finish_reason="length"))
    return replies


def test_extract_and_refine_accounts_for_every_document():
    result = m2.extract_and_refine(m2.Config(), DOCUMENTS, teacher)
    assert result.counts == {"in": 5, "kept": 1, "dropped": 4}
    reasons = dict(zip(result.dropped["text"].to_list(), result.dropped["reason"].to_list()))
    assert reasons[DOCUMENTS["text"][1]] == "not instruction-like: fewer than 2 recall-pattern matches"
    assert result.dropped.filter(pl.col("id") == "essay")["score"].to_list() == [0.0]  # its recall-pattern matches
    assert reasons[DOCUMENTS["text"][2]] == "no Q/A found"
    assert reasons[DOCUMENTS["text"][3]] == "teacher failed: APITimeoutError"
    assert reasons["How long is a loan?"] == "response truncated at max_tokens"
    row = result.kept.row(0, named=True)
    assert row["instruction"] == "Who can get a card?"
    assert row["response"] == "Anyone who lives, works or studies in the county; bring photo ID."
    metadata = json.loads(row["metadata"])
    assert metadata == {"document_id": "faq", "source": "faq.html", "passage": 0, "extracted_answer": "Anyone."}
    assert row["seed_ids"] == ["faq"] and row["teacher_model"] == "teacher-m" and row["teacher_provider"] == "openai"
    assert row["decisions"] == [{"stage": "synthesis", "score": 6.0}]  # the document's recall-pattern matches


def test_truncated_refinements_can_be_kept_and_recall_can_be_switched_off():
    config = m2.Config(drop_truncated=False, recall_min_matches=0)
    result = m2.extract_and_refine(config, DOCUMENTS, teacher)
    assert result.counts["kept"] == 2
    assert "not instruction-like" not in " ".join(result.dropped["reason"])


@pytest.mark.usefixtures("prefect_harness")
def test_run_with_the_local_model_publishes_refined_pairs(tmp_path):
    corpus = sample_corpus(tmp_path / "docs", "library-faq.html", "compound-interest.html", "meditation.txt")
    recipe = {"name": "mammoth2", "documents": str(corpus), "max_tokens": 96, "refine_max_tokens": 64,
              "drop_truncated": False}
    published = run_recipe(tmp_path, recipe)
    assert_accounted(published)
    assert published.data.height >= 1
    reasons = published.ledger.filter(pl.col("stage") == "synthesis")["reason"].to_list()
    assert any(r.startswith("not instruction-like") for r in reasons)  # meditation.txt
    assert any(r.startswith("unreadable document") for r in reasons)  # broken.html
    for row in published.data.to_dicts():
        assert "extracted_answer" in json.loads(row["metadata"])
        assert row["teacher_provider"] == "local" and row["response"]
