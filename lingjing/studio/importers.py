"""Turning an uploaded or pasted story into plain text and chapters (pure functions, no Django models).

Accepted: ``.txt`` / ``.md`` (UTF-8 with or without BOM, UTF-16 with BOM, GBK/GB18030 and other encodings
detected by charset-normalizer), ``.docx`` (python-docx) and ``.epub`` (the OPF spine read with ``zipfile``).

Limits, checked before anything is parsed: the upload is at most :data:`MAX_UPLOAD_BYTES`; an archive
(docx/epub) has at most :data:`MAX_ARCHIVE_MEMBERS` members whose declared uncompressed sizes add up to at most
:data:`MAX_UNCOMPRESSED_BYTES`, with no member inflating more than :data:`MAX_RATIO` times. ``zipfile`` never
yields more than a member's declared size (a lying header ends in a CRC error), so checking declared sizes
bounds what is read. Member names must be relative paths without ``..`` (a traversal name is refused although
nothing is ever extracted to disk), and no XML or XHTML member may declare entities (``<!ENTITY``: billion
laughs, external entities), checked by streaming each such member in 64 KiB pieces before any parser sees it.
EPUB chapters must be valid UTF-8 (a chapter that is really a zip or an image is refused, not imported as
garbage). Errors are :class:`ImportRejected` with a Chinese message for the author.
"""

from __future__ import annotations

import codecs
import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any
from xml.etree.ElementTree import ParseError
from xml.parsers import expat

from defusedxml import DefusedXmlException, ElementTree

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_ARCHIVE_MEMBERS = 2000
MAX_UNCOMPRESSED_BYTES = 60 * 1024 * 1024
MAX_RATIO = 150
MAX_TEXT_CHARS = 500_000
CHAPTER_BUDGET = 6000  # characters; longer chapters are cut at paragraph boundaries

TEXT_EXTENSIONS = (".txt", ".md", ".markdown")
ACCEPTED_EXTENSIONS = (*TEXT_EXTENSIONS, ".docx", ".epub")


