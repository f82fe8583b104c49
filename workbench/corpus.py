"""Files -> documents -> passages: reading, cleaning, sentence splitting and chunking.

Reads .txt, .md, .html, .pdf (text layer via pypdf) and .docx (python-docx), from single files or
folders. Text files are read in blocks (never more than ``max_bytes``, 50 MB by default) and decoded as
UTF-8, UTF-16 (with a byte-order mark) or the legacy encoding charset-normalizer recognises (cp1252,
latin-1, gb18030, ...). Cleaning joins hyphenated line breaks, drops reference markers like [12],
page headers/footers repeated on most PDF pages and boilerplate lines (cookie notices, "Page 3 of 9").
Sentences are split by rules (abbreviations, initials, Chinese 。！？); passages group whole sentences
up to a size in characters or sentences, with overlap, and keep their source, page and character
offsets into the cleaned document text.

A bad file never stops the others: it is skipped with a reason a person can act on, and the
``IngestReport`` lists every document. This module does no OCR (scanned PDFs are reported, not read),
no language detection and no network access. No torch import (layer 2).
"""

from __future__ import annotations

import codecs
import re
import unicodedata
import zipfile
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from .errors import UserError

MAX_FILE_BYTES = 50 * 1024 * 1024
READ_BLOCK = 1024 * 1024
TEXT_SUFFIXES = (".txt", ".text", ".md", ".markdown")
HTML_SUFFIXES = (".html", ".htm", ".xhtml")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + (".pdf", ".docx")
MIN_TEXT_CHARS_PER_PDF_PAGE = 20
# Legacy encodings tried when a file is not UTF-8, most likely first.
LEGACY_ENCODINGS = ("cp1252", "gb18030", "cp1251", "big5", "shift_jis", "euc_kr", "cp1250", "latin_1")

ChunkUnit = Literal["chars", "sentences"]


class CorpusError(UserError, ValueError):
    """A corpus setting is unusable (for example overlap not smaller than passage size)."""


class DocumentSkipped(CorpusError):
    """One file cannot be used; ``reason`` says why and what to do. Other files go on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Document:
    """The cleaned text of one file. ``page_starts[i]`` is the offset where page i+1 begins (PDF only)."""

    source: str
    kind: str
    text: str
    encoding: str | None = None
    page_starts: list[int] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def page_at(self, offset: int) -> int | None:
        if not self.page_starts:
            return None
        page = 1
        for i, start in enumerate(self.page_starts):
            if start <= offset:
                page = i + 1
        return page


@dataclass(frozen=True)
class Passage:
    """A run of whole sentences; ``text == document.text[start:end]`` of the cleaned document."""

    id: str
    source: str
    index: int
    text: str
    start: int
    end: int
    page: int | None = None
    page_end: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class DocumentStatus:
    source: str
    kind: str
    status: Literal["ingested", "skipped"]
    reason: str = ""
    passages: int = 0
    chars: int = 0
    pages: int | None = None
    encoding: str | None = None
    warnings: list[str] = field(default_factory=list)


@dataclass
class IngestReport:
    """Every document's status plus all passages, in input order."""

    documents: list[DocumentStatus] = field(default_factory=list)
    passages: list[Passage] = field(default_factory=list)

    @property
    def ingested(self) -> list[DocumentStatus]:
        return [d for d in self.documents if d.status == "ingested"]

    @property
    def skipped(self) -> list[DocumentStatus]:
        return [d for d in self.documents if d.status == "skipped"]

    def to_dict(self) -> dict[str, Any]:
        return {"documents": [asdict(d) for d in self.documents],
                "counts": {"documents": len(self.documents), "ingested": len(self.ingested),
                           "skipped": len(self.skipped), "passages": len(self.passages)}}

    def summary(self) -> str:
        head = (f"{len(self.ingested)} document(s) ingested, {len(self.skipped)} skipped, "
                f"{len(self.passages)} passage(s)")
        lines = [head]
        lines += [f"  skipped {d.source}: {d.reason}" for d in self.skipped]
        return "\n".join(lines)


# finding files ------------------------------------------------------------------------------------

