"""Characters that look like the profile language's operators, or like letters of another script (pure).

Text pasted from a word processor or a chat brings `−` (minus sign) or `–` (en dash)
where `-` was meant, and a Cyrillic `О` can hide in `ОR`. Such an interest reads
differently from how it looks. Two answers:
- the dashes and minus signs in `DASHES` are read as `-` by the grammar (`reward −survey`
  excludes *survey*, as it appears to), and so by the reference evaluator and the index;
- `interest_warnings(text)` lists, in plain sentences, what in an interest is not what it
  seems: a dash read as exclusion, an operator spelled with look-alike letters (read as a
  plain word), a word that mixes scripts, look-alike brackets or quotes, invisible characters.
  Warnings never refuse an interest; forms and the CLI show them next to it.
"""

from __future__ import annotations

import re
import unicodedata

__all__ = ["DASHES", "MINUS_SIGNS", "interest_warnings"]

# Dash and minus look-alikes read as "-": hyphen, non-breaking hyphen, figure dash, en dash, em dash,
# horizontal bar, minus sign, heavy minus, small em dash, small hyphen-minus, fullwidth hyphen-minus,
# modifier letter minus, hyphen bullet, superscript and subscript minus, two- and three-em dash.
DASHES = frozenset("\u2010\u2011\u2012\u2013\u2014\u2015\u2212\u2796\ufe58\ufe63\uff0d\u02d7\u2043\u207b\u208b"
                   "\u2e3a\u2e3b")
MINUS_SIGNS = DASHES | {"-"}

_OPERATORS = ("OR", "AND", "NOT")
# Letters of other scripts drawn like the Latin capitals of the operators (and their neighbours).
_SKELETON = str.maketrans({
    "А": "A", "В": "B", "Е": "E", "К": "K", "М": "M", "Н": "H", "О": "O", "Р": "P", "С": "C", "Т": "T",
    "Х": "X", "Ѕ": "S", "І": "I", "Ј": "J", "Α": "A", "Β": "B", "Ε": "E", "Ζ": "Z", "Η": "H", "Ι": "I",
    "Κ": "K", "Μ": "M", "Ν": "N", "Ο": "O", "Ρ": "P", "Τ": "T", "Υ": "Y", "Χ": "X", "Ꭺ": "A", "Ꭰ": "D",
    "Ꮢ": "R", "Ꮇ": "M", "Ꮪ": "S", "Ꭲ": "T", "Ｏ": "O", "Ｒ": "R", "Ａ": "A", "Ｎ": "N", "Ｄ": "D", "Ｔ": "T",
})
# Brackets and quotes that look like the ones the grammar reads, but are not read as such.
_LOOKALIKE_PUNCTUATION = {
    "\uff08": "(", "\uff09": ")", "\u2768": "(", "\u2769": ")", "\u207d": "(", "\u207e": ")", "\u208d": "(",
    "\u208e": ")", "\ufe59": "(", "\ufe5a": ")", "\uff02": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"',
    "\u00ab": '"', "\u00bb": '"', "\u301d": '"', "\u301e": '"',
}
_INVISIBLE = re.compile("[\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180e\u200b-\u200f\u202a-\u202e"
                        "\u2060-\u2064\u2066-\u206f\ufeff]")
_LETTERS = re.compile(r"[^\W\d_]+")
_QUOTED = re.compile(r"[\"\u201c\u201d][^\"\u201c\u201d]*[\"\u201c\u201d]?")
# Scripts that share words by nature: Japanese mixes kanji and kana in one word.
_ONE_WRITING = {"HIRAGANA": "CJK", "KATAKANA": "CJK", "KATAKANA-HIRAGANA": "CJK", "HANGUL": "CJK"}


def _name(char: str) -> str:
    return unicodedata.name(char, f"U+{ord(char):04X}")


def _script(char: str) -> str:
    """The script of a letter as its Unicode name begins (LATIN, CYRILLIC, GREEK, CJK...)."""
    first = _name(char).split(" ", 1)[0]
    return _ONE_WRITING.get(first, first)


def _dash_warnings(text: str) -> list[str]:
    out = []
    for i, char in enumerate(text):
        if char in DASHES and (i == 0 or text[i - 1].isspace() or text[i - 1] == "("):
            out.append(f"column {i + 1}: '{char}' ({_name(char).lower()}) is read as '-': the term after it "
                       "is excluded")
    return out


def _word_warnings(text: str) -> list[str]:
    out = []
    outside_quotes = _QUOTED.sub(lambda m: " " * len(m.group()), text)
    for m in _LETTERS.finditer(text):
        word, col = m.group(), m.start() + 1
        skeleton = unicodedata.normalize("NFKC", word).translate(_SKELETON)
        if word not in _OPERATORS and skeleton in _OPERATORS and outside_quotes[m.start()] != " ":
            odd = "".join(dict.fromkeys(c for c in word if not ("A" <= c <= "Z")))
            out.append(f"column {col}: '{word}' looks like the operator {skeleton} but is read as a plain word "
                       f"(it has {', '.join(_name(c).lower() for c in odd)}); type {skeleton} in Latin capitals")
            continue
        scripts = list(dict.fromkeys(_script(c) for c in word))
        if len(scripts) > 1:
            out.append(f"column {col}: '{word}' mixes {' and '.join(s.title() for s in scripts)} letters, so it "
                       "may not match the word it looks like")
    return out


def _character_warnings(text: str) -> list[str]:
    out = []
    for i, char in enumerate(text):
        meant = _LOOKALIKE_PUNCTUATION.get(char)
        if meant is not None:
            out.append(f"column {i + 1}: '{char}' ({_name(char).lower()}) is not read as {meant}; type {meant}")
    for m in _INVISIBLE.finditer(text):
        out.append(f"column {m.start() + 1}: an invisible character ({_name(m.group()).lower()}) splits or hides "
                   "a word; retype the interest without it")
    return out


def interest_warnings(text: str) -> list[str]:
    """Return what in one interest is not what it seems, as sentences naming the column; [] when nothing is.

    Covers dashes read as exclusion, operators written with look-alike letters (plain words),
    words mixing scripts (a Cyrillic `о` in `mоdel`), look-alike brackets and quotes, and
    invisible characters. Pure and cheap: call it on every interest a person enters.
    """
    if text.isascii():
        return []
    return _dash_warnings(text) + _word_warnings(text) + _character_warnings(text)
