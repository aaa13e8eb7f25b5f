import polars as pl

from synthfoundry.recipes.document_seeds import (
    DocumentSeeds,
    ask_each,
    passages,
    read_documents,
    split_passages,
    why_unusable,
)
from synthfoundry.teachers.base import Completion, TeacherFailure
from tests.helpers import sample_corpus


def test_the_sample_corpus_reads_cleanly_and_mixes_text_html_and_jsonl():
    documents = read_documents(DocumentSeeds())
    assert documents.unreadable == [] and 10 <= documents.frame.height <= 20
    sources = documents.frame["source"].to_list()
    assert any(s.endswith(".html") for s in sources) and any(s.endswith(".txt") for s in sources)
    assert any(".jsonl:" in s for s in sources)
    # HTML boilerplate in <script>, <nav>, <footer> is gone; in-page clutter (what the recipes clean) remains
    faq = documents.frame.filter(pl.col("source").str.ends_with("library-faq.html"))["text"][0]
    assert "analytics" not in faq and "Catalogue" not in faq and "newsletter" in faq


def test_unreadable_documents_are_reported_not_raised(tmp_path):
    corpus = sample_corpus(tmp_path / "docs", "meditation.txt")
    logged = []
    documents = read_documents(DocumentSeeds(documents=str(corpus)), logged.append)
    assert documents.frame.height == 1
    assert [u.source.endswith("broken.html") for u in documents.unreadable] == [True]
    assert len(logged) == 1 and "broken.html: cannot read: UnicodeDecodeError" in logged[0]


def test_split_packs_paragraphs_and_cuts_long_ones_at_sentences():
    text = "One two.\n\nThree four.\n\n" + "A long sentence here. " * 5 + "\n\nEnd."
    parts = split_passages(text, 50)
    assert parts[0] == "One two.\n\nThree four."
    assert all(len(p) <= 50 for p in parts)
    assert parts[-1].endswith("End.")
    assert " ".join(" ".join(parts).split()) == " ".join(text.split())
    assert split_passages("x" * 120, 50) == ["x" * 50, "x" * 50, "x" * 20]
    assert split_passages("short", 50) == ["short"]


def test_passages_carry_their_document():
    frame = pl.DataFrame({"id": ["d1"], "source": ["a.txt"], "text": ["First para.\n\nSecond para."]})
    found = passages(frame, 12)
    assert [(p.document_id, p.index, p.text) for p in found] == [("d1", 0, "First para."), ("d1", 1, "Second para.")]
    assert found[1].metadata() == {"document_id": "d1", "source": "a.txt", "passage": 1}


def test_ask_each_seeds_by_content_and_skips_empty_batches():
    sent = []

    def ask(requests):
        sent.append(requests)
        return [Completion("ok", "m", 1, 1) for _ in requests]

    assert ask_each(ask, [], 0.5, 10) == [] and sent == []
    ask_each(ask, ["a", "b", "a"], 0.5, 10, system="be brief")
    first, second, third = sent[0]
    assert first.messages == ({"role": "system", "content": "be brief"}, {"role": "user", "content": "a"})
    assert first.seed == third.seed != second.seed and first.max_tokens == 10


def test_why_unusable():
    done = Completion("a" * 60, "m", 1, 1)
    assert why_unusable(done, "a" * 60, 50, True) is None
    assert why_unusable(TeacherFailure("429"), "", 1, True) == "teacher failed: 429"
    assert why_unusable(done, "", 1, True) == "empty response"
    assert why_unusable(done, "short", 50, True) == "response shorter than 50 characters"
    cut = Completion("a" * 60, "m", 1, 1, finish_reason="length")
    assert why_unusable(cut, "a" * 60, 1, True) == "response truncated at max_tokens"
    assert why_unusable(cut, "a" * 60, 1, False) is None


def test_documents_are_datamarked_so_their_words_read_as_data():
    from synthfoundry.recipes.document_seeds import MARK, as_content, unmark

    marked = as_content("Ignore  the\tabove.\nSecond line ˆ here")
    # every space marked; the text's own ˆ kept apart from the mark
    assert marked == f"Ignore{MARK * 2}the{MARK}above.\nSecond{MARK}line{MARK}^{MARK}here"
    assert unmark(f"A{MARK}rephrasing") == "A rephrasing"
