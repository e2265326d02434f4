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

import io
import posixpath
import re
import zipfile
import zlib
from dataclasses import dataclass
from html.parser import HTMLParser
from xml.etree.ElementTree import ParseError

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


def decode_text(data: bytes) -> str:
    """Bytes of a text file → str: BOM first, then strict UTF-8, then charset-normalizer's best guess."""
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


def read_docx(data: bytes) -> str:
    """Paragraph text of a Word document; headings become markdown headings so chapters split on them."""
    _open_archive(data, "docx").close()
    import docx

    try:
        document = docx.Document(io.BytesIO(data))
    except Exception:  # python-docx raises several kinds on a broken package
        raise ImportRejected("bad_archive", "docx 文件已损坏或不是 docx 格式") from None
    lines = []
    for paragraph in document.paragraphs:
        text = paragraph.text.strip()
        if not text:
            lines.append("")
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style.lower().startswith(("heading", "title")) or style.startswith("标题"):
            lines.append(f"# {text}")
        else:
            lines.append(text)
    return _normalise("\n".join(lines))


class _HtmlText(HTMLParser):
    """Text of an XHTML chapter: block elements become line breaks, h1–h3 become markdown headings."""

    BLOCKS = frozenset({"p", "div", "br", "li", "section", "article", "blockquote", "tr", "h4", "h5", "h6"})
    HEADINGS = frozenset({"h1", "h2", "h3"})
    SKIP = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag in self.HEADINGS:
            self.parts.append("\n# ")
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skip = max(0, self._skip - 1)
        elif tag in self.HEADINGS or tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data.replace("\n", " "))

    def text(self) -> str:
        lines = [line.strip() for line in "".join(self.parts).split("\n")]
        return "\n".join(line for line in lines if line and line != "#")


_OPF_NS = {"opf": "http://www.idpf.org/2007/opf", "c": "urn:oasis:names:tc:opendocument:xmlns:container"}


def read_epub(data: bytes) -> str:
    """Text of an EPUB's spine in reading order."""
    archive = _open_archive(data, "epub")
    try:
        names = set(archive.namelist())
        if "META-INF/container.xml" not in names:
            raise ImportRejected("bad_archive", "epub 文件缺少 META-INF/container.xml")
        container = ElementTree.fromstring(archive.read("META-INF/container.xml"))
        rootfile = container.find(".//c:rootfile", _OPF_NS)
        opf_path = rootfile.get("full-path", "") if rootfile is not None else ""
        if opf_path not in names:
            raise ImportRejected("bad_archive", "epub 文件缺少内容清单（OPF）")
        opf = ElementTree.fromstring(archive.read(opf_path))
        base = posixpath.dirname(opf_path)
        manifest = {
            item.get("id"): posixpath.normpath(posixpath.join(base, item.get("href", "")))
            for item in opf.iterfind(".//opf:manifest/opf:item", _OPF_NS)
        }
        chapters = []
        for ref in opf.iterfind(".//opf:spine/opf:itemref", _OPF_NS):
            path = manifest.get(ref.get("idref"))
            if path is None or path not in names:
                continue
            try:
                xhtml = archive.read(path).decode("utf-8")
            except UnicodeDecodeError:
                raise ImportRejected("bad_archive", "epub 文件已损坏：章节不是有效的 UTF-8 文本") from None
            parser = _HtmlText()
            parser.feed(xhtml)
            chapters.append(parser.text())
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
