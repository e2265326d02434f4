"""A readable, sanitised diff between two policy versions (difflib over the text, nh3 over the result)."""

from __future__ import annotations

import difflib
from html.parser import HTMLParser

import nh3

_BLOCKS = {"p", "li", "h1", "h2", "h3", "h4", "tr", "dt", "dd", "section", "article", "div", "br", "table",
           "blockquote", "ul", "ol"}


class _TextLines(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []

    def _flush(self) -> None:
        line = " ".join("".join(self.current).split())
        if line:
            self.lines.append(line)
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _BLOCKS:
            self._flush()
        elif tag in ("td", "th"):
            self.current.append(" | ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _BLOCKS:
            self._flush()

    def handle_data(self, data: str) -> None:
        self.current.append(data)


def text_lines(html: str) -> list[str]:
    parser = _TextLines()
    parser.feed(html)
    parser.close()
    parser._flush()
    return parser.lines


ALLOWED_TAGS = {"table", "colgroup", "thead", "tbody", "tr", "th", "td", "span", "a"}
ALLOWED_ATTRS = {"*": {"class", "id"}, "td": {"nowrap"}, "th": {"colspan"}, "a": {"href"}}


def policy_diff(old_html: str, new_html: str, old_label: str, new_label: str) -> str:
    """Side-by-side HTML table of the changes, with 3 lines of context; safe to insert in a page."""
    table = difflib.HtmlDiff(wrapcolumn=60).make_table(
        text_lines(old_html), text_lines(new_html), old_label, new_label, context=True, numlines=3
    )
    return nh3.clean(table, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRS, link_rel=None,
                     url_schemes=set(), strip_comments=True)


def changed_line_count(old_html: str, new_html: str) -> int:
    diff = difflib.ndiff(text_lines(old_html), text_lines(new_html))
    return sum(1 for line in diff if line.startswith(("+ ", "- ")))
