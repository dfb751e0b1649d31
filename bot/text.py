"""Display cleaning of feed text: whitespace, TeX, HTML, mojibake and author lists (pure)."""

from __future__ import annotations

import html
import re
import unicodedata
from html.parser import HTMLParser

from pylatexenc.latex2text import LatexNodes2Text

__all__ = [
    "collapse_whitespace",
    "strip_html",
    "tex_to_text",
    "repair_mojibake",
    "clean_text",
    "split_authors",
]

_WS = re.compile(r"\s+")
# Text from a UTF-8 body decoded as Latin-1/cp1252 shows "Ã" or "Â" before a
# continuation byte; only then is a repair attempted.
_MOJIBAKE = re.compile("[\u00c2-\u00f4][\u0080-\u00bf\u2018-\u203a\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u20ac\u2122]")
_TEX_HINT = re.compile(r"[\\$~{}]|``|--")
_BARE_PERCENT = re.compile(r"(?<!\\)%")
_BARE_DOLLAR = re.compile(r"(?<!\\)\$")
_URL_MACRO = re.compile(r"\\url\{([^{}]*)\}")
_CODE_MACRO = re.compile(r"\\(texttt|verb)\b")
# A macro followed by a space and a letter: TeX would eat that space ("\log n" -> "logn").
_MACRO_SPACE = re.compile(r"(\\[A-Za-z]+) (?=[A-Za-z0-9(\\])")

_TEXT_TEX = LatexNodes2Text(math_mode="text", strict_latex_spaces=True)

# Accents and special letters are most of the TeX in names and text; doing them
# here keeps pylatexenc (about 10 ms per abstract) for the math and rare macros.
_COMBINING = {"`": "\u0300", "'": "\u0301", "^": "\u0302", "~": "\u0303", "=": "\u0304", "u": "\u0306",
              ".": "\u0307", '"': "\u0308", "r": "\u030a", "H": "\u030b", "v": "\u030c", "d": "\u0323",
              "c": "\u0327", "k": "\u0328", "b": "\u0331"}
_LETTERS = {"o": "ø", "O": "Ø", "ss": "ß", "ae": "æ", "AE": "Æ", "oe": "œ", "OE": "Œ", "aa": "å", "AA": "Å",
            "l": "ł", "L": "Ł", "i": "ı", "j": "ȷ"}
_ACCENT_CORE = r"""\\([`'^~=."]|[uvrHdckb](?=[\s{]))\s*(?:\{\s*([A-Za-z]|\\[ij])\s*\}|([A-Za-z]|\\[ij]))"""
_ACCENTS = (re.compile(r"\{" + _ACCENT_CORE + r"\}"), re.compile(_ACCENT_CORE))
_LETTER = re.compile(r"\{\\(o|O|ss|ae|AE|oe|OE|aa|AA|l|L|i|j)\}|\\(o|O|ss|ae|AE|oe|OE|aa|AA|l|L|i|j)(?:\{\}|(?![A-Za-z]))")
_QUOTES = (("---", "\u2014"), ("--", "\u2013"), ("``", "\u201c"), ("''", "\u201d"), ("~", "\u00a0"))
_STILL_TEX = re.compile(r"[\\{}$]")
_ESCAPED = re.compile(r"\\([%&_#$])")
_STYLE = re.compile(r"\\(?:emph|textit|textbf|textsc|textrm|textsf|texttt|mathrm|text)\{([^{}\\]*)\}")


def _accent(match: re.Match) -> str:
    base = match.group(2) or match.group(3)
    base = {"\\i": "i", "\\j": "j"}.get(base, base)
    return unicodedata.normalize("NFC", base + _COMBINING[match.group(1)])


def _simple_tex(text: str) -> str:
    """Convert accents, special letters, dashes and quotes without a TeX parser."""
    for pattern in _ACCENTS:  # "{\'e}" first, so that its braces go with it
        text = pattern.sub(_accent, text)
    text = _LETTER.sub(lambda m: _LETTERS[m.group(1) or m.group(2)], text)
    text = _STYLE.sub(r"\1", text)
    if not _STILL_TEX.search(_ESCAPED.sub("", text)):
        text = _ESCAPED.sub(r"\1", text)  # only when no other TeX is left for pylatexenc to read
    if "\\" not in text:
        for tex, char in _QUOTES:
            text = text.replace(tex, char)
    return text


def collapse_whitespace(text: str) -> str:
    """Return `text` with every run of whitespace (newlines, tabs, NBSP) made one space, trimmed."""
    return _WS.sub(" ", text).strip()


