"""A small checker of Telegram's HTML parse mode: the allowed tags, balanced nesting, entities, and the length rule.

Telegram counts a message's length in UTF-16 code units of the text after
entity parsing (tags removed, `&lt;` etc. turned into one character). This is
what the fake Bot API server uses to refuse a message the real one would refuse.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

ALLOWED = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler",
           "span", "blockquote", "tg-emoji"}
NAMED = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
MAX_TEXT = 4096
_TAG = re.compile(r"<(/?)([a-zA-Z-]+)((?:\s+[a-zA-Z-]+(?:=\"[^\"<>]*\"|='[^'<>]*')?)*)\s*>")
_ENTITY = re.compile(r"&(#[0-9]+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


class TelegramHTMLError(ValueError):
    """What Telegram answers with `Bad Request: can't parse entities`."""


@dataclass(frozen=True)
class Parsed:
    text: str  # the visible text
    links: tuple[str, ...]  # the href of every <a>

    @property
    def length(self) -> int:
        return utf16_length(self.text)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def parse(html: str) -> Parsed:
    """The visible text of Telegram HTML; TelegramHTMLError where Telegram would refuse it."""
    out: list[str] = []
    stack: list[str] = []
    links: list[str] = []
    pos = 0
    while pos < len(html):
        char = html[pos]
        if char == "<":
            tag = _TAG.match(html, pos)
            if tag is None:
                raise TelegramHTMLError(f"unescaped '<' at byte offset {pos}")
            closing, name, attrs = tag.group(1), tag.group(2).lower(), tag.group(3)
            if name not in ALLOWED:
                raise TelegramHTMLError(f"unsupported start tag {name!r} at byte offset {pos}")
            if closing:
                if not stack or stack[-1] != name:
                    raise TelegramHTMLError(f"unmatched end tag {name!r} at byte offset {pos}")
                stack.pop()
            else:
                if name == "a":
                    href = re.search(r"href=\"([^\"]*)\"", attrs)
                    if href is None or not re.match(r"https?://|tg://", _unescape(href.group(1))):
                        raise TelegramHTMLError(f"a link without a valid href at byte offset {pos}")
                    links.append(_unescape(href.group(1)))
                stack.append(name)
            pos = tag.end()
        elif char == "&":
            entity = _ENTITY.match(html, pos)
            if entity is None:
                raise TelegramHTMLError(f"unescaped '&' at byte offset {pos}")
            out.append(_entity(entity.group(1), pos))
            pos = entity.end()
        elif char == ">":
            raise TelegramHTMLError(f"unescaped '>' at byte offset {pos}")  # stricter than Telegram: we always escape
        else:
            out.append(char)
            pos += 1
    if stack:
        raise TelegramHTMLError(f"unclosed tag {stack[-1]!r}")
    return Parsed("".join(out), tuple(links))


def _entity(body: str, pos: int) -> str:
    if body.startswith("#x"):
        return chr(int(body[2:], 16))
    if body.startswith("#"):
        return chr(int(body[1:]))
    if body not in NAMED:
        raise TelegramHTMLError(f"unsupported entity &{body}; at byte offset {pos}")
    return NAMED[body]


def _unescape(text: str) -> str:
    return _ENTITY.sub(lambda m: _entity(m.group(1), 0), text)


def check_message(html: str) -> Parsed:
    """Parse `html` and check it against the length limit, as sendMessage does."""
    parsed = parse(html)
    if parsed.length == 0:
        raise TelegramHTMLError("message text is empty")
    if parsed.length > MAX_TEXT:
        raise TelegramHTMLError(f"message is too long ({parsed.length} UTF-16 units)")
    return parsed
