"""Rendering (pure): jinja2 templates, with the CSS of HTML email templates inlined once at load time.

Inlining per email costs ~35x a render, so premailer runs on the template
source once; jinja tags are swapped for inert placeholders first, because
premailer's HTML parser would mangle `{{ }}` in attributes and move `{% %}`
out of tables. Per-row selectors (`:nth-child`) cannot be inlined this way:
the templates avoid them.

A paper's block is rendered once for every reader (Fragments), yet its vote links carry
the reader's signed link: the block holds VOTE_BASE in its place, and `with_votes` puts the
digest's link there (one str.replace per block, not a render per reader).
"""

from __future__ import annotations

import re
import textwrap
from functools import cache, lru_cache
from pathlib import Path
from collections.abc import Callable
from typing import Any

from jinja2 import (
    Environment,
    FileSystemLoader,
    StrictUndefined,
    Template,
    select_autoescape,
)

from bot.config import TEMPLATES_DIR
from bot.digest.assembly import paper_url, vote_url
from bot.digest.generations import TwoGenerations

_JINJA_TAG = re.compile(r"{{.*?}}|{%.*?%}|{#.*?#}", re.DOTALL)
_PARTIAL_INCLUDE = re.compile(r'{%\s*include\s+"(email/_[\w.-]+)"\s*%}')
_PLACEHOLDER = re.compile(r"PPJINJA(\d+)X|<!--PPJINJA(\d+)-->")
# Where a cached paper block's vote links start; never a real address (.invalid, RFC 2606).
VOTE_BASE = "https://vote.paperpost.invalid/PPVOTE"


def inline_css(html: str) -> str:
    """Move <style> rules into style attributes (media queries stay in a <style> block).

    The one place that knows the inliner: swap it here for a faster one. Imported
    here, not at the top: it is slow to import and only template loading needs it.
    """
    import premailer

    return premailer.transform(
        html, strip_important=False, keep_style_tags=True, remove_classes=False,
        disable_validation=True, cssutils_logging_level="CRITICAL", allow_network=False,
    )


def inline_template_source(source: str) -> str:
    """Inline the CSS of a jinja HTML template without touching its tags."""
    tags: list[str] = []

    def protect(match: re.Match[str]) -> str:
        tags.append(match.group(0))
        n = len(tags) - 1
        # Block tags become comments (legal anywhere, even between <tr>s); output tags become words.
        return f"<!--PPJINJA{n}-->" if match.group(0).startswith(("{%", "{#")) else f"PPJINJA{n}X"

    inlined = inline_css(_JINJA_TAG.sub(protect, source))
    restored = _PLACEHOLDER.sub(lambda m: tags[int(m.group(1) or m.group(2))], inlined)
    leftover = _PLACEHOLDER.search(restored)
    if leftover or len(_JINJA_TAG.findall(restored)) != len(tags):
        raise ValueError("the CSS inliner changed the template's jinja tags")
    return restored


@lru_cache(maxsize=8192)
def wrap(text: str, width: int = 76, indent: str = "   ") -> str:
    """`text` filled to `width` columns (cached: the same paper is wrapped for every subscriber who gets it).

    Exactly `textwrap.fill`; text without hyphens or over-long words (most snippets and reasons)
    is filled word by word, several times faster than textwrap's regular expressions.
    """
    words = text.split()
    room = width - len(indent)
    if "-" in text or any(len(word) > room for word in words):
        return textwrap.fill(" ".join(words), width=width, initial_indent=indent, subsequent_indent=indent)
    lines: list[str] = []
    line = ""
    for word in words:
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= room:
            line = f"{line} {word}"
        else:
            lines.append(indent + line)
            line = word
    if line:
        lines.append(indent + line)
    return "\n".join(lines)


def with_votes(block: str, vote_base: str) -> str:
    """A cached paper block with the digest's vote link in place of VOTE_BASE (escaped in HTML: Markup.replace)."""
    return block.replace(VOTE_BASE, vote_base)


def plain_segments(segments: object) -> str:
    """Highlighted segments as plain text, matched words in *stars*."""
    return "".join(f"*{text}*" if hit else text for text, hit in segments)  # type: ignore[attr-defined]


class Fragments:
    """Rendered pieces of messages, kept by what they show: a paper's block in a digest is rendered once
    per (paper, highlights, reason) for every reader who gets that same block, not once per reader.

    Templates call `fragment(name, macro, item)`; `item.fragment_key` says what the block shows.
    """

    def __init__(self, limit: int = 20_000) -> None:  # some 50 MB at most
        self._made: TwoGenerations[Any] = TwoGenerations(limit)

    def __call__(self, name: str, macro: Callable[[Any], Any], item: Any) -> Any:
        key = (name, item.fragment_key)
        made = self._made.get(key)
        if made is None:
            made = macro(item)
            self._made.put(key, made)
        return made


class Renderer:
    """Loads templates once (HTML email templates inlined), renders them many times."""

    def __init__(self, templates_dir: Path = TEMPLATES_DIR):
        self.env = Environment(
            loader=FileSystemLoader(str(templates_dir)),
            autoescape=select_autoescape(["html"]),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        self.env.filters["paper_url"] = paper_url
        self.env.filters["wrap"] = wrap
        self.env.filters["plain_segments"] = plain_segments
        self.env.filters["vote_url"] = vote_url
        self.env.filters["with_votes"] = with_votes
        self.env.globals["VOTE_BASE"] = VOTE_BASE
        self.env.globals["fragment"] = Fragments()
        self._templates_dir = templates_dir

    @cache  # noqa: B019 - one Renderer per process; templates are immutable while it runs
    def template(self, name: str) -> Template:
        if name.startswith("email/") and name.endswith(".html"):
            source = self._expand_partials((self._templates_dir / name).read_text(encoding="utf-8"))
            return self.env.from_string(inline_template_source(source))
        return self.env.get_template(name)

    def _expand_partials(self, source: str) -> str:
        """Put the shared email parts (`email/_*`: stylesheet, frame) in place: the inliner must see them whole."""
        def part(match: re.Match[str]) -> str:
            text = (self._templates_dir / match.group(1)).read_text(encoding="utf-8").rstrip("\n")
            return self._expand_partials(text)  # a part may hold parts (the frame holds the stylesheet)

        return _PARTIAL_INCLUDE.sub(part, source)

    def render(self, name: str, **context: Any) -> str:
        return self.template(name).render(**context)

    def render_email(self, name: str, **context: Any) -> tuple[str, str]:
        """(text, html) of `email/NAME.txt` and `email/NAME.html`."""
        return self.render(f"email/{name}.txt", **context), self.render(f"email/{name}.html", **context)
