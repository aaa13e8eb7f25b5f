import functools
import http.server
import threading

import polars as pl

from synthfoundry.documents import html_to_text, load_documents


def make_corpus(root):
    (root / "sub").mkdir()
    (root / "page.html").write_text(
        "<html><head><title>t</title><style>p{}</style></head><body><h1>Title</h1>"
        "<p>Tea &amp; cake</p><script>track()</script></body></html>"
    )
    (root / "sub" / "note.txt").write_text("A plain   note.\n\n\n\nSecond paragraph.")
    (root / "rows.jsonl").write_text('{"text": "from jsonl"}\nnot json\n{"body": "wrong field"}\n')
    (root / "binary.txt").write_bytes(b"\xff\xfe\x00bad")
    pl.DataFrame({"text": ["from parquet", "from parquet"]}).write_parquet(root / "table.parquet")


def test_folder_of_mixed_documents_skips_and_reports_bad_ones(tmp_path):
    make_corpus(tmp_path)
    docs = load_documents(str(tmp_path))
    texts = docs.frame["text"].to_list()
    assert texts == ["Title\n\nTea & cake", "from jsonl", "A plain note.\n\nSecond paragraph.", "from parquet"]
    problems = {u.source.replace(str(tmp_path), ""): u.reason for u in docs.unreadable}
    assert problems["/rows.jsonl:2"].startswith("invalid JSON")
    assert "missing or not a string" in problems["/rows.jsonl:3"]
    assert "UnicodeDecodeError" in problems["/binary.txt"]
    ledger = docs.ledger("synthesis")
    assert ledger.height == 3 and ledger["reason"].str.starts_with("unreadable document").all()


def test_fsspec_url_glob_and_limit(tmp_path):
    make_corpus(tmp_path)
    assert load_documents(f"file://{tmp_path}/*.jsonl").frame["text"].to_list() == ["from jsonl"]
    assert load_documents(str(tmp_path), limit=2).frame.height == 2


def test_missing_source_is_reported_not_raised(tmp_path):
    docs = load_documents(str(tmp_path / "absent"))
    assert docs.frame.height == 0 and "No such file" in docs.unreadable[0].reason


def test_parquet_without_the_text_column(tmp_path):
    pl.DataFrame({"body": ["x"]}).write_parquet(tmp_path / "t.parquet")
    docs = load_documents(str(tmp_path / "t.parquet"))
    assert docs.frame.height == 0 and "no column 'text'" in docs.unreadable[0].reason


def test_html_to_text_drops_markup():
    assert html_to_text("<div>a<br>b</div><noscript>x</noscript>") == "a\nb"


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def test_documents_from_a_loopback_http_url(tmp_path):
    (tmp_path / "bread.txt").write_text("Bread dough rises because yeast ferments sugars into carbon dioxide gas.")
    (tmp_path / "docs.jsonl").write_text('{"text": "Compound interest grows a balance on its interest too."}\n')
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(tmp_path)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    origin = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        text = load_documents(f"{origin}/bread.txt")
        rows = load_documents(f"{origin}/docs.jsonl")
        missing = load_documents(f"{origin}/missing.txt")
    finally:
        server.shutdown()
    assert text.frame["text"].to_list() == ["Bread dough rises because yeast ferments sugars into carbon dioxide gas."]
    assert rows.frame["source"].to_list() == [f"{origin}/docs.jsonl:1"]
    assert missing.frame.height == 0 and missing.unreadable[0].reason.startswith("cannot read: FileNotFoundError")