class _TextCollector(HTMLParser):
    """Collect the character data of an HTML fragment, skipping scripts and styles."""

    _BLOCKS = {"p", "br", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self._BLOCKS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag in self._BLOCKS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def strip_html(text: str) -> str:
    """Return the readable text of an HTML fragment: tags dropped, entities decoded."""
    if "<" not in text and "&" not in text:
        return text
    if "<" not in text:
        return html.unescape(text)
    collector = _TextCollector()
    try:
        collector.feed(text)
        collector.close()
    except Exception:  # html.parser is lenient; this is only a last resort for odd input
        return html.unescape(re.sub(r"<[^>]*>", " ", text))
    return "".join(collector.parts)


def repair_mojibake(text: str) -> str:
    """Undo one round of UTF-8 read as cp1252/Latin-1 ("RamÃ­rez" -> "Ramírez"), if it is that."""
    if not _MOJIBAKE.search(text):
        return text
    for codec in ("cp1252", "latin-1"):
        try:
            return text.encode(codec).decode("utf-8")
        except (UnicodeEncodeError, UnicodeDecodeError):
            continue
    return text


def _math_spans(text: str) -> list[tuple[bool, str]]:
    """Split `text` into (is_math, piece) using Pandoc's rule for `$`, so "$5 and $10" stays text."""
    pieces: list[tuple[bool, str]] = []
    pos = 0
    i = 0
    n = len(text)
    while i < n:
        if text[i] == "$" and (i == 0 or text[i - 1] != "\\"):
            display = text.startswith("$$", i)
            open_len = 2 if display else 1
            start = i + open_len
            if start < n and not text[start].isspace():
                close = _find_math_close(text, start, display)
                if close is not None:
                    if pos < i:
                        pieces.append((False, text[pos:i]))
                    pieces.append((True, text[start:close]))
                    i = pos = close + open_len
                    continue
        i += 1
    if pos < n:
        pieces.append((False, text[pos:]))
    return pieces


def _find_math_close(text: str, start: int, display: bool) -> int | None:
    """Index of the `$` closing math opened before `start`, or None when there is none."""
    delim = "$$" if display else "$"
    j = start
    while True:
        j = text.find(delim, j)
        if j < 0:
            return None
        escaped = text[j - 1] == "\\"
        if not escaped and not text[j - 1].isspace():
            after = j + len(delim)
            if display or after >= len(text) or not text[after].isdigit():
                return j
        j += 1


def _latex(fragment: str, *, math: bool) -> str:
    """Convert one TeX fragment with pylatexenc; bad TeX falls back to the fragment itself."""
    if not math:
        fragment = _simple_tex(fragment)
        if not _STILL_TEX.search(fragment):
            return fragment
    source = _MACRO_SPACE.sub(r"\1{} ", fragment) if math else fragment
    source = _URL_MACRO.sub(lambda m: m.group(1).replace("%", r"\%"), source)
    source = _CODE_MACRO.sub(r"\\textrm", source)
    # "%" starts a TeX comment, which would swallow the rest of a plain-text abstract.
    source = _BARE_PERCENT.sub(r"\\%", source)
    if not math:
        source = _BARE_DOLLAR.sub(r"\\$", source)  # a lone "$" (a price) is text, not math
    try:
        return _TEXT_TEX.latex_to_text(f"${source}$" if math else source)
    except Exception:  # pylatexenc raises many types on broken input; display must not crash
        return fragment


def tex_to_text(text: str) -> str:
    """Return `text` with TeX accents and macros made unicode; `$...$` math kept readable, without `$`."""
    if not _TEX_HINT.search(text):
        return text
    out: list[str] = []
    for is_math, piece in _math_spans(text):
        out.append(_latex(piece, math=is_math))
    return "".join(out)


def clean_text(text: str | None, *, html_markup: bool = True, tex: bool = True) -> str:
    """Return feed text ready for display: mojibake repaired, HTML and TeX made plain, whitespace collapsed."""
    if not text:
        return ""
    value = repair_mojibake(text)
    if html_markup:
        value = strip_html(value)
    if tex:
        value = tex_to_text(value)
    return collapse_whitespace(value)


_SUFFIXES = {"jr", "jr.", "sr", "sr.", "ii", "iii", "iv"}
_AND = re.compile(r",?\s+and\s+|\s*;\s*")


def _drop_parentheses(text: str) -> str:
    """Remove parenthesised groups (affiliations, collaborations), nested ones included."""
    out: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def split_authors(creator: str | None) -> tuple[str, ...]:
    """Split a joined author string ("A, B and C", HTML anchors, TeX accents) into clean names."""
    if not creator:
        return ()
    text = strip_html(repair_mojibake(creator))
    text = _drop_parentheses(text)
    names: list[str] = []
    for chunk in _AND.split(text):
        for raw in chunk.split(","):
            name = collapse_whitespace(tex_to_text(raw))
            if not name:
                continue
            if name.lower() in _SUFFIXES and names:
                names[-1] = f"{names[-1]}, {name}"  # "King, Jr." is one person
            else:
                names.append(name)
    return tuple(names)