class ImportRejected(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Chapter:
    title: str
    text: str


# --- decoding ---------------------------------------------------------------------------------------------

_BOMS = (
    (b"\xef\xbb\xbf", "utf-8-sig"),
    (b"\xff\xfe", "utf-16"),
    (b"\xfe\xff", "utf-16"),
)


_HAN = re.compile(r"[\u4e00-\u9fff]")
CHINESE_SAMPLE_CHARS = 4000  # enough prose to judge, cheap to segment
CHINESE_WORD_SHARE = 0.2  # of the ideographs, the share inside dictionary words that reads as Chinese


def reads_as_chinese(text: str) -> bool:
    """Whether ``text`` is Chinese prose rather than bytes of another code page decoded as ideographs.

    Korean (EUC-KR) and Japanese (Shift_JIS) files often decode as GB18030 without error, into ideographs that
    never form words; Chinese text does: 今天天气很好 is 今天 + 天气 + 很好. The share of ideographs inside
    multi-character dictionary words (jieba, the same dictionary as search) tells them apart: ≥ 0.5 for short
    simplified sentences, ≈ 0.25 for traditional, 0 for the Korean and Japanese samples of the tests."""
    sample = text[:CHINESE_SAMPLE_CHARS]
    ideographs = len(_HAN.findall(sample))
    if not ideographs:
        return False
    from lingjing.search.text import jieba_module

    jieba = jieba_module()
    words = jieba.lcut(sample, HMM=False)
    in_words = sum(len(w) for w in words if len(w) >= 2 and _HAN.search(w) and w in jieba.dt.FREQ)
    return in_words / ideographs >= CHINESE_WORD_SHARE


def decode_text(data: bytes) -> str:
    """Bytes of a text file → str: BOM first, then strict UTF-8, then GB18030 when it reads as Chinese (the
    platform's likeliest legacy encoding; charset-normalizer guesses short GBK texts as Korean or Japanese), then
    charset-normalizer's best guess."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _normalise(data.decode(encoding))
            except UnicodeDecodeError:
                raise ImportRejected("bad_encoding", "文件编码无法识别，请另存为 UTF-8 后再上传") from None
    if b"\x00" in data[:4096]:
        raise ImportRejected("not_text", "这不是文本文件，请上传 txt、md、docx 或 epub")
    try:
        return _normalise(data.decode("utf-8"))
    except UnicodeDecodeError:
        pass
    try:
        chinese = data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    else:
        if reads_as_chinese(chinese):
            return _normalise(chinese)
    import charset_normalizer

    best = charset_normalizer.from_bytes(data).best()
    if best is None:
        raise ImportRejected("bad_encoding", "文件编码无法识别，请另存为 UTF-8 后再上传")
    encoding = best.encoding
    # GB2312 and GBK are subsets of GB18030: decode with the superset so rarer characters survive.
    if encoding in ("gb2312", "gbk", "cp936", "hz"):
        encoding = "gb18030"
    try:
        return _normalise(data.decode(encoding))
    except (UnicodeDecodeError, LookupError):
        return _normalise(str(best))


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    return text.replace("\u3000", "  ")


# --- archives ---------------------------------------------------------------------------------------------


def _open_archive(data: bytes, what: str) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        raise ImportRejected("bad_archive", f"{what} 文件已损坏或不是 {what} 格式") from None
    members = archive.infolist()
    if len(members) > MAX_ARCHIVE_MEMBERS:
        raise ImportRejected("archive_too_complex", f"{what} 文件包含的条目过多（超过 {MAX_ARCHIVE_MEMBERS} 个）")
    total = 0
    for info in members:
        total += info.file_size
        if info.file_size > 1024 * 1024 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise ImportRejected("archive_bomb", f"{what} 文件的压缩比异常，疑似压缩炸弹，已拒绝")
    if total > MAX_UNCOMPRESSED_BYTES:
        raise ImportRejected(
            "archive_too_large", f"{what} 文件解压后过大（超过 {MAX_UNCOMPRESSED_BYTES // (1024 * 1024)} MiB）"
        )
    for info in members:
        parts = info.filename.replace("\\", "/").split("/")
        if info.filename.startswith(("/", "\\")) or ".." in parts or ":" in parts[0]:
            raise ImportRejected("bad_archive", f"{what} 文件中有指向压缩包外的路径（{info.filename[:60]}），已拒绝")
    _refuse_entities(archive, members, what)
    return archive


_XML_SUFFIXES = (".xml", ".rels", ".opf", ".ncx", ".xhtml", ".html", ".htm", ".svg")
_ENTITY = b"<!ENTITY"


def _refuse_entities(archive: zipfile.ZipFile, members: list[zipfile.ZipInfo], what: str) -> None:
    """No XML member may declare an entity; read in pieces, so a member costs 64 KiB of memory at most."""
    for info in members:
        if not info.filename.lower().endswith(_XML_SUFFIXES):
            continue
        try:
            with archive.open(info) as member:
                tail = b""
                while chunk := member.read(64 * 1024):
                    if _ENTITY in tail + chunk:
                        raise ImportRejected(
                            "xml_entities", f"{what} 文件中含有 XML 实体声明（可能是“十亿笑声”攻击），已拒绝"
                        )
                    tail = chunk[-len(_ENTITY):]
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, RuntimeError):
            archive.close()
            raise ImportRejected("bad_archive", f"{what} 文件已损坏或不是 {what} 格式") from None
        except ImportRejected:
            archive.close()
            raise


_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main "
_RELS = "http://schemas.openxmlformats.org/package/2006/relationships "
_READ_PIECE = 64 * 1024
# What one import may collect before it stops reading: the story's cap plus room for the whitespace and blank
# lines that ``check_text`` removes. Every reader counts as it goes, so a document that inflates to tens of
# megabytes within the archive limits costs at most this much text, never a parsed tree of it.
_COLLECT_CHARS = 2 * MAX_TEXT_CHARS


def _too_long() -> ImportRejected:
    return ImportRejected("too_long", f"故事过长：最多 {MAX_TEXT_CHARS} 字")


def _stream_xml(archive: zipfile.ZipFile, name: str, start: Any, end: Any, text: Any) -> None:
    """Feed one member to expat in pieces (names as ``"namespace local"``); no DTD, no entity is accepted."""

    def refuse(*_args: Any) -> int:  # also catches declarations the byte scan cannot see (UTF-16 XML)
        raise ImportRejected("xml_entities", "docx 文件中含有 XML 文档类型或实体声明（可能是“十亿笑声”攻击），已拒绝")

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = text
    parser.buffer_text = True
    with archive.open(name) as member:
        while piece := member.read(_READ_PIECE):
            parser.Parse(piece, False)
    parser.Parse(b"", True)


def _main_part(archive: zipfile.ZipFile) -> str:
    """The officeDocument target of ``_rels/.rels`` (``word/document.xml`` in every Word we have seen)."""
    found: list[str] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == _RELS + "Relationship" and attrs.get("Type", "").endswith("/officeDocument"):
            found.append(attrs.get("Target", "").lstrip("/"))

    if "_rels/.rels" in archive.namelist():
        _stream_xml(archive, "_rels/.rels", start, lambda name: None, lambda data: None)
    return found[0] if found else "word/document.xml"


def _style_names(archive: zipfile.ZipFile, document: str) -> dict[str, str]:
    """Paragraph style id → name (``Heading1`` → ``heading 1``; WPS writes ``标题 1``)."""
    names: dict[str, str] = {}
    current: list[str] = []

    def start(name: str, attrs: dict[str, str]) -> None:
        if name == _W + "style":
            current[:] = [attrs.get(_W + "styleId", "")]
        elif name == _W + "name" and current and len(names) < 10_000:
            names[current[0]] = attrs.get(_W + "val", "")

    styles = posixpath.join(posixpath.dirname(document), "styles.xml")
    if styles in archive.namelist():
        _stream_xml(archive, styles, start, lambda name: None, lambda data: None)
    return names


class _DocxBody:
    """The paragraphs directly under ``w:body`` (python-docx's ``document.paragraphs``), read as a stream.

    A paragraph's text is its ``w:t`` pieces, tabs as ``\\t``, line breaks as ``\\n``; paragraphs nested in text
    boxes, tables and content controls are not body paragraphs and are skipped, as python-docx does.
    """

    def __init__(self, styles: dict[str, str]) -> None:
        self.styles = styles
        self.lines: list[str] = []
        self.collected = 0
        self._stack: list[str] = []
        self._body_p = False  # inside a paragraph whose parent is w:body
        self._nested = 0  # paragraphs open inside it (text boxes)
        self._in_t = False
        self._parts: list[str] = []
        self._style = ""

    def start(self, name: str, attrs: dict[str, str]) -> None:
        parent = self._stack[-1] if self._stack else ""
        self._stack.append(name)
        if name == _W + "p":
            if self._body_p:
                self._nested += 1
            elif parent == _W + "body":
                self._body_p, self._parts, self._style = True, [], ""
            return
        if not self._body_p or self._nested:
            return
        if name == _W + "pStyle" and parent == _W + "pPr":
            self._style = attrs.get(_W + "val", "")
        elif name == _W + "t":
            self._in_t = True
        elif name in (_W + "tab", _W + "ptab") and parent == _W + "r":
            self._add("\t")
        elif name == _W + "cr" or (name == _W + "br" and attrs.get(_W + "type", "textWrapping") == "textWrapping"):
            self._add("\n")
        elif name == _W + "noBreakHyphen":
            self._add("-")

    def end(self, name: str) -> None:
        self._stack.pop()
        if name == _W + "t":
            self._in_t = False
        elif name == _W + "p" and self._body_p:
            if self._nested:
                self._nested -= 1
                return
            self._body_p = False
            text = "".join(self._parts).strip()
            style = self.styles.get(self._style, self._style) if self._style else ""
            if text and (style.lower().startswith(("heading", "title")) or style.startswith("标题")):
                text = f"# {text}"
            self.lines.append(text)
            self._add_count(1)

    def text(self, data: str) -> None:
        if self._in_t and self._body_p and not self._nested:
            self._add(data)

    def _add(self, piece: str) -> None:
        self._parts.append(piece)
        self._add_count(len(piece))

    def _add_count(self, n: int) -> None:
        self.collected += n
        if self.collected > _COLLECT_CHARS:
            raise _too_long()


def read_docx(data: bytes) -> str:
    """Paragraph text of a Word document; headings become markdown headings so chapters split on them.

    The body is streamed through expat and the text counted as it comes (no document tree is built), so memory
    stays bounded whatever ``word/document.xml`` inflates to within the archive limits.
    """
    archive = _open_archive(data, "docx")
    try:
        document = _main_part(archive)
        if document not in archive.namelist():
            raise ImportRejected("bad_archive", "docx 文件已损坏或不是 docx 格式")
        body = _DocxBody(_style_names(archive, document))
        _stream_xml(archive, document, body.start, body.end, body.text)
    except (expat.ExpatError, zipfile.BadZipFile, zlib.error, EOFError, UnicodeDecodeError, ValueError):
        raise ImportRejected("bad_archive", "docx 文件已损坏或不是 docx 格式") from None
    finally:
        archive.close()
    return _normalise("\n".join(body.lines))


class _HtmlText(HTMLParser):
    """Text of an XHTML chapter: block elements become line breaks, h1–h3 become markdown headings."""

    BLOCKS = frozenset({"p", "div", "br", "li", "section", "article", "blockquote", "tr", "h4", "h5", "h6"})
    HEADINGS = frozenset({"h1", "h2", "h3"})
    SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.chars = 0
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.HEADINGS:
            self._emit("\n# ")
        elif tag in self.BLOCKS:
            self._emit("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self.HEADINGS or tag in self.BLOCKS:
            self._emit("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._emit(data.replace("\n", " "))

    def _emit(self, piece: str) -> None:
        self.parts.append(piece)
        self.chars += len(piece)

    def text(self) -> str:
        lines = [line.strip() for line in "".join(self.parts).split("\n")]
        return "\n".join(line for line in lines if line and line != "#")


_OPF_NS = {"opf": "http://www.idpf.org/2007/opf", "c": "urn:oasis:names:tc:opendocument:xmlns:container"}


@dataclass
class _Budget:
    parser: _HtmlText
    chars: int  # text collected from the chapters so far
    read: int  # bytes of XHTML read so far (the spine may name one chapter many times)


_MAX_MARKUP_PENDING = 1024 * 1024  # an unclosed tag longer than this is not a chapter


def _read_chapter(archive: zipfile.ZipFile, path: str, budget: _Budget) -> _Budget:
    """Feed one chapter to a fresh parser in pieces (strict UTF-8), counting text and bytes against the import's
    budgets, so no chapter is ever held whole in memory."""
    parser = _HtmlText()
    decoder = codecs.getincrementaldecoder("utf-8")()
    read = budget.read
    with archive.open(path) as member:
        while piece := member.read(_READ_PIECE):
            read += len(piece)
            if read > MAX_UNCOMPRESSED_BYTES:
                raise ImportRejected("archive_too_large", "epub 文件的正文过大")
            try:
                parser.feed(decoder.decode(piece))
            except UnicodeDecodeError:
                raise ImportRejected("bad_archive", "epub 文件已损坏：章节不是有效的 UTF-8 文本") from None
            if budget.chars + parser.chars > _COLLECT_CHARS:
                raise _too_long()
            if len(parser.rawdata) > _MAX_MARKUP_PENDING:
                raise ImportRejected("bad_archive", "epub 文件已损坏：章节的标记无法解析")
    try:
        parser.feed(decoder.decode(b"", final=True))
    except UnicodeDecodeError:
        raise ImportRejected("bad_archive", "epub 文件已损坏：章节不是有效的 UTF-8 文本") from None
    parser.close()
    return _Budget(parser, chars=budget.chars + parser.chars, read=read)


_MAX_PACKAGE_BYTES = 4 * 1024 * 1024


def _package_part(archive: zipfile.ZipFile, name: str) -> bytes:
    """container.xml or the OPF, parsed as a tree: a few kilobytes in a real book, refused past 4 MiB."""
    if archive.getinfo(name).file_size > _MAX_PACKAGE_BYTES:
        raise ImportRejected("archive_too_large", "epub 文件的目录过大")
    return archive.read(name)


def read_epub(data: bytes) -> str:
    """Text of an EPUB's spine in reading order."""
    archive = _open_archive(data, "epub")
    try:
        names = set(archive.namelist())
        if "META-INF/container.xml" not in names:
            raise ImportRejected("bad_archive", "epub 文件缺少 META-INF/container.xml")
        container = ElementTree.fromstring(_package_part(archive, "META-INF/container.xml"))
        rootfile = container.find(".//c:rootfile", _OPF_NS)
        opf_path = rootfile.get("full-path", "") if rootfile is not None else ""
        if opf_path not in names:
            raise ImportRejected("bad_archive", "epub 文件缺少内容清单（OPF）")
        opf = ElementTree.fromstring(_package_part(archive, opf_path))
        base = posixpath.dirname(opf_path)
        manifest = {
            item.get("id"): posixpath.normpath(posixpath.join(base, item.get("href", "")))
            for item in opf.iterfind(".//opf:manifest/opf:item", _OPF_NS)
        }
        chapters = []
        budget = _Budget(_HtmlText(), chars=0, read=0)
        seen: set[str] = set()
        for ref in opf.iterfind(".//opf:spine/opf:itemref", _OPF_NS):
            path = manifest.get(ref.get("idref"))
            if path is None or path not in names or path in seen:
                continue  # a spine naming one chapter twice is invalid EPUB; reading it again would only cost time
            seen.add(path)
            budget = _read_chapter(archive, path, budget)
            chapters.append(budget.parser.text())
    except (ParseError, DefusedXmlException):
        raise ImportRejected("bad_archive", "epub 文件的目录无法解析") from None
    except (zipfile.BadZipFile, zlib.error, EOFError):
        raise ImportRejected("bad_archive", "epub 文件已损坏或不是 epub 格式") from None
    finally:
        archive.close()
    return _normalise("\n\n".join(c for c in chapters if c))


# --- markdown ---------------------------------------------------------------------------------------------

_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_EMPH = re.compile(r"(\*\*|__|\*|`)")


def strip_markdown(text: str) -> str:
    """Keep headings (chapter marks) and prose; drop images, link targets, emphasis and quote marks."""
    out = []
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith(("```", "---", "***", "===")):
            continue
        if stripped.startswith(">"):
            stripped = stripped.lstrip("> ")
        stripped = _MD_LINK.sub(r"\1", _MD_IMAGE.sub("", stripped))
        if not stripped.startswith("#"):
            stripped = _MD_EMPH.sub("", stripped)
        out.append(stripped)
    return "\n".join(out)


# --- entry point ------------------------------------------------------------------------------------------


def extract_text(filename: str, data: bytes) -> str:
    """The story in an uploaded file, as text. Raises :class:`ImportRejected` with a Chinese message."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise ImportRejected("too_large", f"文件过大：最大 {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    if not data:
        raise ImportRejected("empty", "文件是空的")
    name = (filename or "").lower()
    if name.endswith(".docx"):
        text = read_docx(data)
    elif name.endswith(".epub"):
        text = read_epub(data)
    elif name.endswith(TEXT_EXTENSIONS) or "." not in name:
        text = decode_text(data)
        if name.endswith((".md", ".markdown")):
            text = strip_markdown(text)
    else:
        raise ImportRejected("unsupported", "不支持的文件类型：请上传 txt、md、docx 或 epub")
    return check_text(text)


def check_text(text: str) -> str:
    text = _normalise(text).strip()
    if not text:
        raise ImportRejected("empty", "没有读到任何文字")
    if len(text) > MAX_TEXT_CHARS:
        raise ImportRejected("too_long", f"故事过长：最多 {MAX_TEXT_CHARS} 字")
    return text


# --- chapters ---------------------------------------------------------------------------------------------

_CN_NUM = "零〇一二三四五六七八九十百千万两壹贰叁肆伍陆柒捌玖拾佰仟"
HEADING = re.compile(
    rf"^\s*(?:#{{1,3}}\s*(?P<md>\S.*)|(?P<cn>第\s*[{_CN_NUM}\d]+\s*[章回节卷集幕话篇](?:\s+|[：:、．.]\s*)?.*)"
    r"|(?P<en>(?:chapter|CHAPTER|Chapter)\s+[\dIVXLCivxlc]+\b.*))\s*$"
)
_MAX_HEADING_CHARS = 40


def _heading(line: str) -> str | None:
    if len(line.strip()) > _MAX_HEADING_CHARS:
        return None
    match = HEADING.match(line)
    if match is None:
        return None
    return " ".join((match.group("md") or match.group("cn") or match.group("en") or "").split())


def split_chapters(text: str, *, budget: int = CHAPTER_BUDGET, default_title: str = "正文") -> list[Chapter]:
    """Chapters by headings (第X章/第X回/Chapter N/markdown #), each cut to at most ``budget`` characters."""
    chapters: list[tuple[str, list[str]]] = []
    title = ""
    body: list[str] = []
    for line in text.split("\n"):
        heading = _heading(line)
        if heading is not None:
            if "".join(body).strip():
                chapters.append((title, body))
            title, body = heading, []
        else:
            body.append(line)
    if "".join(body).strip():
        chapters.append((title, body))
    out: list[Chapter] = []
    for index, (chapter_title, lines) in enumerate(chapters):
        name = chapter_title or (default_title if index == 0 else f"第{index + 1}部分")
        paragraphs = [p.strip() for p in lines if p.strip()]
        for part_no, part in enumerate(_cut(paragraphs, budget)):
            suffix = f"（{part_no + 1}）" if part_no else ""
            out.append(Chapter(name + suffix, part))
    return out


def _cut(paragraphs: list[str], budget: int) -> list[str]:
    """Pack paragraphs into parts of at most ``budget`` characters (a longer paragraph is cut at sentence ends;
    its pieces stay on one line)."""
    parts: list[str] = [""]
    for paragraph in paragraphs:
        pieces = [paragraph]
        if len(paragraph) > budget:
            pieces = [s for s in re.split(r"(?<=[。！？!?])", paragraph) if s]
        for n, piece in enumerate(pieces):
            joiner = "" if (n or not parts[-1]) else "\n"
            if parts[-1] and len(parts[-1]) + len(joiner) + len(piece) > budget:
                parts.append("")
                joiner = ""
            parts[-1] += joiner + piece
    return [part for part in parts if part] or [""]
