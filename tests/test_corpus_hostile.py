"""Hostile and broken inputs: each file is ingested or skipped with its reason, the rest of the collection
survives, and pathological shapes (a 3 MB line full of full stops, 20,000 nested divs) finish."""

from __future__ import annotations

import time
import zipfile

import pytest

import helpers
from workbench import corpus


def test_a_parser_error_skips_that_file_alone(tmp_path, monkeypatch):
    good = tmp_path / "good.txt"
    good.write_text("The depot opened in 1990. It has 24 trams.")
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7 broken")

    def explode(*_args, **_kwargs):
        raise RuntimeError("LimitReachedError: decompression limit reached")  # as pypdf's own errors do

    monkeypatch.setattr(corpus, "load_pdf", explode)
    report = corpus.ingest_files([tmp_path])
    status = {d.source.rsplit("/", 1)[-1]: d for d in report.documents}
    assert status["good.txt"].status == "ingested" and report.passages
    assert status["bad.pdf"].status == "skipped" and "LimitReachedError" in status["bad.pdf"].reason


def test_a_docx_zip_bomb_is_refused_before_it_is_parsed(tmp_path):
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document>" + " " * (40 * 2**20) + "</w:document>")
    assert bomb.stat().st_size < 2**20
    with pytest.raises(corpus.DocumentSkipped, match="zip bomb"):
        corpus.load_document(bomb)
    report = corpus.ingest_files([bomb])
    assert report.documents[0].status == "skipped" and not report.passages


def test_a_long_line_of_full_stops_and_deep_html_finish(tmp_path):
    line = "Word. " * 500_000 + "x." * 200_000  # 3.4 MB on one line
    start = time.perf_counter()
    spans = corpus.sentence_spans(line)
    assert len(spans) >= 500_000 and time.perf_counter() - start < 60  # quadratic took minutes
    html = "<html><body>" + "<div>" * 20_000 + "Deep text here." + "</div>" * 20_000 + "</body></html>"
    start = time.perf_counter()
    text = corpus.html_to_text(html)
    assert "Deep text here." in text and time.perf_counter() - start < 60  # quadratic took two minutes


def test_html_keeps_main_text_and_block_breaks_without_chrome():
    html = ("<html><body><nav>Home | About</nav><div class='cookie-banner'>We use cookies</div>"
            "<main><h1>Depot</h1><p>The depot opened<br>in 1990.</p><p>It has 24 trams.</p>"
            "<script>var x = 1;</script><!-- a comment --></main><footer>Contact</footer></body></html>")
    text = corpus.html_to_text(html)
    assert "Home" not in text and "cookies" not in text and "Contact" not in text and "var x" not in text
    assert "a comment" not in text
    parts = [p.strip() for p in text.split("\n\n") if p.strip()]
    assert parts == ["Depot", "The depot opened in 1990.", "It has 24 trams."]


def test_a_file_that_stalls_its_reader_is_skipped_at_the_time_limit_and_the_rest_survives(tmp_path, monkeypatch):
    from workbench import timed_read

    (tmp_path / "good.txt").write_text("The depot opened in 1990. It has 24 trams.")
    (tmp_path / "stall.txt").write_text("This file stands for one that hangs a parser.")
    (tmp_path / "later.txt").write_text("The museum opened in 2015. It shows 12 trams.")
    monkeypatch.setattr(timed_read, "READER", helpers.stall_on_stall_files)
    start = time.perf_counter()
    report = corpus.ingest_files([tmp_path], seconds=5)
    assert time.perf_counter() - start < 60
    status = {d.source.rsplit("/", 1)[-1]: d for d in report.documents}
    assert status["stall.txt"].status == "skipped" and "longer than 5 s" in status["stall.txt"].reason
    assert status["good.txt"].status == "ingested" and status["later.txt"].status == "ingested"


