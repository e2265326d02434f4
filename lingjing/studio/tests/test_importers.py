from __future__ import annotations

import io
import zipfile

import pytest

from lingjing.studio.importers import (
    MAX_ARCHIVE_MEMBERS,
    MAX_UPLOAD_BYTES,
    ImportRejected,
    decode_text,
    extract_text,
    split_chapters,
)

STORY = "第一章 夜雨\n李明走进茶馆，王芳笑道：「你来了。」\n第二章 西湖\n两人来到西湖边。"


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk", "gb18030", "utf-16"])
def test_text_encodings_are_detected(encoding: str) -> None:
    assert extract_text("story.txt", STORY.encode(encoding)) == STORY


def test_gb18030_only_characters_survive() -> None:
    text = STORY + "\n䶮𠀀这些字不在 GBK 里。"  # a CJK Ext-A and an Ext-B character
    assert decode_text(text.encode("gb18030")) == text


@pytest.mark.parametrize("text", ["今天天气很好", "他说：「你好」", "第一章 少年", "少年站在山頂上，望著遠處的城市。"])
def test_short_gbk_texts_read_as_chinese(text: str) -> None:
    """charset-normalizer alone read these as Korean (cp949) or Japanese (cp932)."""
    assert decode_text(text.encode("gb18030")) == text


@pytest.mark.parametrize(
    ("text", "encoding"),
    [
        ("대한민국은 민주공화국이다. 대한민국의 주권은 국민에게 있고, 모든 권력은 국민으로부터 나온다.", "euc-kr"),
        ("吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗い所で泣いていた。", "shift_jis"),
        ("少年站在山頂上，望著遠處的城市。他說：「我一定會回來的。」風吹過他的臉。", "big5"),
    ],
)
def test_other_code_pages_that_decode_as_gb18030_are_not_taken_for_chinese(text: str, encoding: str) -> None:
    assert decode_text(text.encode(encoding)) == text


def test_crlf_and_bom_are_normalised() -> None:
    assert extract_text("a.txt", "\ufeff第一章\r\n正文\r\n".encode()) == "第一章\n正文"


def test_binary_and_unsupported_files_are_refused() -> None:
    with pytest.raises(ImportRejected) as info:
        extract_text("a.txt", b"\x00\x01\x02binary")
    assert info.value.code == "not_text"
    with pytest.raises(ImportRejected) as info:
        extract_text("a.pdf", b"%PDF-1.7")
    assert info.value.code == "unsupported" and "txt" in info.value.message


def test_huge_file_is_refused_before_reading() -> None:
    with pytest.raises(ImportRejected) as info:
        extract_text("big.txt", b"a" * (MAX_UPLOAD_BYTES + 1))
    assert info.value.code == "too_large" and "5 MiB" in info.value.message


def test_markdown_headings_split_and_markup_is_dropped() -> None:
    md = "# 第一幕\n**李明**走进[茶馆](http://x)。\n![图](a.png)\n## 第二幕\n> 王芳说：「好。」"
    text = extract_text("s.md", md.encode())
    assert "http" not in text and "**" not in text and "![" not in text
    chapters = split_chapters(text)
    assert [c.title for c in chapters] == ["第一幕", "第二幕"]
    assert chapters[0].text == "李明走进茶馆。"


def test_chapters_by_heading_styles_and_budget() -> None:
    text = "序言在这里。\n第一回 风起\n甲。\nChapter 2 The Lake\n乙。\n第十二章：终局\n" + "很长的一句话。" * 300
    chapters = split_chapters(text, budget=500)
    titles = [c.title for c in chapters]
    assert titles[:3] == ["正文", "第一回 风起", "Chapter 2 The Lake"]
    assert titles[3] == "第十二章：终局" and titles[4] == "第十二章：终局（2）"
    assert all(len(c.text) <= 500 for c in chapters)
    assert "".join(c.text for c in chapters[3:]).replace("\n", "") == "很长的一句话。" * 300


def _docx() -> bytes:
    import docx

    document = docx.Document()
    document.add_heading("第一章 夜雨", level=1)
    document.add_paragraph("李明走进茶馆。")
    document.add_heading("第二章 西湖", level=1)
    document.add_paragraph("两人来到西湖边。")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def test_docx_paragraphs_and_headings() -> None:
    text = extract_text("story.docx", _docx())
    chapters = split_chapters(text)
    assert [(c.title, c.text) for c in chapters] == [
        ("第一章 夜雨", "李明走进茶馆。"),
        ("第二章 西湖", "两人来到西湖边。"),
    ]


def _epub(chapters: list[tuple[str, str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("mimetype", "application/epub+zip")
        z.writestr("META-INF/container.xml", (
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>"))
        items = "".join(f'<item id="c{i}" href="text/c{i}.xhtml" media-type="application/xhtml+xml"/>'
                        for i in range(len(chapters)))
        # the spine lists the chapters in reverse of the manifest: reading order must follow the spine
        spine = "".join(f'<itemref idref="c{i}"/>' for i in range(len(chapters)))
        z.writestr("OEBPS/content.opf", (
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0">'
            f"<manifest>{items}</manifest><spine>{spine}</spine></package>"))
        for i, (title, body) in enumerate(chapters):
            z.writestr(f"OEBPS/text/c{i}.xhtml", (
                '<?xml version="1.0" encoding="utf-8"?><html xmlns="http://www.w3.org/1999/xhtml"><head>'
                f"<title>ignored</title><style>p{{}}</style></head><body><h1>{title}</h1><p>{body}</p>"
                "<p>第二段&amp;结束。</p></body></html>"))
    return buffer.getvalue()


def test_epub_follows_the_spine() -> None:
    text = extract_text("book.epub", _epub([("第一章 夜雨", "李明走进茶馆。"), ("第二章 西湖", "两人来到西湖边。")]))
    chapters = split_chapters(text)
    assert [c.title for c in chapters] == ["第一章 夜雨", "第二章 西湖"]
    assert chapters[0].text == "李明走进茶馆。\n第二段&结束。"
    assert "ignored" not in text


def test_zip_bomb_is_refused_without_inflating() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"\0" * (30 * 1024 * 1024))  # ~30 KiB compressed, 30 MiB inflated
    assert len(buffer.getvalue()) < 200_000
    for name in ("bomb.docx", "bomb.epub"):
        with pytest.raises(ImportRejected) as info:
            extract_text(name, buffer.getvalue())
        assert info.value.code == "archive_bomb" and "压缩炸弹" in info.value.message


def test_archive_with_too_many_members_is_refused() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        for i in range(MAX_ARCHIVE_MEMBERS + 1):
            z.writestr(f"m{i}", b"")
    with pytest.raises(ImportRejected) as info:
        extract_text("many.epub", buffer.getvalue())
    assert info.value.code == "archive_too_complex"


def test_broken_archives_get_a_clear_message() -> None:
    with pytest.raises(ImportRejected) as info:
        extract_text("x.docx", b"PK\x03\x04 not really")
    assert info.value.code == "bad_archive" and "docx" in info.value.message