def collect_files(paths: Iterable[str | Path]) -> list[tuple[Path, str]]:
    """Expand folders (recursively, sorted) into files; each file with the name it is reported under."""
    found: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = child.relative_to(path)
                if not any(part.startswith(".") for part in rel.parts):
                    found.append((child, f"{path.name}/{rel.as_posix()}"))
        else:
            found.append((path, path.name))
    return found


# reading raw text ---------------------------------------------------------------------------------

def _check_size(path: Path, max_bytes: int) -> int:
    if not path.exists():
        raise DocumentSkipped("file not found")
    size = path.stat().st_size
    if size == 0:
        raise DocumentSkipped("the file is empty")
    if size > max_bytes:
        raise DocumentSkipped(f"the file is {size / 2**20:.1f} MB, over the {max_bytes / 2**20:.0f} MB limit; "
                              "split it into smaller files")
    return size


def _looks_binary(head: bytes) -> bool:
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return False
    if b"\x00" in head:
        return True
    controls = sum(1 for b in head if b < 9 or 13 < b < 32)
    return controls > max(8, len(head) // 50)


_UNREADABLE = {"Cn", "Co", "Cs", "Cc"}  # unassigned, private use, surrogate, control


def _readable(sample: str) -> bool:
    """True when at most 2% of the sample's characters are ones no text uses (line breaks and tabs are fine)."""
    odd = sum(1 for ch in sample if ch not in "\n\r\t\ufffd" and unicodedata.category(ch) in _UNREADABLE)
    odd += sample.count("\ufffd")
    return odd <= 0.02 * max(1, len(sample))


def detect_encoding(head: bytes) -> str:
    """The encoding of a text sample; raises DocumentSkipped when no encoding gives readable text."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    from charset_normalizer import from_bytes

    # charset-normalizer's own pick is unreliable on short Western texts (cp1257 for cp1252):
    # keep every candidate about as clean as the best and take the first in our preference order.
    results = list(from_bytes(head, cp_isolation=list(LEGACY_ENCODINGS)))
    if results:
        least = min(r.chaos for r in results)
        candidates = {enc for r in results if r.chaos <= least + 0.01 for enc in r.could_be_from_charset}
        for encoding in LEGACY_ENCODINGS:
            if encoding in candidates:
                return encoding
    raise DocumentSkipped("the bytes are not UTF-8 and match no known text encoding; "
                          "re-save the file as UTF-8 text")


def read_text_file(path: Path, max_bytes: int = MAX_FILE_BYTES) -> tuple[str, str]:
    """(text, encoding) read in 1 MB blocks with an incremental decoder."""
    _check_size(path, max_bytes)
    with open(path, "rb") as fh:
        head = fh.read(READ_BLOCK)
        if _looks_binary(head[:8192]):
            raise DocumentSkipped("this looks like a binary file (it contains NUL/control bytes), not text; "
                                  "check the file extension")
        encoding = detect_encoding(head)
        decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
        if encoding == "utf-16" and not _readable(head[:8192].decode("utf-16", errors="replace")):
            # a byte-order mark before random bytes still decodes, as a mix of unassigned and private
            # characters from every script
            raise DocumentSkipped("the file starts like UTF-16 text but its characters are not readable text; "
                                  "re-save it as UTF-8 text")
        parts: list[str] = []
        block = head
        try:
            while block:
                parts.append(decoder.decode(block))
                block = fh.read(READ_BLOCK)
            parts.append(decoder.decode(b"", final=True))
        except UnicodeDecodeError as exc:
            raise DocumentSkipped(f"undecodable bytes at offset {fh.tell() - len(block) + exc.start} "
                                  f"for encoding {encoding}; re-save the file as UTF-8 text") from None
    return "".join(parts), encoding


def read_bytes(path: Path, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    _check_size(path, max_bytes)
    return path.read_bytes()


# cleaning -----------------------------------------------------------------------------------------

_SPACES = re.compile(r"[ \t\f\v\u00a0\u1680\u2000-\u200a\u202f\u205f]+")
_INVISIBLE = re.compile(r"[\u00ad\u200b-\u200d\u2060\ufeff]")
_LIGATURES = {"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"}
_HYPHEN_BREAK = re.compile(r"([A-Za-z])-[ \t]*\n[ \t]*([a-z])")
_REFERENCE = re.compile(r"[ \t]?\[(?:\d{1,3}(?:[ \t]*[-\u2013,;][ \t]*\d{1,3})*|\^\w+|citation needed)\]")
_BOILERPLATE = re.compile(
    r"^(?:(?:page[ \t]*)?\d{1,4}(?:[ \t]*(?:of|/)[ \t]*\d{1,4})?|[-\u2013 ]*\d{1,4}[-\u2013 ]*"
    r"|(?:copyright[ \t]*(?:\u00a9|\(c\)|\d{4})|\u00a9|\(c\)[ \t]*\d{4}).{0,100}|.{0,80}all rights reserved\.?"
    r"|skip to (?:main )?content|back to top|read more|click here.{0,60}|subscribe (?:to|now|for)\b.{0,80}"
    r"|share (?:this|on).{0,40}|follow us.{0,60}|(?:we use|this (?:site|website) uses|accept(?: all)?) cookies.{0,80}"
    r"|cookie (?:policy|settings|preferences).{0,40}|print this page|table of contents"
    r"|https?://\S+|(?:previous|next)(?: page| article| post)?)$",
    re.IGNORECASE)
_CJK = r"\u3000-\u303f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff00-\uffef"
_CJK_JOIN = re.compile(rf"([{_CJK}])\n([{_CJK}])")


def _normalise_chars(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _INVISIBLE.sub("", text)
    for lig, plain in _LIGATURES.items():
        text = text.replace(lig, plain)
    return "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch) != "Cc")


def is_boilerplate(line: str) -> bool:
    line = line.strip()
    return len(line) <= 120 and bool(_BOILERPLATE.match(line))


def _clean_paragraph(lines: list[str]) -> str:
    kept = [ln for ln in lines if ln.strip() and not is_boilerplate(ln)]
    text = _CJK_JOIN.sub(r"\1\2", "\n".join(ln.strip() for ln in kept))
    text = _SPACES.sub(" ", text.replace("\n", " ")).strip()
    return re.sub(r" +([.,;:!?](?:\s|$))", r"\1", text)


def clean_text(text: str) -> str:
    """Normalise characters and whitespace, join hyphenated breaks, drop reference markers and
    boilerplate lines. Paragraphs (blank-line separated) come out separated by one blank line."""
    text = _normalise_chars(text)
    text = _HYPHEN_BREAK.sub(r"\1\2", text)
    text = _REFERENCE.sub("", text)
    paragraphs = re.split(r"\n[ \t]*\n", text)
    cleaned = (_clean_paragraph(p.split("\n")) for p in paragraphs)
    return "\n\n".join(p for p in cleaned if p)


# format-specific text extraction --------------------------------------------------------------------

_MD_BLOCK_START = re.compile(r"^\s*(?:#{1,6}\s|[-*+]\s|\d{1,3}[.)]\s|>|\|)")


def markdown_to_text(md: str) -> str:
    """Markdown -> plain paragraphs: markup dropped, headings and list items become paragraphs."""
    md = re.sub(r"\A---\n.*?\n---\n", "", md, flags=re.DOTALL)          # front matter
    md = re.sub(r"```.*?```", "", md, flags=re.DOTALL)                   # code blocks
    md = re.sub(r"<!--.*?-->", "", md, flags=re.DOTALL)
    md = re.sub(r"!\[[^\]]*\]\([^)]*\)", "", md)                         # images
    md = re.sub(r"\[([^\]]+)\]\([^)]*\)", r"\1", md)                     # links -> text
    md = re.sub(r"^\s*\|?\s*:?-{3,}.*$", "", md, flags=re.MULTILINE)     # table rules
    out: list[str] = []
    for line in md.split("\n"):
        block = bool(_MD_BLOCK_START.match(line))
        line = re.sub(r"^\s*(?:#{1,6}|[-*+]|\d{1,3}[.)]|>+)(?:\s+|$)", "", line)
        line = re.sub(r"(\*\*|__|\*|`|~~)", "", line).replace("|", " ")
        line = re.sub(r"<[^>]+>", "", line)
        out.append(f"\n{line}\n" if block else line)
    return "\n".join(out)


_DROP_TAGS = ("script", "style", "noscript", "nav", "header", "footer", "aside", "form", "iframe", "svg",
              "template", "button", "select", "menu")
_BLOCK_TAGS = ("p", "div", "section", "article", "main", "h1", "h2", "h3", "h4", "h5", "h6", "li", "ul",
               "ol", "table", "tr", "td", "th", "blockquote", "pre", "dd", "dt", "figcaption", "caption")


_CHROME = re.compile(r"(?:^|[-_ ])(?:cookies?|cookie-banner|sidebar|breadcrumbs?|share|social|newsletter|advert|"
                     r"ads|menu|navbar|skip-link)(?:$|[-_ ])", re.IGNORECASE)


def _is_chrome(tag: Any) -> bool:
    """Elements whose id or class names them as page chrome (cookie banners, share bars, menus)."""
    if tag.name in ("html", "body", "main", "article"):
        return False
    names = " ".join([tag.get("id") or "", *(tag.get("class") or [])])
    return bool(names.strip()) and bool(_CHROME.search(names))


def _dropped(tag: Any) -> bool:
    return (tag.name in _DROP_TAGS or tag.get("role") in ("navigation", "banner", "contentinfo", "complementary")
            or _is_chrome(tag))


def html_to_text(html: str) -> str:
    """The main text of a page: chrome (script/style/nav/header/footer/aside, navigation roles, cookie and
    share bars) dropped, blocks kept apart. The tree is walked once with an explicit stack, without changing
    it: inserting separators into a deeply nested page took quadratic time (and recursion would overflow)."""
    from bs4 import BeautifulSoup
    from bs4.element import CData, NavigableString, Tag

    soup = BeautifulSoup(html, "lxml")
    root = soup.find("main") or soup.body or soup
    out: list[str] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        if closing:
            out.append("\n\n")
        elif type(node) in (NavigableString, CData):
            out.append(str(node))
        elif isinstance(node, Tag) and (node is root or not _dropped(node)):
            if node.name == "br":
                out.append("\n")
                continue
            if node.name in _BLOCK_TAGS:
                out.append("\n\n")
                stack.append((node, True))
            stack.extend((child, False) for child in reversed(node.contents))
    # Inside a block, source line breaks are layout only.
    return re.sub(r"(?<!\n)\n(?!\n)", " ", "".join(out))


def _pdf_pages(path: Path, max_bytes: int) -> list[str]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    data = read_bytes(path, max_bytes)
    if not data.startswith(b"%PDF"):
        raise DocumentSkipped("not a PDF file (no %PDF header); check the file extension")
    try:
        import io

        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise DocumentSkipped("the PDF is password-protected; save an unprotected copy")
        return [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError) as exc:
        raise DocumentSkipped(f"cannot read the PDF ({exc}); it may be damaged") from None


def _margin_key(line: str) -> str:
    return re.sub(r"\d+", "#", line.strip().lower())


def repeated_margin_lines(pages: list[list[str]], share: float = 0.6, depth: int = 2) -> set[str]:
    """Normalised lines found among the first/last ``depth`` lines of at least ``share`` of the pages."""
    if len(pages) < 3:
        return set()
    counts: Counter[str] = Counter()
    for lines in pages:
        body = [ln for ln in lines if ln.strip()]
        counts.update({_margin_key(ln) for ln in body[:depth] + body[-depth:]})
    return {key for key, n in counts.items() if key and n >= share * len(pages)}


def _pdf_paragraphs(lines: list[str]) -> str:
    """Re-break PDF lines into paragraphs: a short line ending a sentence, or a short title, ends one."""
    lines = [ln.strip() for ln in lines if ln.strip()]
    if not lines:
        return ""
    widest = max(len(ln) for ln in lines)
    out: list[str] = []
    for ln in lines:
        out.append(ln)
        short = len(ln) < 0.75 * widest
        ends_sentence = ln.endswith((".", "!", "?", ":", "\u3002", "\uff01", "\uff1f"))
        is_title = len(ln) < 0.5 * widest and not ln.endswith((",", ";", "-")) and not ln[-1].islower()
        if short and (ends_sentence or is_title):
            out.append("")
    return "\n".join(out)


def load_pdf(path: Path, max_bytes: int = MAX_FILE_BYTES, source: str | None = None) -> Document:
    raw_pages = _pdf_pages(path, max_bytes)
    with_text = sum(1 for p in raw_pages if len(p.strip()) >= MIN_TEXT_CHARS_PER_PDF_PAGE)
    if with_text == 0:
        raise DocumentSkipped(f"no text layer in {len(raw_pages)} page(s): a scanned PDF? Run OCR first "
                              "(for example ocrmypdf) and add the result")
    pages = [_normalise_chars(p).split("\n") for p in raw_pages]
    margins = repeated_margin_lines(pages)
    doc = Document(source=source or path.name, kind="pdf", text="")
    if with_text < len(raw_pages):
        doc.warnings.append(f"{len(raw_pages) - with_text} of {len(raw_pages)} page(s) have no text layer")
    if margins:
        doc.warnings.append(f"dropped {len(margins)} header/footer line(s) repeated on most pages")
    parts: list[str] = []
    offset = 0
    for lines in pages:
        kept = [ln for ln in lines if _margin_key(ln) not in margins]
        cleaned = clean_text(_pdf_paragraphs(kept))
        doc.page_starts.append(offset)
        parts.append(cleaned)
        offset += len(cleaned) + (2 if cleaned else 0)
    doc.text = "\n\n".join(p for p in parts if p)
    return doc


# A .docx is a zip of XML; text compresses about 5-20x. Far more is a zip bomb, which would take the memory and
# minutes of the process that parses it.
MAX_DOCX_RATIO = 100
MAX_DOCX_INFLATED = 64 * 2**20


def _check_inflated_size(path: Path, max_bytes: int) -> None:
    """Refuse a .docx whose members inflate past the limits, from the sizes its zip directory declares."""
    with zipfile.ZipFile(path) as archive:
        inflated = sum(info.file_size for info in archive.infolist())
    packed = max(1, path.stat().st_size)
    limit = min(MAX_DOCX_INFLATED, max(max_bytes, 2**20) * 8)
    if inflated > limit or inflated > 4 * 2**20 and inflated / packed > MAX_DOCX_RATIO:
        raise DocumentSkipped(f"the .docx would inflate to {inflated / 2**20:.0f} MB from {packed / 2**10:.0f} KB; "
                              f"refused as a likely zip bomb (limit {limit // 2**20} MB, ratio {MAX_DOCX_RATIO}x)")


def load_docx(path: Path, max_bytes: int = MAX_FILE_BYTES, source: str | None = None) -> Document:
    import docx

    read_bytes(path, max_bytes)
    if not zipfile.is_zipfile(path):
        raise DocumentSkipped("not a valid .docx file (not a zip archive); check the file extension")
    _check_inflated_size(path, max_bytes)
    try:
        d = docx.Document(str(path))
    except (KeyError, ValueError, zipfile.BadZipFile) as exc:
        raise DocumentSkipped(f"cannot read the .docx file ({exc}); open and re-save it in a word processor") \
            from None
    blocks = [p.text for p in d.paragraphs]
    for table in d.tables:
        for row in table.rows:
            cells = list(dict.fromkeys(c.text.strip() for c in row.cells if c.text.strip()))
            blocks.append(" | ".join(cells))
    return Document(source=source or path.name, kind="docx", text=clean_text("\n\n".join(blocks)))


def load_document(path: str | Path, max_bytes: int = MAX_FILE_BYTES, source: str | None = None) -> Document:
    """Read and clean one file; raises DocumentSkipped with the reason when it cannot be used."""
    path = Path(path)
    suffix = path.suffix.lower()
    source = source or path.name
    if suffix not in SUPPORTED_SUFFIXES:
        raise DocumentSkipped(f"unsupported file type {suffix or '(no extension)'}; "
                              f"use one of {', '.join(SUPPORTED_SUFFIXES)}")
    if suffix == ".pdf":
        doc = load_pdf(path, max_bytes, source)
    elif suffix == ".docx":
        doc = load_docx(path, max_bytes, source)
    else:
        raw, encoding = read_text_file(path, max_bytes)
        if suffix in HTML_SUFFIXES:
            kind, text = "html", html_to_text(raw)
        elif suffix in (".md", ".markdown"):
            kind, text = "markdown", markdown_to_text(raw)
        else:
            kind, text = "text", raw
        doc = Document(source=source, kind=kind, text=clean_text(text), encoding=encoding)
    if not doc.text.strip():
        raise DocumentSkipped("no readable text after cleaning (only markup, boilerplate or whitespace)")
    return doc


# sentences ----------------------------------------------------------------------------------------

# Abbreviations after which a full stop does not end a sentence (lower case, without the final dot).
ABBREVIATIONS = frozenset(re.findall(r"\S+", """
mr mrs ms dr prof sr jr st mt ft rev hon gen col capt lt sgt gov pres sen rep vs etc e.g i.e cf al approx
no nos fig figs vol vols pp p ed eds dept univ inc ltd co corp est ca jan feb mar apr jun jul aug sep sept
oct nov dec mon tue wed thu fri sat sun u.s u.k a.m p.m ph.d m.sc b.a n.b
"""))
# Of those, the ones that may also end a sentence when a capitalised word follows.
_MAY_END = frozenset({"etc", "inc", "ltd", "co", "corp", "a.m", "p.m"})
_CANDIDATE = re.compile(r"[.!?\u2026]+['\"\u2019\u201d)\]]*|[\u3002\uff01\uff1f]+[\u201d\u2019\u300d\u300f\uff09)]*")
_OPENERS = "\"'\u201c\u2018([\u300c\u300e"


_NON_SPACE = re.compile(r"\S")
_WORD_AT = re.compile(r"\S+")
_LONGEST_ABBREVIATION = 64  # characters looked back for the word before a full stop


def _word_before(text: str, pos: int) -> str:
    """The word that ends at ``pos``, found by looking back at most a few dozen characters (never copying the
    text before it: that made splitting quadratic in the length of a document)."""
    start = pos
    while start > 0 and pos - start < _LONGEST_ABBREVIATION and not text[start - 1].isspace():
        start -= 1
    return text[start:pos]


def _is_boundary(text: str, match: re.Match[str]) -> bool:
    """Whether a sentence ends at this mark; looks only at the words on either side (linear time overall)."""
    mark = match.group()
    if mark[0] in "\u3002\uff01\uff1f":
        return True
    end = match.end()
    if end < len(text) and not text[end].isspace():
        return False
    nxt_match = _NON_SPACE.search(text, end)
    if nxt_match is None:
        return True
    nxt = nxt_match.group()
    if not (nxt.isupper() or nxt.isdigit() or nxt in _OPENERS or re.match(f"[{_CJK}]", nxt)):
        return False
    if mark[0] != ".":
        return True
    token = _word_before(text, match.start()).lower().lstrip(_OPENERS)
    if len(token) == 1 and token.isalpha():
        return False  # an initial: "J. Smith"
    if token in ABBREVIATIONS:
        following = _WORD_AT.match(text, nxt_match.start()).group()
        return token in _MAY_END and nxt_match.start() + 1 < len(text) and following.istitle()
    return not re.fullmatch(r"(?:[a-z]\.)+[a-z]", token)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) offsets of the sentences of ``text``; paragraph breaks always end a sentence."""
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\s*\n)[^\n]+)*", text):
        start = para.start()
        chunk = para.group()
        for match in _CANDIDATE.finditer(chunk):
            if _is_boundary(chunk, match):
                end = para.start() + match.end()
                spans.append((start, end))
                start = end
        spans.append((start, para.end()))
    return [(s + len(text[s:e]) - len(text[s:e].lstrip()), e) for s, e in spans if text[s:e].strip()]


