"""Ingestion: every file type, every kind of bad input, cleaning, sentence splitting and chunking."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from workbench import corpus
from workbench.corpus import DocumentSkipped

SAMPLE = Path(__file__).resolve().parents[1] / "assets" / "sample_corpus"


# fixtures written by the tests -------------------------------------------------------------------

def make_pdf(path: Path, pages: list[list[str]], header: str | None = None, footer: bool = False) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for n, lines in enumerate(pages, 1):
        if header:
            c.drawString(72, 800, header)
        y = 760
        for line in lines:
            c.drawString(72, y, line)
            y -= 16
        if footer:
            c.drawString(280, 40, f"Page {n} of {len(pages)}")
        c.showPage()
    c.save()
    return path


def make_scanned_pdf(path: Path) -> Path:
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    c = canvas.Canvas(str(path), pagesize=A4)
    for _ in range(2):
        c.rect(72, 300, 400, 400, fill=1)  # an "image" of a page: shapes, no text layer
        c.showPage()
    c.save()
    return path


def make_docx(path: Path) -> Path:
    import docx

    d = docx.Document()
    d.sections[0].header.paragraphs[0].text = "CONFIDENTIAL DRAFT"
    d.add_heading("Ferrier Bridge", level=1)
    d.add_paragraph("The Ferrier Bridge opened in May 2013. It is 280 metres long.")
    table = d.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Year", "Crossings per weekday"
    table.cell(1, 0).text, table.cell(1, 1).text = "2019", "7,000"
    d.save(str(path))
    return path


# file types ----------------------------------------------------------------------------------------

def test_txt_and_markdown(tmp_path: Path):
    (tmp_path / "a.txt").write_text("The docks closed in 1987.\nUnemployment rose to 19 per cent.\n", encoding="utf-8")
    (tmp_path / "b.md").write_text("# Title\n\nSome **bold** text with [a link](http://example.org).\n\n"
                                   "1. First point.\n2. Second point.\n", encoding="utf-8")
    a = corpus.load_document(tmp_path / "a.txt")
    b = corpus.load_document(tmp_path / "b.md")
    assert a.kind == "text" and a.text == "The docks closed in 1987. Unemployment rose to 19 per cent."
    assert b.kind == "markdown"
    assert b.text == "Title\n\nSome bold text with a link.\n\nFirst point.\n\nSecond point."


def test_html_keeps_main_text_only():
    doc = corpus.load_document(SAMPLE / "03_public_spaces.html")
    assert doc.kind == "html"
    assert doc.text.startswith("Public spaces along the water\n\nCanal Park is the largest new public space")
    for chrome in ("analytics", "font-family", "Contact us", "cookies", "Related pages", "All rights reserved",
                   "console.log"):
        assert chrome not in doc.text
    assert "opened to the public on 21 June 2012." in doc.text  # a line break inside <p> became a space


def test_pdf_text_layer_margins_and_hyphenation(tmp_path: Path):
    pages = [
        ["The Eastwharf docks closed in 1987 after the container trade moved down-",
         "river. The council approved a renewal plan in 1998."],
        ["The tram opened on 12 September 2009 and carried 5.8 million people in its",
         "first full year. The regener-", "ation of the docks took twenty years."],
        ["Canal Park covers 18 hectares and opened in 2012."],
        ["The corporation was wound up on 31 March 2023."],
    ]
    pdf = make_pdf(tmp_path / "review.pdf", pages, header="Vellmouth Annual Review", footer=True)
    doc = corpus.load_document(pdf)
    assert doc.kind == "pdf" and len(doc.page_starts) == 4
    assert "Vellmouth Annual Review" not in doc.text and "Page 2 of 4" not in doc.text
    assert "downriver." in doc.text and "The regeneration of the docks took twenty years." in doc.text
    assert any("header/footer" in w for w in doc.warnings)
    passages = corpus.chunk_document(doc, "sentences", 1, 0)
    by_text = {p.text: p.page for p in passages}
    assert by_text["Canal Park covers 18 hectares and opened in 2012."] == 3
    assert by_text["The corporation was wound up on 31 March 2023."] == 4


def test_docx_paragraphs_and_tables_without_page_header(tmp_path: Path):
    doc = corpus.load_document(make_docx(tmp_path / "bridge.docx"))
    assert doc.kind == "docx"
    assert "The Ferrier Bridge opened in May 2013." in doc.text
    assert "2019 | 7,000" in doc.text
    assert "CONFIDENTIAL" not in doc.text


@pytest.mark.parametrize("encoding,text", [
    ("cp1252", "The caf\u00e9 on Wharf Street reopened in 2004 \u2014 \u201cthe heart of the district\u201d, "
               "said the mayor. Na\u00efve d\u00e9j\u00e0 vu."),
    ("latin-1", "Le quartier \u00e9tait en d\u00e9clin; la r\u00e9novation a commenc\u00e9 en 1998 \u00e0 l'est. "
                "Tr\u00e8s bien, o\u00f9 est le caf\u00e9? \u00c7a va."),
    ("gb18030", "\u57ce\u5e02\u66f4\u65b0\u8ba1\u5212\u4e8e1998\u5e74\u83b7\u5f97\u6279\u51c6\u3002"
                "\u65b0\u5efa\u4f4f\u5b85\u51714800\u5957\u3002\u6e2f\u53e3\u533a\u57df\u5360\u5730240"
                "\u516c\u9877\u3002"),
    ("utf-8-sig", "A file saved with a byte-order mark: caf\u00e9, 2009."),
    ("utf-16", "Saved as UTF-16 with a byte-order mark: \u57ce\u5e02 and caf\u00e9."),
])
def test_legacy_encodings(tmp_path: Path, encoding: str, text: str):
    path = tmp_path / "legacy.txt"
    path.write_bytes(text.encode(encoding))
    decoded, _ = corpus.read_text_file(path)
    assert decoded.lstrip("\ufeff") == text


@pytest.mark.parametrize("order", ["little", "big"])
def test_random_bytes_behind_a_utf16_mark_are_skipped_not_read_as_text(tmp_path: Path, order: str):
    import random
    path = tmp_path / "junk.txt"
    bom = b"\xff\xfe" if order == "little" else b"\xfe\xff"
    for seed in range(20):
        rng = random.Random(seed)
        # random code units that all decode (no surrogates, no NUL byte): mojibake unless refused
        units = [u for u in (rng.randrange(0x0101, 0xFFFF) for _ in range(3000))
                 if not 0xD800 <= u <= 0xDFFF and u & 0xFF and u >> 8][:2000]
        path.write_bytes(bom + b"".join(u.to_bytes(2, order) for u in units))
        with pytest.raises(corpus.DocumentSkipped, match="not readable text"):
            corpus.read_text_file(path)


def test_streamed_reading_across_block_boundaries(tmp_path: Path):
    text = "a" + "\u00e9\u57ce" * (corpus.READ_BLOCK // 2)  # multi-byte characters cut by every 1 MB block
    path = tmp_path / "big.txt"
    path.write_text(text, encoding="utf-8")
    decoded, encoding = corpus.read_text_file(path)
    assert encoding == "utf-8" and decoded == text


# bad input -----------------------------------------------------------------------------------------

def test_bad_inputs_are_skipped_with_reasons_and_the_rest_survives(tmp_path: Path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "good.txt").write_text("The Vell Line tram opened on 12 September 2009. It has 11 stops.\n")
    (folder / "empty.txt").write_bytes(b"")
    (folder / "image.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(200))
    make_scanned_pdf(folder / "scan.pdf")
    (folder / "fake.pdf").write_text("this is not a pdf")
    (folder / "photo.png").write_bytes(b"\x89PNG")
    (folder / "broken.docx").write_bytes(b"PK\x03\x04 not really a zip")
    rng = random.Random(0)
    (folder / "noise.txt").write_bytes(bytes(rng.randrange(0x80, 0x100) for _ in range(4000)))
    with open(folder / "huge.txt", "wb") as fh:
        fh.truncate(corpus.MAX_FILE_BYTES + 1)  # sparse: costs no disk, only its size is read
    (folder / "only_markup.html").write_text("<html><body><nav>Home</nav><script>x()</script></body></html>")

    report = corpus.ingest_files([folder], unit="chars", size=200, overlap=0)
    status = {Path(d.source).name: d for d in report.documents}
    assert len(status) == 10
    assert status["good.txt"].status == "ingested" and status["good.txt"].passages == 1
    reasons = {name: d.reason for name, d in status.items() if d.status == "skipped"}
    assert reasons["empty.txt"] == "the file is empty"
    assert "binary" in reasons["image.txt"]
    assert "no text layer" in reasons["scan.pdf"] and "OCR" in reasons["scan.pdf"]
    assert "not a PDF" in reasons["fake.pdf"]
    assert "unsupported file type .png" in reasons["photo.png"]
    assert "not a valid .docx" in reasons["broken.docx"]
    assert "no known text encoding" in reasons["noise.txt"]
    assert "over the 50 MB limit" in reasons["huge.txt"]
    assert "no readable text" in reasons["only_markup.html"]
    assert [p.source for p in report.passages] == ["mixed/good.txt"]
    assert report.to_dict()["counts"] == {"documents": 10, "ingested": 1, "skipped": 9, "passages": 1}


def test_missing_file_and_size_limit_argument(tmp_path: Path):
    with pytest.raises(DocumentSkipped, match="not found"):
        corpus.load_document(tmp_path / "nope.txt")
    path = tmp_path / "small.txt"
    path.write_text("x" * 2000)
    with pytest.raises(DocumentSkipped, match="over the"):
        corpus.read_text_file(path, max_bytes=1000)


def test_undecodable_bytes_after_the_first_block(tmp_path: Path):
    path = tmp_path / "mixed.txt"
    path.write_bytes(b"plain ascii text. " * 70_000 + b"\xff\xfe\xfd broken tail")
    with pytest.raises(DocumentSkipped, match="undecodable bytes"):
        corpus.read_text_file(path)


# cleaning and sentences ------------------------------------------------------------------------------

def test_clean_text():
    raw = ("The regener-\nation of the  docks began in 1998 [12]. Costs rose [3, 4] and fell [5\u20137].\n"
           "Page 3 of 9\n\n\n\nCopyright 2021 Vellmouth Council\nWe use cookies to improve this site.\n\n"
           "The bakery sold cookies.\u00a0It\u00adclosed.")
    assert corpus.clean_text(raw) == ("The regeneration of the docks began in 1998. Costs rose and fell.\n\n"
                                      "The bakery sold cookies. Itclosed.")


def test_english_sentences_with_abbreviations():
    text = ("Dr. J. Smith arrived at 9 a.m. on Monday. The U.S. Army left in 1998! Was it late? "
            "Yes, e.g. the plan cost 3.5 million. Prof. Deng agreed etc. Then it ended.")
    assert corpus.split_sentences(text) == [
        "Dr. J. Smith arrived at 9 a.m. on Monday.", "The U.S. Army left in 1998!", "Was it late?",
        "Yes, e.g. the plan cost 3.5 million.", "Prof. Deng agreed etc.", "Then it ended."]


def test_chinese_sentences():
    text = "城市更新计划于1998年获得批准。新建住宅共4800套！港口区域占地240公顷吗？“这是开始。”他说。"
    assert corpus.split_sentences(text) == [
        "城市更新计划于1998年获得批准。", "新建住宅共4800套！", "港口区域占地240公顷吗？", "“这是开始。”", "他说。"]


def test_paragraph_break_ends_a_sentence():
    assert corpus.split_sentences("A heading\n\nThe text starts here. More.") == [
        "A heading", "The text starts here.", "More."]


# passages ----------------------------------------------------------------------------------------------

def _doc(text: str) -> corpus.Document:
    return corpus.Document(source="notes.txt", kind="text", text=text)


def test_chunk_by_characters_with_overlap_keeps_offsets():
    sentences = [f"Sentence number {i} states that {i * 100} homes were built." for i in range(20)]
    doc = _doc(" ".join(sentences))
    passages = corpus.chunk_document(doc, "chars", 200, 60)
    assert len(passages) > 5
    for p in passages:
        assert doc.text[p.start:p.end] == p.text
        assert len(p.text) <= 200
        assert p.text[0] == "S" and p.text.endswith(".")
    for a, b in zip(passages, passages[1:]):
        assert b.start < a.end  # overlap: the next passage starts inside the previous one
        assert a.end - b.start <= 60
    assert passages[0].id == "notes-0000" and passages[-1].end == len(doc.text)


def test_chunk_by_sentences_with_overlap():
    doc = _doc(" ".join(f"Fact {i} is here." for i in range(10)))
    passages = corpus.chunk_document(doc, "sentences", 3, 1)
    assert [p.text for p in passages[:2]] == ["Fact 0 is here. Fact 1 is here. Fact 2 is here.",
                                              "Fact 2 is here. Fact 3 is here. Fact 4 is here."]
    assert passages[-1].text.endswith("Fact 9 is here.")


def test_a_sentence_longer_than_the_passage_is_cut_at_spaces():
    doc = _doc("word " * 100 + "end.")
    passages = corpus.chunk_document(doc, "chars", 120, 0)
    assert all(len(p.text) <= 120 for p in passages)
    assert " ".join(p.text for p in passages).split() == doc.text.split()


def test_bad_chunk_settings():
    with pytest.raises(corpus.CorpusError, match="overlap"):
        corpus.chunk_document(_doc("A. B."), "chars", 100, 100)
    with pytest.raises(corpus.CorpusError, match="unit"):
        corpus.chunk_document(_doc("A. B."), "words", 100, 0)


def test_sample_corpus_ingests_cleanly():
    report = corpus.ingest_files([SAMPLE])
    assert [d.status for d in report.documents] == ["ingested"] * 4
    assert len(report.passages) >= 8
    assert len({p.id for p in report.passages}) == len(report.passages)
    assert not any("[1]" in p.text or "[2]" in p.text for p in report.passages)
