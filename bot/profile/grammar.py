"""The profile language: a tokenizer and a recursive-descent parser from one interest to a tree.

    interest := or
    or       := and ("OR" and)*
    and      := unary (["AND"] unary)*
    unary    := ("-" | "NOT") primary | primary
    primary  := FIELD ":" (word | phrase | "(" or ")") | "(" or ")" | phrase | word | "is:trending" | "like:" PAPER

`OR`, `AND`, `NOT` are operators only in upper case (`or` is a word). A minus sign or a
dash look-alike (`lookalikes.DASHES`: `−`, `–`, `—`...) is read as `-`. User text is never
turned into a regex. Every error is a QueryError naming the problem and its 1-based column.

`like:PAPER` takes any stored id form (`like:2401.12345`, `like:arxiv:2401.12345v2`, an arXiv
link; other ids as stored, e.g. `like:doi:10.1/x`), arXiv ids made canonical as bot/ids.py does.
It is not allowed inside a field (`ti:like:...`: a paper is alike as a whole). Whether the
paper is stored is not the grammar's business (it is pure): `unknown_liked` checks a profile
against the stored ids, with the column of each unknown one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence, Set as AbstractSet
from dataclasses import dataclass
from functools import lru_cache

from bot.errors import QueryError
from bot.ids import find_arxiv_id
from bot.profile.lookalikes import MINUS_SIGNS
from bot.profile.nodes import (And, Field, FieldName, Like, Node, Not, Or, Phrase, Prefix, Term, Trending, is_positive,
                               leaves)
from bot.profile.words import words

MAX_INTEREST_CHARS = 300
MAX_TERMS_PER_INTEREST = 20
MAX_INTERESTS = 50
MAX_TERMS_PER_PROFILE = 150
MAX_DEPTH = 10
MIN_PREFIX = 3

FIELDS: dict[str, FieldName] = {"ti": "ti", "abs": "abs", "au": "au", "cat": "cat"}
_QUOTES = '"\u201c\u201d'
_WORD_RUN = re.compile(f"[^ \t\r\n(){_QUOTES}]+")  # a bare word runs to a space, a bracket or a quote
_FIELD = re.compile(r"([A-Za-z]+):")


@dataclass(frozen=True)
class _Tok:
    kind: str  # word, phrase, lp, rp, or, and, not, minus, field, trending, like
    text: str
    col: int  # 1-based column of the token's first character


def _lex(line: str) -> list[_Tok]:
    """Cut one interest into tokens; quotes and dashes are checked here."""
    toks: list[_Tok] = []
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        col = i + 1
        if c.isspace():
            i += 1
        elif c in "()":
            toks.append(_Tok("lp" if c == "(" else "rp", c, col))
            i += 1
        elif c in _QUOTES:
            end = next((j for j in range(i + 1, n) if line[j] in _QUOTES), -1)
            if end < 0:
                raise QueryError("unclosed quote", col)
            toks.append(_Tok("phrase", line[i + 1:end], col))
            i = end + 1
        elif c in MINUS_SIGNS and (i + 1 >= n or line[i + 1].isspace()):
            raise QueryError(f"'{c}' needs a term right after it", col)
        elif c in MINUS_SIGNS:
            toks.append(_Tok("minus", "-", col))
            i += 1
        else:
            j = _WORD_RUN.match(line, i).end()  # type: ignore[union-attr] # c itself is not a stop character
            toks.extend(_word_tokens(line[i:j], col))
            i = j
    return toks


def _word_tokens(word: str, col: int) -> list[_Tok]:
    """Classify one bare word: operator, field prefix, `is:trending`, or a plain word."""
    if word in ("OR", "AND", "NOT"):
        return [_Tok(word.lower(), word, col)]
    m = _FIELD.match(word)
    if not m:
        return [_Tok("word", word, col)]
    name, rest = m.group(1).lower(), word[m.end():]
    if name == "is":
        if rest.lower() != "trending":
            raise QueryError(f"unknown '{word}' (the only one is is:trending)", col)
        return [_Tok("trending", word, col)]
    if name == "like":
        if not rest:
            raise QueryError("'like:' needs a paper id right after it (like:2401.12345)", col)
        return [_Tok("like", paper_id(rest), col)]
    if name not in FIELDS:
        raise QueryError(f"unknown field '{m.group()}' (use ti:, abs:, au:, cat:, like: or is:trending)", col)
    if rest[:1] in MINUS_SIGNS:
        raise QueryError(f"'{name}:' needs a word, a phrase or a group right after it "
                         f"(to exclude, write -{name}:{rest[1:]})", col)
    field = _Tok("field", name, col)
    return [field, *_word_tokens(rest, col + m.end())] if rest else [field]


class _Parser:
    """Recursive descent over the tokens of one interest."""

    def __init__(self, toks: list[_Tok]):
        self.toks = toks
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def parse(self) -> Node:
        node = self.or_(0, None)
        extra = self.peek()
        if extra is not None:  # only a stray ')' stops the top level early
            raise QueryError("unexpected ')'", extra.col)
        return node

    def or_(self, depth: int, field: FieldName | None) -> Node:
        items = [self.and_(depth, field)]
        while (tok := self.peek()) is not None and tok.kind == "or":
            self.take()
            nxt = self.peek()
            if nxt is None or nxt.kind in ("rp", "or", "and"):
                raise QueryError("OR needs a term on both sides", tok.col)
            items.append(self.and_(depth, field))
        return _flat(Or, items)

    def and_(self, depth: int, field: FieldName | None) -> Node:
        items: list[Node] = []
        while (tok := self.peek()) is not None and tok.kind not in ("rp", "or"):
            if tok.kind == "and":
                self.take()
                nxt = self.peek()
                if not items or nxt is None or nxt.kind in ("rp", "or", "and"):
                    raise QueryError("AND needs a term on both sides", tok.col)
                continue
            items.append(self.unary(depth, field))
        if not items:
            tok = self.peek()
            if tok is not None and tok.kind == "or":
                raise QueryError("OR needs a term on both sides", tok.col)
            if tok is not None and depth == 0:
                raise QueryError("unexpected ')'", tok.col)
            raise QueryError("the interest is empty")  # unreachable for non-empty input
        return _flat(And, items)

    def unary(self, depth: int, field: FieldName | None) -> Node:
        tok = self.peek()
        if tok is not None and tok.kind in ("minus", "not"):
            self.take()
            nxt = self.peek()
            if nxt is not None and nxt.kind in ("minus", "not"):
                raise QueryError("a term cannot be excluded twice", nxt.col)
            if nxt is None or nxt.kind in ("rp", "or", "and"):
                what = "NOT needs a term after it" if tok.kind == "not" else "'-' needs a term right after it"
                raise QueryError(what, tok.col)
            return Not(self.primary(depth, field))
        return self.primary(depth, field)

    def primary(self, depth: int, field: FieldName | None) -> Node:
        tok = self.take()
        if tok.kind == "field":
            name = FIELDS[tok.text]
            nxt = self.peek()
            if nxt is None or nxt.col != tok.col + len(tok.text) + 1 or nxt.kind not in ("word", "phrase", "lp"):
                raise QueryError(f"'{tok.text}:' needs a word, a phrase or a group right after it", tok.col)
            if field is not None:
                raise QueryError(f"'{tok.text}:' cannot be used inside '{field}:'", tok.col)
            return Field(name, self.primary(depth, name))
        if tok.kind == "lp":
            if depth + 1 > MAX_DEPTH:
                raise QueryError("parentheses nested too deeply", tok.col)
            nxt = self.peek()
            if nxt is not None and nxt.kind == "rp":
                raise QueryError("empty parentheses", tok.col)
            inner = self.or_(depth + 1, field)
            close = self.peek()
            if close is None or close.kind != "rp":
                raise QueryError("unclosed '('", tok.col)
            self.take()
            return inner
        if tok.kind == "trending":
            return Trending()
        if tok.kind == "like":
            if field is not None:
                raise QueryError(f"'like:' cannot be used inside '{field}:' (a paper is alike as a whole)", tok.col)
            return Like(tok.text)
        if tok.kind == "phrase":
            return _phrase(tok, field)
        if tok.kind == "word":
            return _word(tok, field)
        raise QueryError(f"unexpected '{tok.text}'", tok.col)


def paper_id(text: str) -> str:
    """A paper id as stored: arXiv ids in any form become `arxiv:ID` (no version); other ids stay as written."""
    found = find_arxiv_id(text)
    return found[0] if found else text


def _flat(kind: type[And | Or], items: list[Node]) -> Node:
    """One item stands alone; nested nodes of the same kind are merged."""
    merged: list[Node] = []
    for item in items:
        merged.extend(item.items if isinstance(item, kind) else (item,))
    return merged[0] if len(merged) == 1 else kind(tuple(merged))


def _phrase(tok: _Tok, field: FieldName | None) -> Node:
    text = " ".join(tok.text.split())
    if field == "cat":
        if not text:
            raise QueryError("empty quotes", tok.col)
        return Term(text, text.casefold())
    folded = words(text)
    if not folded:
        raise QueryError("empty quotes" if not text else f"'{text}' has no letters or digits", tok.col)
    return Term(text, folded[0]) if len(folded) == 1 else Phrase(text, tuple(folded))


def _word(tok: _Tok, field: FieldName | None) -> Node:
    text = tok.text
    star = text.find("*")
    if star >= 0 and star != len(text) - 1:
        raise QueryError("'*' can only end a word", tok.col + star)
    if field == "cat":
        value = text.casefold()
        return Prefix(text, value[:-1]) if star >= 0 else Term(text, value)
    folded = words(text[:-1] if star >= 0 else text)
    if not folded:
        raise QueryError(f"'{text}' has no letters or digits", tok.col)
    if star >= 0:
        if len(folded) > 1:
            raise QueryError(f"'*' works on a single word, not '{text}'", tok.col)
        if len(folded[0]) < MIN_PREFIX:
            raise QueryError(f"a prefix needs at least {MIN_PREFIX} letters before '*'", tok.col)
        return Prefix(text, folded[0])
    return Term(text, folded[0]) if len(folded) == 1 else Phrase(text, tuple(folded))


_PLAIN = re.compile(r"[A-Za-z0-9]+(?: [A-Za-z0-9]+)*")
_OPERATOR_WORDS = frozenset(("OR", "AND", "NOT"))


def _plain_words(line: str) -> Node | None:
    """The tree of the commonest interest, plain ASCII words ANDed (`reward model`), without the parser; else None.

    Gives exactly what `_parse_general` gives for such a line (a property test checks it): an import
    of 100,000 people spends most of its time here.
    """
    if len(line) > MAX_INTEREST_CHARS or not _PLAIN.fullmatch(line):
        return None
    parts = line.split(" ")
    if len(parts) > MAX_TERMS_PER_INTEREST or not _OPERATOR_WORDS.isdisjoint(parts):
        return None
    terms = [Term(part, part.lower()) for part in parts]
    return terms[0] if len(terms) == 1 else And(tuple(terms))


def _parse(line: str) -> Node:
    """Parse one interest into a tree; raise QueryError with the problem and its column."""
    plain = _plain_words(line)
    return plain if plain is not None else _parse_general(line)


def _parse_general(line: str) -> Node:
    """Parse any interest with the tokenizer and the recursive-descent parser."""
    if not line.strip():
        raise QueryError("the interest is empty")
    if len(line) > MAX_INTEREST_CHARS:
        raise QueryError(f"an interest is limited to {MAX_INTEREST_CHARS} characters (this one has {len(line)})")
    node = _Parser(_lex(line)).parse()
    count = len(leaves(node))
    if count > MAX_TERMS_PER_INTEREST:
        raise QueryError(f"an interest is limited to {MAX_TERMS_PER_INTEREST} terms (this one has {count})")
    if not is_positive(node):
        if isinstance(node, Or):
            raise QueryError("each side of OR needs a term to look for, not only exclusions")
        raise QueryError("an interest needs at least one term that is not excluded")
    return node


# Trees are immutable; rebuilding an index re-reads the same lines. Checking a form or an
# import parses with `_parse` instead: 100,000 imported people must not fill this cache.
parse_interest = lru_cache(maxsize=200_000)(_parse)


def parse_profile(lines: Sequence[str], parse: Callable[[str], Node] = parse_interest
                  ) -> tuple[list[tuple[int, str, Node]], list[tuple[int, QueryError]]]:
    """Parse a profile (one interest per line): the good interests and the errors, by line number.

    Blank lines are ignored. Interests past the profile's limits (count, terms in all) are errors.
    """
    good: list[tuple[int, str, Node]] = []
    bad: list[tuple[int, QueryError]] = []
    terms = 0
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line:
            continue
        try:
            node = parse(raw.rstrip())  # leading spaces kept: columns count in the line as typed
        except QueryError as exc:
            bad.append((number, exc))
            continue
        count = len(leaves(node))
        if len(good) >= MAX_INTERESTS:
            bad.append((number, QueryError(f"a profile is limited to {MAX_INTERESTS} interests")))
        elif terms + count > MAX_TERMS_PER_PROFILE:
            bad.append((number, QueryError(
                f"a profile is limited to {MAX_TERMS_PER_PROFILE} terms in all (this line brings it to {terms + count})")))
        else:
            terms += count
            good.append((number, line, node))
    return good, bad


def check_interests(lines: Sequence[str]) -> list[tuple[int, QueryError]]:
    """The errors of a profile as (line number, error), for forms and imports; [] when all is well."""
    return parse_profile(lines, _parse)[1]


def liked_columns(line: str) -> list[tuple[str, int]]:
    """(paper id, column) of each `like:` of a well-formed interest, left to right."""
    if "like:" not in line.casefold():
        return []
    return [(tok.text, tok.col) for tok in _lex(line) if tok.kind == "like"]


def papers_liked_in(lines: Iterable[str]) -> set[str]:
    """The paper ids every `like:` of these interests names; a line that does not parse names none."""
    return {paper for line in lines for paper, _ in _liked_or_none(line)}


def _liked_or_none(line: str) -> list[tuple[str, int]]:
    try:
        return liked_columns(line.rstrip())
    except QueryError:  # left to check_interests, which names the problem
        return []


def unknown_liked(lines: Sequence[str], stored: AbstractSet[str]) -> list[tuple[int, QueryError]]:
    """(line number, error with its column) for each `like:` of a profile naming a paper not in `stored`.

    Lines that do not parse are left to `check_interests`. Collect the ids to look up with `papers_liked_in`.
    """
    bad: list[tuple[int, QueryError]] = []
    for number, raw in enumerate(lines, start=1):
        for paper, col in _liked_or_none(raw):
            if paper not in stored:
                bad.append((number, QueryError(f"no stored paper is {paper} (like: names a paper we have; "
                                               "see `paperpost papers`)", col)))
    return bad