def test_an_unchanged_file_is_not_read_again_and_a_changed_one_is(tmp_path, monkeypatch):
    from workbench import timed_read

    doc = tmp_path / "depot.txt"
    doc.write_text("The depot opened in 1990. It has 24 trams.")
    first = corpus.ingest_files([doc], seconds=30)
    monkeypatch.setattr(timed_read, "READER", helpers.refuse_to_read)
    again = corpus.ingest_files([doc], seconds=30)
    assert again.documents[0].status == "ingested" and again.passages[0].text == first.passages[0].text
    doc.write_text("The depot opened in 1991. It has 25 trams. It was rebuilt.")
    changed = corpus.ingest_files([doc], seconds=30)
    assert changed.documents[0].status == "skipped" and "read again" in changed.documents[0].reason


def _hostile_uploads(folder):
    """A collection a careless or hostile user might upload: every file is one of the shapes the app must survive."""
    import random

    rng = random.Random(7)
    folder.mkdir()
    (folder / "a").mkdir()
    (folder / "b").mkdir()
    files = {}

    def put(name, data, sub=None):
        path = (folder / sub / name) if sub else folder / name
        path.write_bytes(data)
        files.setdefault(name, []).append(path)

    put("good.md", b"# Depot\n\nThe Orrin depot opened in 1990. It held 24 trams.\n")
    for ext in corpus.SUPPORTED_SUFFIXES:  # random bytes under every accepted extension
        put(f"random{ext}", bytes(rng.randrange(256) for _ in range(5000)))
    put("broken.pdf", b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 2 0 R >>\nendobj\ntrailer <<>>\n%%EOF")
    broken_docx = folder / "broken.docx"
    with zipfile.ZipFile(broken_docx, "w") as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document><w:body><w:p>unclosed")
    bomb = folder / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr("word/document.xml", "<w:document>" + " " * (80 * 2**20) + "</w:document>")
    put("malformed.html", b"<html><body><p>The museum opened in 2015.<div><table><tr><td>12 trams</b></i>")
    put("nested.html", b"<html><body>" + b"<div>" * 20_000 + b"Deep text." + b"</div>" * 20_000 + b"</body></html>")
    put("nul.txt", b"The depot\x00 opened\x00 in 1990." * 50)
    put("one-line.txt", b"Word. " * (30 * 2**20 // 6))  # a 30 MB single line
    put("readme.txt", b"The first readme names the Vell Iron Works.\n", "a")
    put("readme.txt", b"The second readme names the Orrin depot.\n", "b")
    put("n" * 200 + ".txt", b"A document with a very long name opened in 2001.\n")
    return [p for paths in files.values() for p in paths] + [broken_docx, bomb]


def test_a_hostile_collection_is_each_ingested_or_skipped_with_a_reason_and_the_rest_survives(workspace, tmp_path):
    """Through the Data tab's own path (copy in, then read each file in a helper with its time limit)."""
    import warnings

    from workbench.timed_read import READ_SECONDS
    from workbench.ui import data as ui_data

    uploads = _hostile_uploads(tmp_path / "uploads")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the app's notices for renamed files
        added = ui_data.add_files(workspace, "hostile", [str(p) for p in uploads])
    assert len(added) == len(uploads)  # clashing names get numbers, the long one keeps its suffix
    start = time.perf_counter()
    report = ui_data.ingest_corpus(workspace, "hostile", "chars", 800, 100)
    elapsed = time.perf_counter() - start
    assert elapsed < READ_SECONDS * len(added)
    rows = {d.source: d for d in report.documents}
    assert len(rows) == len(added)
    for d in report.documents:
        assert d.status in ("ingested", "skipped")
        assert d.passages > 0 if d.status == "ingested" else d.reason, (d.source, d.status, d.reason)
    for name in ("good.md", "readme.txt", "readme (2).txt", "malformed.html", "nested.html", "one-line.txt"):
        assert rows[name].status == "ingested", (name, rows[name].reason)
    for name in ("random.pdf", "random.docx", "broken.pdf", "broken.docx", "bomb.docx", "nul.txt"):
        assert rows[name].status == "skipped", name
    assert "zip bomb" in rows["bomb.docx"].reason
    assert any("The Orrin depot opened in 1990" in p.text for p in report.passages)