def split_sentences(text: str) -> list[str]:
    return [text[s:e] for s, e in sentence_spans(text)]


# passages -----------------------------------------------------------------------------------------

def _slug(source: str) -> str:
    stem = Path(source).stem if "." in Path(source).name else Path(source).name
    return re.sub(r"[^A-Za-z0-9]+", "-", stem).strip("-").lower() or "doc"


def _hard_split(span: tuple[int, int], text: str, size: int) -> list[tuple[int, int]]:
    """Cut a sentence longer than ``size`` characters at spaces (or anywhere, for CJK)."""
    start, end = span
    pieces = []
    while end - start > size:
        cut = text.rfind(" ", start + size // 2, start + size)
        cut = cut if cut > start else start + size
        pieces.append((start, cut))
        start = cut + (1 if text[cut:cut + 1] == " " else 0)
    pieces.append((start, end))
    return pieces


def _groups_by_sentences(spans: list[tuple[int, int]], size: int, overlap: int) -> list[list[int]]:
    step = size - overlap
    groups = []
    for first in range(0, len(spans), step):
        groups.append(list(range(first, min(first + size, len(spans)))))
        if first + size >= len(spans):
            break
    return groups


def _groups_by_chars(spans: list[tuple[int, int]], size: int, overlap: int) -> list[list[int]]:
    groups: list[list[int]] = []
    first = 0
    while first < len(spans):
        last = first
        while last + 1 < len(spans) and spans[last + 1][1] - spans[first][0] <= size:
            last += 1
        groups.append(list(range(first, last + 1)))
        if last + 1 >= len(spans):
            break
        nxt = last + 1
        while nxt - 1 > first and spans[last][1] - spans[nxt - 1][0] <= overlap:
            nxt -= 1
        first = nxt
    return groups


def chunk_document(doc: Document, unit: ChunkUnit = "chars", size: int = 800, overlap: int = 100,
                   id_prefix: str | None = None) -> list[Passage]:
    """Group the sentences of ``doc`` into passages of at most ``size`` characters (or sentences),
    consecutive passages sharing up to ``overlap`` characters (or sentences) of whole sentences."""
    check_chunking(unit, size, overlap)
    spans = sentence_spans(doc.text)
    if unit == "chars":
        spans = [piece for span in spans for piece in _hard_split(span, doc.text, size)]
        groups = _groups_by_chars(spans, size, overlap)
    else:
        groups = _groups_by_sentences(spans, size, overlap)
    prefix = id_prefix or _slug(doc.source)
    passages = []
    for i, group in enumerate(groups):
        start, end = spans[group[0]][0], spans[group[-1]][1]
        passages.append(Passage(id=f"{prefix}-{i:04d}", source=doc.source, index=i, text=doc.text[start:end],
                                start=start, end=end, page=doc.page_at(start), page_end=doc.page_at(end - 1)))
    return passages


def check_chunking(unit: str, size: int, overlap: int) -> None:
    if unit not in ("chars", "sentences"):
        raise CorpusError(f"passage unit {unit!r} is not 'chars' or 'sentences'")
    if size < 1 or overlap < 0 or overlap >= size:
        raise CorpusError(f"passage size {size} and overlap {overlap}: need size >= 1 and 0 <= overlap < size")
    if unit == "chars" and size < 50:
        raise CorpusError(f"passages of {size} characters are too short to hold a sentence; use 50 or more")


# the whole corpus ---------------------------------------------------------------------------------

def ingest_files(paths: Iterable[str | Path], *, unit: ChunkUnit = "chars", size: int = 800, overlap: int = 100,
                 max_bytes: int = MAX_FILE_BYTES, seconds: float | None = None) -> IngestReport:
    """Read every file (folders recursively), clean, split and chunk; bad files are skipped and reported.
    With ``seconds``, each file is read in a helper process and skipped when it takes longer (timed_read)."""
    check_chunking(unit, size, overlap)
    if seconds:
        from . import timed_read

        def read(path: Path, source: str) -> Document:
            return timed_read.load(str(path), max_bytes, source, seconds)
    else:
        def read(path: Path, source: str) -> Document:
            return load_document(path, max_bytes, source)
    report = IngestReport()
    used_prefixes: Counter[str] = Counter()
    for path, source in collect_files(paths):
        kind = path.suffix.lower().lstrip(".") or "unknown"
        try:
            doc = read(path, source)
        except DocumentSkipped as exc:
            report.documents.append(DocumentStatus(source=source, kind=kind, status="skipped", reason=exc.reason))
            continue
        except Exception as exc:  # a parser's own error (pypdf, lxml, ...) skips this file alone, with its reason
            reason = f"cannot read the file ({type(exc).__name__}: {str(exc)[:200]}); it may be damaged"
            report.documents.append(DocumentStatus(source=source, kind=kind, status="skipped", reason=reason))
            continue
        prefix = _slug(source)
        used_prefixes[prefix] += 1
        if used_prefixes[prefix] > 1:
            prefix = f"{prefix}-{used_prefixes[prefix]}"
        passages = chunk_document(doc, unit, size, overlap, id_prefix=prefix)
        report.passages.extend(passages)
        report.documents.append(DocumentStatus(
            source=source, kind=doc.kind, status="ingested", passages=len(passages), chars=len(doc.text),
            pages=len(doc.page_starts) or None, encoding=doc.encoding, warnings=doc.warnings))
    return report
