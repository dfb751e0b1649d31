"""The words of a text as matching sees them: folded tokens with spans into the displayed text.

Folding is case- and accent-insensitive (NFKD, marks stripped, casefold); a word is a run of
letters and digits, so hyphens, slashes and TeX/HTML punctuation separate words. TeX accents
(`Sch\\"olkopf`), HTML entities and inline tags left in a text are neutralised WITHOUT changing
its length, so every token keeps its offsets into the original string for highlighting.
Plurals: `keys(word)` gives the word and its possible singulars; two words match when their
keys intersect (model ~ models, query ~ queries, process ~ processes), and nothing more.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

Token = tuple[str, int, int]  # folded word, start, end (offsets into the original text)

# A combining grapheme joiner is a mark: it glues a replaced accent or entity to its word
# and folds away, so replacements keep the text's length and the word's unity.
_PAD = "\u034f"
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
_WORD = re.compile(rf"(?:[^\W_]|[{_MARKS}])+")
_PART = re.compile(r"[^\W_]+")
_MARKUP = re.compile(r"[\\<&]")
_TEX_ACCENT = re.compile(
    r"\{?\\(?:[\"'`^~=.]\s*\{?([A-Za-z])\}?|[vuHcdbkr]\s*\{([A-Za-z])\})\}?"
)
_TEX_FORMAT = re.compile(
    r"\\(?:math(?:bf|rm|it|cal|bb|sf|tt|frak)|text(?:bf|it|rm|tt|sc|sf)?|emph|operatorname"
    r"|boldsymbol|cite[pt]?|ref|label|url|href|left|right|mbox|hbox)(?![A-Za-z])"
)
_HTML_TAG = re.compile(
    r"</?(?:i|b|em|strong|sub|sup|br|p|span|a|div|tt|code|u|s|small|big|font|li|ul|ol"
    r"|math|mi|mo|mn|mrow|msub|msup|mfrac)\b[^<>]{0,200}>",
    re.IGNORECASE,
)
_ENTITY = re.compile(r"&(?:#\d{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z]{2,10}\d?);")
# Letters that NFKD does not decompose but that readers consider accented forms.
_EXTRA = str.maketrans({"ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "đ": "d", "Đ": "d",
                        "æ": "ae", "Æ": "ae", "œ": "oe", "Œ": "oe", "ı": "i", "ð": "d"})


def _keep_length(replacement: str, length: int) -> str:
    """Pad a one-character replacement with joiners up to `length` so offsets do not move."""
    return replacement + _PAD * (length - len(replacement))


def _entity(m: re.Match[str]) -> str:
    """Replace one HTML entity by its character (a letter joins its word, anything else splits)."""
    char = html.unescape(m.group())
    if len(char) == 1 and char.isalnum():
        return _keep_length(char, len(m.group()))
    return " " * len(m.group())


def _accent(m: re.Match[str]) -> str:
    """Replace a TeX accent command by its base letter (the accent would be folded away anyway)."""
    return _keep_length(m.group(1) or m.group(2), len(m.group()))


def unmarkup(text: str) -> str:
    """Neutralise TeX accents, TeX formatting commands, HTML tags and entities, keeping the length."""
    if not _MARKUP.search(text):
        return text
    text = _TEX_ACCENT.sub(_accent, text)
    text = _TEX_FORMAT.sub(lambda m: " " * len(m.group()), text)
    text = _HTML_TAG.sub(lambda m: " " * len(m.group()), text)
    return _ENTITY.sub(_entity, text)


@lru_cache(maxsize=100_000)
def fold(raw: str) -> tuple[str, ...]:
    """Fold one raw word (case, accents, compatibility forms) into the word(s) it stands for."""
    if raw.isascii():
        return (raw.lower(),)
    decomposed = unicodedata.normalize("NFKD", raw.translate(_EXTRA))
    bare = "".join(c for c in decomposed if not unicodedata.category(c).startswith("M"))
    return tuple(_PART.findall(bare.casefold()))


def tokenize(text: str) -> list[Token]:
    """Split a displayed text into folded words, each with its span in `text`."""
    clean = unmarkup(text)
    out: list[Token] = []
    for m in _WORD.finditer(clean):
        start, end = m.span()
        for word in fold(m.group()):
            out.append((word, start, end))
    return out


def words(text: str) -> list[str]:
    """The folded words of a text, without spans (for query terms)."""
    if text.isascii() and text.isalnum():  # most query words: one word, folded by lower() (what tokenize gives)
        return [text.lower()]
    return [w for w, _, _ in tokenize(text)]


@lru_cache(maxsize=200_000)
def keys(word: str) -> tuple[str, ...]:
    """The word itself and its possible singulars: words match when their keys intersect.

    Only a final `s` of a word of three letters or more is considered, never `ss`, `us`, `is`
    (process, corpus, analysis): `queries` -> query/querie, `processes` -> processe/process,
    `models` -> model. No other stemming.
    """
    if len(word) < 3 or word[-1] != "s" or word.endswith(("ss", "us", "is")):
        return (word,)
    if word.endswith("ies"):
        return (word, word[:-3] + "y", word[:-1])
    if word.endswith("es"):
        return (word, word[:-1], word[:-2])
    return (word, word[:-1])


def same_word(a: str, b: str) -> bool:
    """Whether two folded words match (equal, or one is a simple plural of the other)."""
    return a == b or not set(keys(a)).isdisjoint(keys(b))
